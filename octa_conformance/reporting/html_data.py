"""What the HTML report shows, prepared from a RunReport for the template: figures in units
a person reads, messages with their hint apart, transcripts by direction, the verdict's
reasons, a row per area, an entry per check, the version matrix.

The data is the JSON report's (:meth:`RunReport.to_json`), plus the catalogue's description
and protocol section of each check, so the two reports always agree. Charts:
:mod:`octa_conformance.reporting.html_charts`.
"""

from __future__ import annotations

import re
from typing import Any

from octa_conformance import catalogue
from octa_conformance.reporting import PROTOCOL_DOC
from octa_conformance.results import CheckResult, RunReport


def outcome_label(result: CheckResult, strict: bool) -> tuple[str, str]:
    """``(word, css class)``: FAIL, WARN (a SHOULD failure without strict), PASS, SKIP..."""
    word = result.label(strict)
    return word, word.lower()


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


def page_data(report: RunReport) -> dict[str, Any]:
    """Everything the template shows but the charts and the time it was generated."""
    data = report.to_json()
    plugin = data["plugin"]
    return {
        "data": data,
        "verdict": data["verdict"],
        "verdict_lines": _verdict_lines(report),
        "plugin": plugin,
        "plugin_error": visible(plugin["error"]) if plugin.get("error") else "",
        "cause": data.get("cause"),  # the run's root cause, when the report names one
        "summary": data["summary"],
        "areas": _area_rows(report),
        "checks": _check_entries(report, data),
        "matrix": _matrix(report),
        "protocol_doc": PROTOCOL_DOC,
    }
