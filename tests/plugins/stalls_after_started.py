#!/usr/bin/env python3
"""Throwaway plugin: answers the handshake, answers an Execute with Started and nothing more
(the check waits), and writes what it does to the file named by ``STALL_MARKER``: a line
``start PID`` when it starts, ``exec PID`` on each Execute. SIGUSR1 drops every connection
at once and exits; Shutdown is acknowledged, then it exits."""

import contextlib
import json
import os
import signal
import socket
import sys

path = sys.argv[sys.argv.index("--socket-path") + 1]


def mark(word: str) -> None:
    with open(os.environ["STALL_MARKER"], "a") as marker:
        marker.write(f"{word} {os.getpid()}\n")


mark("start")
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(8)
open_connections = []


def drop(*_: object) -> None:
    for c in open_connections:
        with contextlib.suppress(OSError):
            c.shutdown(socket.SHUT_RDWR)
        c.close()
    os._exit(0)


signal.signal(signal.SIGUSR1, drop)


def send(c: socket.socket, kind: str, payload: dict) -> None:
    c.sendall((json.dumps({"type": kind, "payload": payload}) + "\n").encode())


while True:
    conn, _ = server.accept()
    open_connections.append(conn)
    for line in conn.makefile("rb"):
        kind = json.loads(line).get("type")
        if kind == "Hello":
            send(conn, "Hello", {"version": ">=0.2.1, <0.3.0", "features": []})
        elif kind == "Schema":
            send(conn, "Schema", {"key": "stalls"})
        elif kind == "Execute":
            send(conn, "Started", {"id": "one"})
            mark("exec")
        elif kind == "Shutdown":  # the harness's first handshake ends at once
            send(conn, "Shutdown", {"message": "bye"})
            sys.exit(0)
