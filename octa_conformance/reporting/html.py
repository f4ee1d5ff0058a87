"""The HTML report: one self-contained file a reviewer can open, written from a RunReport.

Rendered with Jinja2 from ``templates/report.html.j2`` with autoescaping on: every string a
plugin can influence (messages, transcripts, keys, requirements, figures) is escaped. The page
loads nothing (inline CSS and SVG, no script at all; a Content-Security-Policy forbids any
fetch or script) and works with JavaScript off: checks fold with ``<details>``.

The data is the JSON report's (:meth:`RunReport.to_json`), plus the catalogue's description
and protocol section of each check, so the two reports always agree. The INFO figures of the
performance checks are drawn as bar charts; only percentiles are recorded (not the raw
samples), and the charts say so.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from octa_conformance import catalogue
from octa_conformance.results import CheckResult, RunReport

TEMPLATE = "report.html.j2"
PROTOCOL_DOC = "docs/protocol.md"

# Outcome word and CSS class of a result (the terminal's words).
_LABELS = {
    "passed": ("PASS", "pass"),
    "skipped": ("SKIP", "skip"),
    "xfailed": ("XFAIL", "xfail"),
    "error": ("ERROR", "error"),
}


def outcome_label(result: CheckResult, strict: bool) -> tuple[str, str]:
    """``(word, css class)``: FAIL, WARN (a SHOULD failure without strict), PASS, SKIP..."""
    if result.outcome == "failed":
        return ("WARN", "warn") if result.is_warning(strict) else ("FAIL", "fail")
    return _LABELS[result.outcome]


# --- formatting figures for people -------------------------------------------------


def seconds_text(value: float) -> str:
    """``0.32 ms``, ``12.5 ms``, ``1.80 s``."""
    if value < 1:
        ms = value * 1000
        return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"
    return f"{value:.2f} s"


def bytes_text(value: float) -> str:
    """``512 B``, ``168 KiB``, ``23.7 MiB``."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            q = value / size
            return f"{sign}{q:.3g} {unit}" if q < 100 else f"{sign}{q:.0f} {unit}"
    return f"{sign}{value:g} B"


def figure_value_text(key: str, value: Any) -> str:
    """A figure's value in units a person reads (the JSON report keeps the raw numbers)."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, (int, float)):
        if key.endswith("_s"):
            return seconds_text(float(value))
        if key.endswith("_bytes"):
            return bytes_text(float(value))
        if key.endswith("_per_s") or key.startswith("in_flight_"):
            return f"{value:g}/s"
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(figure_value_text(key, v) for v in value)
    return str(value)


def figure_rows(figures: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested figures flattened to ``(dotted key, formatted value)`` rows."""
    rows: list[tuple[str, str]] = []
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            unit_key = key if key.endswith(("_s", "_bytes")) else ""
            if unit_key:  # {"after_100": 123} under "rss_bytes": keep the unit
                rows += [(f"{name}.{k}", figure_value_text(unit_key, v)) for k, v in value.items()]
            else:
                rows += figure_rows(value, f"{name}.")
        else:
            rows.append((name, figure_value_text(key, value)))
    return rows


# --- messages and transcripts ------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HINT = re.compile(r"^\s*hint: ?(.*)$")
_LABEL = re.compile(r"^\s*[a-z][a-z ]{0,15}: ")


def visible(text: str) -> str:
    """Control characters (ANSI escapes, NUL...) as visible symbols, not raw bytes."""
    return _CONTROL.sub(
        lambda m: chr(0x2400 + ord(m.group())) if m.group() != "\x7f" else "\u2421", text
    )


def split_hint(message: str) -> tuple[str, str]:
    """``(message without the hint, hint)``: a check's ``hint:`` line(s) shown apart."""
    lines = message.splitlines()
    for i, line in enumerate(lines):
        m = _HINT.match(line)
        if m is None:
            continue
        end = i + 1
        while end < len(lines) and not _LABEL.match(lines[end]):
            end += 1
        hint = " ".join([m.group(1), *(ln.strip() for ln in lines[i + 1 : end])]).strip()
        return "\n".join(lines[:i] + lines[end:]), hint
    return message, ""


def transcript_lines(text: str) -> list[tuple[str, str]]:
    """``(css class, line)`` for each line of a transcript: host, plugin, note or violation."""
    out = []
    for line in visible(text).splitlines():
        if "host   ->" in line:
            cls = "t-host"
        elif "plugin <-" in line:
            cls = "t-plugin"
        elif "violation" in line or "!!" in line:
            cls = "t-bad"
        elif line.startswith(("wire transcript", "transcript")):
            cls = "t-head"
        else:
            cls = "t-note"
        out.append((cls, line))
    return out


def code_spans(text: str) -> list[tuple[bool, str]]:
    """``a `b` c`` as ``[(False, "a "), (True, "b"), (False, " c")]`` (for <code>)."""
    return [(i % 2 == 1, part) for i, part in enumerate(text.split("`")) if part]


def section_text(section: str) -> str:
    """``3, 4.1`` as ``§3, §4.1``."""
    return ", ".join(f"\u00a7{s.strip()}" for s in section.split(",") if s.strip())


