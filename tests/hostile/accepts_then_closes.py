#!/usr/bin/env python3
"""Hostile plugin: accepts every connection and closes it at once, without a word."""

import socket
import sys

path = sys.argv[sys.argv.index("--socket-path") + 1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(path)
sock.listen(8)
while True:
    conn, _ = sock.accept()
    conn.close()
