#!/usr/bin/env python3
"""Hostile plugin: answers Hello with a 100 MB line that never ends (no newline).

It then keeps the connection open and silent. The harness must skip the over-long frame
without buffering it (its frame limit is 16 MiB) and time out waiting for the Hello reply.
"""

import socket
import threading

from hostile_base import unix_socket

SIZE = 100 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)


def serve(conn: socket.socket) -> None:
    with conn, conn.makefile("rb") as stream:
        if not stream.readline():  # the host's Hello
            return
        try:
            conn.sendall(b'{"type":"Hello","payload":{"version":"')
            for _ in range(SIZE // len(CHUNK)):
                conn.sendall(CHUNK)
            while stream.readline():  # silent until the host hangs up
                pass
        except OSError:
            return


sock = unix_socket()
while True:
    conn, _ = sock.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
