#!/usr/bin/env python3
"""Hostile plugin: binds its Unix socket (the file exists) but never calls listen().

Every connect() is refused (ECONNREFUSED) although the socket file is there; the harness
must keep retrying only until its connect deadline.
"""

import socket
import sys
import time

path = sys.argv[sys.argv.index("--socket-path") + 1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(path)  # and nothing else
sys.stderr.write(f"binds_no_listen: bound {path}, not listening\n")
sys.stderr.flush()
while True:
    time.sleep(3600)
