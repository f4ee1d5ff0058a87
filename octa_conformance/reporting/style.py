"""How terminal output looks: colour (when to use it, and painting), width, outcome words.

Every line reads the same without colour (the outcome is always spelled out). Colour
(:func:`use_color`): never with ``NO_COLOR`` set; forced by ``FORCE_COLOR`` or
``CLICOLOR_FORCE`` (CI logs); otherwise only on a terminal whose ``TERM`` is not ``dumb``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from octa_conformance.results import CheckResult

_COLORS = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "dim": "2",
    "bold": "1",
}
WIDTH = 100  # lines are fitted to this width when the terminal's is unknown

# The colour of each outcome word (CheckResult.label).
LABEL_COLORS = {
    "PASS": "green",
    "FAIL": "red",
    "WARN": "yellow",
    "SKIP": "dim",
    "XFAIL": "cyan",
    "ERROR": "red",
}


def isatty(stream: object) -> bool:
    """Whether ``stream`` is a terminal (False for a closed or fake stream)."""
    try:
        return bool(getattr(stream, "isatty", lambda: False)())
    except (ValueError, OSError):  # a closed stream
        return False


def use_color(stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether to colour output written to ``stream`` (default stdout).

    ``NO_COLOR`` (any non-empty value) turns colour off, whatever else is set;
    ``FORCE_COLOR`` or ``CLICOLOR_FORCE`` (non-empty, not ``0``) turn it on even when the
    output is not a terminal (``FORCE_COLOR=0`` turns it off); otherwise colour is used on a
    terminal, unless ``TERM=dumb``.
    """
    env = os.environ if env is None else env
    stream = sys.stdout if stream is None else stream
    if env.get("NO_COLOR"):
        return False
    force = env.get("FORCE_COLOR", "")
    if force.lower() in ("0", "false", "no"):
        return False
    if force or env.get("CLICOLOR_FORCE", "0") not in ("", "0"):
        return True
    if env.get("TERM") == "dumb":
        return False
    return isatty(stream)


def terminal_width(stream: TextIO | None = None) -> int:
    """The width of the terminal ``stream`` writes to (``COLUMNS`` wins; else WIDTH)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    stream = sys.stdout if stream is None else stream
    if isatty(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or WIDTH
        except (OSError, ValueError, AttributeError):
            pass
    return WIDTH


def paint(text: str, color: str, enabled: bool) -> str:
    """``text`` in ``color`` (a name of _COLORS) when ``enabled``, else unchanged."""
    return f"\x1b[{_COLORS[color]}m{text}\x1b[0m" if enabled else text


def plural(n: int, word: str) -> str:
    """``1 check``, ``2 checks``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def outcome_label(result: CheckResult, strict: bool) -> tuple[str, str]:
    """The word shown for a result and its colour."""
    word = result.label(strict)
    return word, LABEL_COLORS[word]
