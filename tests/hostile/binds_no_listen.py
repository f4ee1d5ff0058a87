#!/usr/bin/env python3
"""Hostile plugin: binds its Unix socket (the file exists) but never calls listen().

Every connect() is refused (ECONNREFUSED) although the socket file is there; the harness
must keep retrying only until its connect deadline.
"""

import sys
import time

from hostile_base import socket_path, unix_socket

sock = unix_socket(listen=None)  # bound, and nothing else
sys.stderr.write(f"binds_no_listen: bound {socket_path()}, not listening\n")
sys.stderr.flush()
while True:
    time.sleep(3600)
