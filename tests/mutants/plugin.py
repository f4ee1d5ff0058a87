#!/usr/bin/env python3
"""A deliberately broken Octa plugin: the example plugin with the defect named by $OCTA_MUTANT.

Run as ``OCTA_MUTANT=NoStarted tests/mutants/plugin.py --socket-path P``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutant_base import example
from mutant_registry import all_mutants


def main() -> int:
    name = os.environ.get("OCTA_MUTANT", "")
    mutants = all_mutants()
    if name not in mutants:
        print(f"unknown mutant {name!r}; known: {', '.join(sorted(mutants))}", file=sys.stderr)
        return 2
    cls = mutants[name].plugin
    check_argv = getattr(cls, "check_argv", None)  # a mutant may reject its command line
    if check_argv is not None and (status := check_argv(sys.argv[1:])) is not None:
        return status
    return example.main(plugin_cls=cls)


if __name__ == "__main__":
    sys.exit(main())
