#!/usr/bin/env python3
"""Build the native bench plugin (``bench/fast_plugin.c``) with ``cc``; print its path.

``python bench/fast_plugin.py`` compiles it (once per source version) into a private
directory under the system temp dir, named ``octa_plugin_fast``; nothing is written into the
tree and no binary is committed. ``build()`` does the same for the bench.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().with_name("fast_plugin.c")
NAME = "octa_plugin_fast"
CFLAGS = ("-O2", "-Wall", "-Wextra")


class BuildError(RuntimeError):
    """No C compiler, or the source did not compile."""


def build(out_dir: Path | None = None, cc: str | None = None) -> Path:
    """The path of a built ``octa_plugin_fast`` (compiled now unless up to date)."""
    compiler = cc or os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise BuildError("no C compiler (cc) found on PATH")
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + " ".join((compiler, *CFLAGS)).encode()).hexdigest()[:16]
    base = out_dir or Path(tempfile.gettempdir()) / f"octa-bench-build-{os.getuid()}" / key
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    binary = base / NAME
    if binary.exists():
        return binary
    partial = base / f".{NAME}.{os.getpid()}"
    proc = subprocess.run(
        [compiler, *CFLAGS, "-o", str(partial), str(SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"{compiler} failed:\n{proc.stderr}")
    partial.replace(binary)  # atomic: concurrent builds never see half a binary
    return binary


if __name__ == "__main__":
    try:
        print(build())
    except BuildError as e:
        sys.exit(str(e))
