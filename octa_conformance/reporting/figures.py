"""The figures of INFO checks, written for people: seconds as ms/s, bytes as KiB/MiB,
rates per second, nested mappings flattened (the JSON report keeps the raw numbers).

The unit of a figure is the suffix of its key: ``_s`` seconds, ``_bytes`` bytes,
``_per_s`` a rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from octa_conformance.reporting.style import WIDTH


def _split_unit(key: str) -> tuple[str, str | None]:
    """``median_s`` -> (``median``, seconds); ``rss_bytes`` -> (``rss``, bytes)..."""
    for suffix, unit in (("_per_s", "rate"), ("_s", "seconds"), ("_bytes", "bytes")):
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)], unit
    return key, None


def _label(key: str) -> str:
    return key.replace("_", " ")


def _number(value: float, unit: str | None) -> str:
    if unit == "seconds":
        if abs(value) < 1:
            return f"{value * 1000:.3g} ms"
        return f"{value:.3g} s"
    if unit == "bytes":
        size = abs(value)
        if size < 1024:
            return f"{value:.0f} B"
        if size < 1024 * 1024:
            return f"{value / 1024:.3g} KiB"
        return f"{value / (1024 * 1024):.3g} MiB"
    if unit == "rate":
        return f"{value:.4g}/s"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def figure_value(value: Any, unit: str | None = None) -> str:
    """One figure for people: seconds as ms/s, bytes as KiB/MiB, rates per second, lists
    and nested mappings flattened (``hello: n 50, median 0.39 ms``); never cut short."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        return _number(value, unit)
    if isinstance(value, Mapping):
        parts = []
        for k, v in value.items():
            name, own = _split_unit(str(k))
            parts.append(f"{_label(name)} {figure_value(v, own or unit)}")
        return ", ".join(parts)
    if isinstance(value, (list, tuple)):
        return ", ".join(figure_value(v, unit) for v in value)
    return str(value)


def figure_lines(figures: Mapping[str, Any], width: int = WIDTH) -> list[str]:
    """Each figure on a line of its own (``name: value``); a mapping too long for one line
    gets a line per entry, indented."""
    lines = []
    for key, value in figures.items():
        name, unit = _split_unit(key)
        line = f"{_label(name)}: {figure_value(value, unit)}"
        if isinstance(value, Mapping) and value and len(line) > width:
            lines.append(f"{_label(name)}:")
            for k, v in value.items():
                sub, own = _split_unit(str(k))
                lines.append(f"  {_label(sub)}: {figure_value(v, own or unit)}")
        else:
            lines.append(line)
    return lines


def figures_text(figures: Mapping[str, Any]) -> str:
    """All of a check's figures on one line (``median 681 ms; samples 569 ms, 697 ms``)."""
    return "; ".join(figure_lines(figures, width=10**9))
