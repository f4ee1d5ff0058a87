#!/usr/bin/env python3
"""Hostile plugin: writes 50 MB to its own stdout and 50 MB to its stderr, then behaves.

Octa drains both pipes in the background, so this plugin works with Octa; the harness must
drain them too (into bounded buffers) without blocking the plugin or growing.
"""

import importlib.util
import sys
from pathlib import Path


def load_example():
    """The conforming example plugin, loaded by path (it is not an installed module)."""
    path = Path(__file__).resolve().parents[2] / "examples" / "octa_plugin_shell.py"
    spec = importlib.util.spec_from_file_location("octa_example_shell_plugin", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = load_example()

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
    sys.exit(example.main())
