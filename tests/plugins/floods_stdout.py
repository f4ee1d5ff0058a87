#!/usr/bin/env python3
"""Throwaway plugin: writes 6 MiB to stdout before listening and 6 MiB more while it waits
for a connection, then echoes one line back and exits after printing "flood done"."""

import socket
import sys
import threading

CHUNK = (b"x" * 1023 + b"\n") * 64  # 64 KiB
out = sys.stdout.buffer


def flood(mib: int) -> None:
    for _ in range(mib * 16):
        out.write(CHUNK)
    out.flush()


path = sys.argv[sys.argv.index("--socket-path") + 1]
flood(6)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
writer = threading.Thread(target=flood, args=(6,))
writer.start()
conn, _ = server.accept()
with conn, conn.makefile("rwb") as stream:
    line = stream.readline()
    stream.write(b"echo " + line)
    stream.flush()
writer.join()
out.write(b"flood done\n")
out.flush()
