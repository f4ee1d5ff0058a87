#!/usr/bin/env python3
"""Throwaway plugin: prints its argv and session marker, then answers every connection by
echoing one line back (prefixed with "echo "), one connection after another."""

import json
import os
import socket
import sys

path = sys.argv[sys.argv.index("--socket-path") + 1]
print("argv " + json.dumps(sys.argv), flush=True)
print("marker " + os.environ.get("OCTA_CONFORMANCE_SESSION", "<none>"), flush=True)
print("extra " + os.environ.get("EXTRA_VAR", "<none>"), flush=True)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(8)
while True:
    conn, _ = server.accept()
    with conn, conn.makefile("rwb") as stream:
        line = stream.readline()
        stream.write(b"echo " + line)
        stream.flush()
