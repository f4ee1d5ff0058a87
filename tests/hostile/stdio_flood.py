#!/usr/bin/env python3
"""Hostile plugin: writes 50 MB to its own stdout and 50 MB to its stderr, then behaves.

Octa drains both pipes in the background, so this plugin works with Octa; the harness must
drain them too (into bounded buffers) without blocking the plugin or growing.
"""

import sys

from hostile_base import serve

SIZE = 50 * 1024 * 1024
LINE = b"noise " * 170 + b"\n"


def flood(stream) -> None:
    written = 0
    while written < SIZE:
        stream.write(LINE * 64)
        written += len(LINE) * 64
    stream.flush()


if __name__ == "__main__":
    flood(sys.stdout.buffer)
    flood(sys.stderr.buffer)
    serve()