# --- charts ------------------------------------------------------------------------


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


# --- the page ----------------------------------------------------------------------


def _verdict_lines(report: RunReport) -> list[str]:
    """Why the verdict is what it is, in a few sentences."""
    strict = report.strict
    lines: list[str] = []
    if report.verdict == "fail":
        failed = [c for c in report.checks if c.outcome == "failed" and c.counts_against(strict)]
        if failed:
            lines.append(
                f"{len(failed)} check{'s' * (len(failed) != 1)} that a PASS needs failed: "
                + ", ".join(f"{c.id} ({c.level.value})" for c in failed)
            )
        if report.harness_errors:
            lines.append(
                "the harness itself failed in: " + ", ".join(c.id for c in report.harness_errors)
            )
        return lines
    unrun = report.unrun
    if unrun:
        needs = report.needed_probes(unrun)
        for name, ids in report.by_missing_probe(unrun).items():
            lines.append(
                f"probe {name!r} is not configured; it would run "
                f"{len(ids)} check{'s' * (len(ids) != 1)}: " + ", ".join(ids)
            )
        others = [c for c in unrun if not needs[c.id]]
        for c in others:
            reason = c.message.splitlines()[0] if c.message else "skipped"
            lines.append(f"{c.id} ({c.level.value}) did not run: {reason}")
    if not report.complete:
        lines.append(f"the run was interrupted after {len(report.checks)} checks")
    if report.verdict == "pass":
        what = "MUST and SHOULD" if strict else "MUST"
        lines.append(f"every {what} check ran and passed")
    return lines


def _area_rows(report: RunReport) -> list[dict[str, Any]]:
    rows = []
    for area, checks in report.by_area().items():
        words = [outcome_label(c, report.strict)[0] for c in checks]
        rows.append(
            {
                "area": area,
                "total": len(checks),
                **{w: words.count(w) for w in ("PASS", "FAIL", "WARN", "SKIP", "XFAIL", "ERROR")},
            }
        )
    return rows


def _check_entries(report: RunReport, data: dict[str, Any]) -> list[dict[str, Any]]:
    results = {c.id: c for c in report.checks}
    needs = report.needed_probes(report.checks)
    out = []
    for entry in data["checks"]:
        c = results[entry["id"]]
        spec = catalogue.CHECKS.get(c.id)
        word, cls = outcome_label(c, report.strict)
        message, hint = split_hint(visible(entry["message"]))
        out.append(
            {
                **entry,
                "word": word,
                "cls": cls,
                "open": cls in ("fail", "error"),
                "summary": message.splitlines()[0] if message else "",
                "message": message,
                "hint": hint,
                "description": code_spans(spec.description if spec else ""),
                "section": section_text(spec.section) if spec else "",
                "probes": list(spec.probes) if spec else [],
                "needs": list(needs.get(c.id, ())) if c.outcome == "skipped" else [],
                "figure_rows": figure_rows(entry.get("figures") or {}),
                "transcript_lines": transcript_lines(entry.get("transcript", "")),
                "counts": c.counts_for_verdict(report.strict),
                "stale_baseline": c.stale_baseline,
                "cause": entry.get("cause"),
            }
        )
    return out


def _matrix(report: RunReport) -> dict[str, Any] | None:
    for c in report.checks:
        if c.id == "version.matrix" and c.figures and isinstance(c.figures.get("matrix"), dict):
            reasons = c.figures.get("reasons") or {}
            return {
                "requirement": c.figures.get("requirement"),
                "rows": [
                    {
                        "version": v,
                        "verdict": str(verdict),
                        "reason": visible(str(reasons.get(v, ""))),
                        "target": v == report.target,
                    }
                    for v, verdict in c.figures["matrix"].items()
                ],
            }
    return None


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("octa_conformance.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["visible"] = visible
    env.filters["seconds"] = seconds_text
    return env


def render_html(report: RunReport, generated: datetime.datetime | None = None) -> str:
    """The whole HTML page for ``report``."""
    data = report.to_json()
    generated = generated or datetime.datetime.now().astimezone()
    plugin = data["plugin"]
    page = (
        _environment()
        .get_template(TEMPLATE)
        .render(
            data=data,
            verdict=data["verdict"],
            verdict_lines=_verdict_lines(report),
            plugin=plugin,
            plugin_error=visible(plugin["error"]) if plugin.get("error") else "",
            cause=data.get("cause"),  # the run's root cause, when the report names one
            summary=data["summary"],
            areas=_area_rows(report),
            checks=_check_entries(report, data),
            matrix=_matrix(report),
            charts=charts(report),
            protocol_doc=PROTOCOL_DOC,
            generated=generated.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        )
    )
    # undecodable bytes a plugin sent (kept as lone surrogates) become visible escapes
    return page.encode("utf-8", "backslashreplace").decode("utf-8")


def write_html(report: RunReport, path: str | os.PathLike[str]) -> None:
    """Write the HTML report to ``path`` (``-``: standard output)."""
    text = render_html(report)
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    Path(path).write_text(text, encoding="utf-8")
