"""Human-readable output: a line per check while running, then failures, a table, the verdict.

Colour only on a TTY and never with ``NO_COLOR`` set; every line reads the same without it
(the outcome is always spelled out).
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from octa_conformance.results import CheckResult, RunReport

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


def use_color(stream: TextIO | None = None) -> bool:
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
    """``PASS  launch.listens   MUST    0.12s`` (+ skip reason, figures, baseline notes)."""
    color = use_color() if color is None else color
    label, hue = outcome_label(result, strict)
    line = (
        f"{paint(f'{label:<5}', hue, color)} {result.id:<42} {result.level.value:<6}"
        f" {result.duration_s:6.2f}s"
    )
    if result.outcome == "skipped" and result.message:
        line += f"  ({result.message.splitlines()[0]})"
    elif result.outcome == "xfailed":
        line += "  (known failure: in the baseline)"
    if result.stale_baseline:
        line += "  (passes now: remove it from the baseline)"
    if result.figures:
        line += f"  [{figures_text(result.figures)}]"
    return line


def figures_text(figures: dict[str, object], limit: int = 100) -> str:
    """A short one-line rendering of a check's figures (the JSON report has them all)."""
    parts = []
    for k, v in figures.items():
        text = str(v)
        parts.append(f"{k}={text if len(text) <= 30 else text[:27] + '...'}")
    out = ", ".join(parts)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def header_text(
    plugin: str, target: str, checks: int, strict: bool, jobs: int | None, color: bool
) -> str:
    """The first line of a CLI run."""
    from octa_conformance import __version__

    mode = ", strict" if strict else ""
    par = f", {jobs} workers" if jobs and jobs > 1 else ""
    return paint(
        f"octa-conform {__version__}: {checks} check{'s' * (checks != 1)} of {plugin}"
        f" against Octa {target}{mode}{par}",
        "bold",
        color,
    )


def _count(results: list[CheckResult]) -> str:
    """``3 MUST checks``, ``2 MUST and 1 SHOULD checks``."""
    levels: dict[str, int] = {}
    for c in results:
        levels[c.level.value] = levels.get(c.level.value, 0) + 1
    words = " and ".join(f"{n} {level}" for level, n in levels.items())
    return f"{words} check{'s' if len(results) != 1 else ''}"


def _and(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def not_run_text(report: RunReport, option: str = "--") -> list[str]:
    """What did not run although the verdict needs it, and which probes would run it.

    ``option`` prefixes the option names: ``--`` for the CLI (``--probe``, ``--skip``),
    ``--octa-`` for pytest.
    """
    unrun = report.unrun
    if not unrun:
        return []
    by_id = {c.id: c for c in unrun}
    needs = report.needed_probes(unrun)
    out = [f"{_count(unrun)} did not run, so the verdict cannot be PASS:"]
    for name, ids in report.by_missing_probe(unrun).items():
        listed = []
        for cid in ids:
            others = [n for n in needs[cid] if n != name]
            listed.append(cid + (f" (with {_and(others)})" if others else ""))
        out.append(
            f"  configure `{name}` ({option}probe {name}=TEMPLATE) to run"
            f" {_count([by_id[i] for i in ids])}: {', '.join(listed)}"
        )
    for c in unrun:
        if not needs[c.id]:
            reason = c.message.splitlines()[0] if c.message else "skipped"
            out.append(f"  {c.id} ({c.level.value}) was skipped: {reason}")
    out.append(
        f"  (or leave a check out explicitly with {option}skip ID: deselected checks are outside"
        " the verdict; 'octa-conform list --probes' says what each probe must do)"
    )
    return out


def summary_text(
    report: RunReport, color: bool | None = None, verbose: bool = False, option: str = "--"
) -> str:
    """Failures (message + transcript), a table by area, what did not run, and the verdict.

    ``option``: the prefix of option names in advice (``--``: CLI, ``--octa-``: pytest).
    """
    color = use_color() if color is None else color
    out: list[str] = []
    shown = [
        c for c in report.checks if c.outcome in ("failed", "error") or (verbose and c.transcript)
    ]
    if shown:
        out.append("")
        out.append(
            paint("Failures, warnings and errors:" if not verbose else "Details:", "bold", color)
        )
    for c in shown:
        label, hue = outcome_label(c, report.strict)
        out.append("")
        out.append(paint(f"{label} {c.id} ({c.level.value}): {c.spec.description}", hue, color))
        out.extend("  " + ln for ln in c.message.splitlines())
        if c.transcript:
            out.append("")
            out.extend("  " + ln for ln in c.transcript.splitlines())
    out.append("")
    facts = report.plugin
    if facts.key is not None or facts.requirement is not None:
        out.append(
            f"plugin: key {facts.key!r}, requires Octa {facts.requirement!r},"
            f" speaks dialect {facts.dialect or '?'}"
        )
    elif facts.error:
        out.append(f"plugin: handshake failed: {facts.error.splitlines()[0]}")
    head = f"{'area':<13} {'pass':>5} {'fail':>5} {'warn':>5} {'skip':>5} {'xfail':>5} {'error':>5}"
    out.append(paint(head, "bold", color))
    for area, checks in report.by_area().items():
        fails = sum(c.outcome == "failed" and c.counts_against(report.strict) for c in checks)
        warns = sum(c.is_warning(report.strict) for c in checks)
        passes = sum(c.outcome == "passed" for c in checks)
        skips = sum(c.outcome == "skipped" for c in checks)
        xf = sum(c.outcome == "xfailed" for c in checks)
        errs = sum(c.outcome == "error" for c in checks)
        out.append(f"{area:<13} {passes:>5} {fails:>5} {warns:>5} {skips:>5} {xf:>5} {errs:>5}")
    stale = report.summary()["stale_baseline"]
    if stale:
        out.append(f"stale baseline entries (they pass now, remove them): {', '.join(stale)}")
    if report.verdict != "fail":  # with a failure, what did not run changes nothing
        lines = not_run_text(report, option)
        if lines:
            out.append(paint(lines[0], "yellow", color))
            out.extend(lines[1:])
    verdict = report.verdict.upper()
    extra = "" if report.complete else " (run interrupted: not every check ran)"
    if report.unrun and report.verdict == "incomplete":
        extra += f": {_count(report.unrun)} did not run"
    warnings = report.summary()["warnings"]
    if warnings:
        extra += f" with {warnings} warning{'s' if warnings > 1 else ''}"
    hue = {"pass": "green", "incomplete": "yellow"}.get(report.verdict, "red")
    out.append(
        paint(f"verdict: {verdict}{extra}", hue, color)
        + f"  ({len(report.checks)} checks in {report.duration_s:.1f} s,"
        f" target Octa {report.target}{', strict' if report.strict else ''})"
    )
    return "\n".join(out)


# --- `octa-conform session`: the live exchange ------------------------------------

DIRECTION_STYLE = {"host": ("host   ->", "cyan"), "plugin": ("plugin <-", "green")}


def frame_line(t: float, direction: str, text: str, color: bool) -> str:
    """One frame of the session transcript: time, direction, content."""
    if direction in DIRECTION_STYLE:
        arrow, hue = DIRECTION_STYLE[direction]
        return f"{t:+9.3f}s {paint(arrow, hue, color)} {paint(text, hue, color)}"
    hue = "red" if text.startswith("!!") else "dim"
    return f"{t:+9.3f}s {paint('note    ', hue, color)} {paint(text, hue, color)}"
