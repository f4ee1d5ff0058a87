"""Every mutant, from every ``m_*.py`` module in this directory."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from mutant_base import REGISTRY, Mutant  # noqa: E402


def all_mutants() -> dict[str, Mutant]:
    for path in sorted(HERE.glob("m_*.py")):
        importlib.import_module(path.stem)
    return dict(REGISTRY)
