"""Human-readable output: a line per check while running, then a summary by area."""

from __future__ import annotations

import os
import sys

from octa_conformance.results import CheckResult, RunReport

_COLORS = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "dim": "2", "bold": "1"}


def use_color(stream: object = None) -> bool:
    """Colour only on a TTY and never with NO_COLOR set."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def paint(text: str, color: str, enabled: bool) -> str:
    return f"\x1b[{_COLORS[color]}m{text}\x1b[0m" if enabled else text


def outcome_label(result: CheckResult, strict: bool) -> tuple[str, str]:
    """The word shown for a result and its colour."""
    if result.outcome == "failed":
        return ("WARN", "yellow") if result.is_warning(strict) else ("FAIL", "red")
    return {
        "passed": ("PASS", "green"),
        "skipped": ("SKIP", "dim"),
        "xfailed": ("XFAIL", "cyan"),
        "error": ("ERROR", "red"),
    }[result.outcome]


def progress_line(result: CheckResult, strict: bool, color: bool | None = None) -> str:
    color = use_color() if color is None else color
    label, hue = outcome_label(result, strict)
    line = (
        f"{paint(f'{label:<5}', hue, color)} {result.id:<42} {result.level.value:<6}"
        f" {result.duration_s:6.2f}s"
    )
    if result.outcome == "skipped" and result.message:
        line += f"  ({result.message.splitlines()[0]})"
    if result.figures:
        shown = ", ".join(f"{k}={v}" for k, v in list(result.figures.items())[:4])
        line += f"  [{shown}]"
    return line


def summary_text(report: RunReport, color: bool | None = None, verbose: bool = False) -> str:
    """Failures with their messages, a table by area, and the verdict."""
    color = use_color() if color is None else color
    out: list[str] = []
    for c in report.checks:
        if c.outcome in ("failed", "error") or (verbose and c.transcript):
            label, hue = outcome_label(c, report.strict)
            out.append("")
            out.append(paint(f"{label} {c.id} ({c.level.value})", hue, color))
            out.extend("  " + ln for ln in c.message.splitlines())
            if c.transcript:
                out.append("")
                out.extend("  " + ln for ln in c.transcript.splitlines())
    out.append("")
    out.append(f"{'area':<13} {'pass':>5} {'fail':>5} {'warn':>5} {'skip':>5} {'xfail':>5}")
    for area, checks in report.by_area().items():
        fails = sum(c.counts_against(report.strict) for c in checks)
        warns = sum(c.is_warning(report.strict) for c in checks)
        passes = sum(c.outcome == "passed" for c in checks)
        skips = sum(c.outcome == "skipped" for c in checks)
        xf = sum(c.outcome == "xfailed" for c in checks)
        out.append(f"{area:<13} {passes:>5} {fails:>5} {warns:>5} {skips:>5} {xf:>5}")
    stale = report.summary()["stale_baseline"]
    if stale:
        out.append(f"stale baseline entries (now passing): {', '.join(stale)}")
    verdict = report.verdict.upper()
    extra = "" if report.complete else " (run interrupted: incomplete)"
    out.append(
        paint(f"verdict: {verdict}{extra}", "green" if report.verdict == "pass" else "red", color)
        + f"  ({len(report.checks)} checks in {report.duration_s:.1f} s,"
        f" target Octa {report.target}{', strict' if report.strict else ''})"
    )
    return "\n".join(out)
