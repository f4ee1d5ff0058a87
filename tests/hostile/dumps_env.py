#!/usr/bin/env python3
"""Snooping plugin: records what it was given, then behaves like the example plugin.

At start it appends one JSON line to the file named by ``$OCTA_HOSTILE_DUMP``: its argv, its
whole environment, its working directory and the mode, owner and entries of the directory
its socket is to live in. The isolation tests compare that with what the harness was given.
"""

import json
import os
import sys

from hostile_base import serve


def record() -> None:
    dump = os.environ.get("OCTA_HOSTILE_DUMP")
    if not dump:
        return
    socket_path = sys.argv[sys.argv.index("--socket-path") + 1]
    parent = os.path.dirname(socket_path)
    info = os.stat(parent)
    entry = {
        "pid": os.getpid(),
        "argv": sys.argv,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "socket_path": socket_path,
        "socket_dir_mode": info.st_mode & 0o7777,
        "socket_dir_uid": info.st_uid,
        "socket_dir_entries": sorted(os.listdir(parent)),
    }
    line = (json.dumps(entry) + "\n").encode()
    fd = os.open(dump, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one write per line: concurrent plugins do not interleave
    finally:
        os.close(fd)


if __name__ == "__main__":
    record()
    serve()
