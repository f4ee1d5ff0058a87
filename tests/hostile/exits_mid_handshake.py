#!/usr/bin/env python3
"""Hostile plugin: reads the host's Hello, writes half of a Hello reply, and exits (status 3).

The host sees an unterminated frame and then the connection closing in the middle of the
handshake.
"""

import os
import sys

from hostile_base import unix_socket

sock = unix_socket()
conn, _ = sock.accept()
with conn.makefile("rb") as stream:
    stream.readline()  # the host's Hello
conn.sendall(b'{"type":"Hello","payload":{"version":">=0.2')
sys.stderr.write("exits_mid_handshake: bailing out in the middle of my Hello reply\n")
sys.stderr.flush()
os._exit(3)
