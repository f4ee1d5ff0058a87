"""The INFO figures of the performance (and start-up) checks as horizontal bar charts, drawn
as inline SVG by the HTML template from the geometry worked out here. Only percentiles are
recorded (not the raw samples), and the charts say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from octa_conformance.reporting.html_data import bytes_text, seconds_text
from octa_conformance.results import RunReport


@dataclass
class Bar:
    """One bar of a horizontal bar chart, with its geometry worked out."""

    label: str
    value_text: str
    y: float
    width: float
    series: int = 0
    group: str = ""


@dataclass
class Chart:
    """A horizontal bar chart drawn as inline SVG by the template."""

    id: str
    title: str
    note: str
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (x, label)
    height: float
    groups: list[tuple[float, str]] = field(default_factory=list)  # (y, group heading)
    width: int = 540
    left: int = 190  # room for the labels
    plot: int = 280  # plot width in px (the rest: room for the value)
    row: int = 22


def _nice_step(top: float, count: int = 5) -> float:
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power  # pragma: no cover


def bar_chart(
    chart_id: str,
    title: str,
    note: str,
    rows: Iterable[tuple[str, str, float]],
    fmt: Callable[[float], str],
    unit: float = 1.0,
) -> Chart | None:
    """A chart of ``(group, label, value)`` rows on one linear scale from 0; None if empty.

    ``unit``: the tick labels' unit (ticks fall on round numbers of it: 1 MiB, 0.5 ms...).
    """
    data = [(g, lab, float(v)) for g, lab, v in rows if isinstance(v, (int, float))]
    if not data:
        return None
    chart = Chart(chart_id, title, note, [], [], 0)
    top = max(v for _, _, v in data) or 1.0
    step = _nice_step(top / unit) * unit
    axis_top = step * math.ceil(top / step)
    ticks = [i * step for i in range(round(axis_top / step) + 1)]
    chart.ticks = [(chart.left + chart.plot * t / axis_top, fmt(t) if t else "0") for t in ticks]
    y = 8.0
    group = None
    series = {g: i for i, g in enumerate(dict.fromkeys(g for g, _, _ in data))}
    for g, label, value in data:
        if g != group and g:
            chart.groups.append((y + 12, g))
            y += 18
        group = g
        chart.bars.append(
            Bar(label, fmt(value), y, chart.plot * value / axis_top, series[g] % 4, g)
        )
        y += chart.row
    chart.height = y + 26  # the axis labels
    return chart


_PERCENTILES = (("median_s", "median"), ("p90_s", "p90"), ("p99_s", "p99"), ("max_s", "max"))


def _latency_rows(name: str, stats: dict[str, Any] | None) -> list[tuple[str, str, float]]:
    if not stats:
        return []
    group = f"{name} (n = {stats.get('n', '?')})"  # short: right-aligned in the label room
    return [(group, label, stats[key]) for key, label in _PERCENTILES if key in stats]


def _byte_unit(top: float) -> float:
    for size in (1 << 30, 1 << 20, 1 << 10):
        if top >= size:
            return float(size)
    return 1.0


def _mark_label(key: str) -> str:
    """``after_100`` -> ``after 100 commands``, ``after_handshake`` -> ``after handshake``."""
    rest = key.removeprefix("after_")
    return f"after {rest} commands" if rest.isdigit() else f"after {rest.replace('_', ' ')}"


def charts(report: RunReport) -> list[Chart]:
    """The figures of the performance (and start-up) checks as charts, where they were taken."""
    figures = {c.id: c.figures for c in report.checks if c.figures}
    out: list[Chart | None] = []
    ms = seconds_text
    start = figures.get("launch.startup-time")
    if start and start.get("samples_s"):
        samples = start["samples_s"]
        out.append(
            bar_chart(
                "chart-startup",
                "Start-up time (launch.startup-time)",
                f"spawn to accepting a connection, each of {len(samples)} launches",
                [("", f"launch {i + 1}", v) for i, v in enumerate(samples)],
                ms,
            )
        )
    hs = figures.get("performance.handshake-latency")
    if hs:
        rows = _latency_rows("Hello", hs.get("hello"))
        rows += _latency_rows("Schema", hs.get("schema"))
        out.append(
            bar_chart(
                "chart-handshake",
                "Handshake latency (performance.handshake-latency)",
                "Hello and Schema round trips, percentiles over"
                f" {hs.get('sessions', '?')} sessions via {hs.get('via', '?')};"
                " only these percentiles are recorded, not every sample",
                rows,
                ms,
            )
        )
    ex = figures.get("performance.execute-latency")
    if ex:
        out.append(
            bar_chart(
                "chart-execute",
                "Execute latency (performance.execute-latency)",
                f"Execute to its terminal frame, {ex.get('command', '?')}, one command at a"
                " time, percentiles;"
                " only these percentiles are recorded, not every sample",
                _latency_rows("Execute", ex.get("execute")),
                ms,
            )
        )
    tp = figures.get("performance.throughput")
    if tp and isinstance(tp.get("commands_per_s"), dict):
        rows = []
        for key, value in tp["commands_per_s"].items():
            level = key.removeprefix("in_flight_")
            rows.append(("", f"{level} in flight", value))
        out.append(
            bar_chart(
                "chart-throughput",
                "Throughput (performance.throughput)",
                f"commands completed per second, {tp.get('commands_per_level', '?')} commands"
                f" per level, {tp.get('command', '?')}",
                rows,
                lambda v: f"{v:g}/s",
            )
        )
    mem = figures.get("performance.memory-growth")
    if mem and isinstance(mem.get("rss_bytes"), dict):
        rows = [("", _mark_label(key), value) for key, value in mem["rss_bytes"].items()]
        growth = mem.get("growth_bytes")
        per = mem.get("growth_per_command_bytes")
        note = "the plugin's resident memory (RSS), axis from 0"
        if isinstance(growth, (int, float)):
            note += f"; growth between the last two marks {bytes_text(growth)}"
            if isinstance(per, (int, float)):
                note += f" ({per:g} B per command)"
        out.append(
            bar_chart(
                "chart-memory",
                "Resident memory (performance.memory-growth)",
                note,
                rows,
                bytes_text,
                _byte_unit(max((v for _, _, v in rows if isinstance(v, (int, float))), default=0)),
            )
        )
    return [c for c in out if c is not None]
