#!/usr/bin/env python3
"""Hostile plugin: accepts every connection and closes it at once, without a word."""

from hostile_base import unix_socket

sock = unix_socket()
while True:
    conn, _ = sock.accept()
    conn.close()
