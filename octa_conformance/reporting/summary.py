"""The summary a CLI or pytest run ends with: the root cause (once), failures, a table by
area, what did not run, and the verdict.

Everything is in catalogue order, area by area (``launch`` first). When the plugin could not
be started or handshaken at all (the run's root cause), the checks that only repeat it are
not listed one by one: the cause is said once, with the plugin's output, and they are summed
up one line per area. Colour and width: :mod:`octa_conformance.reporting.style`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence

from octa_conformance.reporting.style import WIDTH, outcome_label, paint, plural, use_color
from octa_conformance.results import CAUSE_LAUNCH, CheckResult, RunReport


def header_text(
    plugin: str, target: str, checks: int, strict: bool, jobs: int | None, color: bool
) -> str:
    """The first line of a CLI run."""
    from octa_conformance import __version__

    mode = ", strict" if strict else ""
    par = f", {jobs} workers" if jobs and jobs > 1 else ""
    return paint(
        f"octa-conform {__version__}: {plural(checks, 'check')} of {plugin}"
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
    ``--octa-`` for pytest. Each missing probe is named once, with every check it would run.
    """
    unrun = [c for c in report.unrun if not c.cause]  # the root cause speaks for the others
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


def cause_text(
    report: RunReport,
    color: bool = False,
    rerun: Callable[[str], str] | None = None,
    width: int = WIDTH,
) -> list[str]:
    """The root cause, once: what happened, how the plugin was started, its output, and the
    checks that only repeat it, one line per area (ids as far as the line has room)."""
    cause = report.cause
    if cause is None:
        return []
    out = [paint(f"Root cause: {cause.phrase}: {cause.summary}", "red", color)]
    if cause.command:
        out.append(f"  command: {cause.command}")
    if cause.output.strip():
        out.extend("  " + ln for ln in cause.output.rstrip().splitlines())
    caused = report.caused
    if caused:
        not_run = [c for c in caused if _not_run(c)]
        ran = [c for c in caused if c not in not_run]
        parts = []
        if ran:
            ids = ", ".join(c.id for c in ran) if len(ran) <= 2 else plural(len(ran), "check")
            parts.append(f"{ids} failed with it")
        if not_run:
            were = "was" if len(not_run) == 1 else "were"
            parts.append(f"{plural(len(not_run), 'check')} {were} not run because of it")
        launch = cause.kind == CAUSE_LAUNCH
        counted = " (MUST and SHOULD ones count as failed)" if not_run and launch else ""
        areas: dict[str, list[str]] = {}
        for c in not_run if len(ran) <= 2 else caused:
            areas.setdefault(c.area, []).append(c.id.split(".", 1)[1])
        out.append(f"  {'; '.join(parts)}{counted}{':' if areas else ''}")
        for area, names in areas.items():
            out.append(_id_line(f"    {area:<13} {len(names):>2}: ", names, width))
    if rerun is not None:
        witness = "launch.listens" if cause.kind == CAUSE_LAUNCH else "handshake.hello-reply"
        out.append(f"  rerun: {rerun(witness)}")
    return out


def _not_run(c: CheckResult) -> bool:
    """Was ``c`` not run at all (rather than run into the same failure)?"""
    if c.message.removeprefix("could not measure: ").startswith("not run"):
        return True
    return c.outcome == "skipped" and not c.message.startswith("could not measure")


def _id_line(head: str, names: list[str], width: int) -> str:
    """``head`` and as many of ``names`` as fit in ``width``, then ``(+N more)``."""
    line = head + ", ".join(names)
    if len(line) <= width:
        return line
    shown: list[str] = []
    for name in names:
        more = f" (+{len(names) - len(shown) - 1} more)"
        if shown and len(head + ", ".join([*shown, name]) + more) > width:
            break
        shown.append(name)
    return head + ", ".join(shown) + f" (+{len(names) - len(shown)} more)"


def verdict_text(report: RunReport, label: str = "verdict") -> tuple[str, str]:
    """The verdict line (without the figures in brackets) and its colour."""
    verdict = report.verdict.upper()
    extra = ""
    if report.max_failures is not None:
        extra = f" (stopped after {plural(report.max_failures, 'failure')}: not every check ran)"
    elif not report.complete:
        extra = " (run interrupted: not every check ran)"
    if report.cause is not None and report.verdict == "fail":
        extra += f": {report.cause.phrase}"
    unrun = [c for c in report.unrun if not c.cause]
    if unrun and report.verdict == "incomplete":
        extra += f": {_count(unrun)} did not run"
    warnings = report.summary()["warnings"]
    if warnings and report.cause is None:
        extra += f" with {plural(warnings, 'warning')}"
    hue = {"pass": "green", "incomplete": "yellow"}.get(report.verdict, "red")
    return f"{label}: {verdict}{extra}", hue


def summary_text(
    report: RunReport,
    color: bool | None = None,
    verbose: bool = False,
    option: str = "--",
    *,
    quiet: bool = False,
    rerun: Callable[[str], str] | None = None,
    label: str = "verdict",
    width: int = WIDTH,
) -> str:
    """The root cause (if any), failures (message, transcript, rerun line), a table by
    area, what did not run, and the verdict.

    ``option``: the prefix of option names in advice (``--``: CLI, ``--octa-``: pytest).
    ``quiet``: the root cause, failures (without transcripts) and the verdict only; what
    did not run when the verdict is INCOMPLETE. ``rerun(id)``: the command
    line that runs one check again. ``label``: what the verdict line starts with.
    """
    color = use_color() if color is None else color
    out: list[str] = []
    cause = cause_text(report, color, rerun, width)
    if cause:
        out += ["", *cause]
    shown = [
        c
        for c in report.checks
        if not c.cause
        and (c.outcome in ("failed", "error") or (verbose and not quiet and c.transcript))
    ]
    if shown:
        out.append("")
        out.append(
            paint("Failures, warnings and errors:" if not verbose else "Details:", "bold", color)
        )
    for c in shown:
        label_word, hue = outcome_label(c, report.strict)
        out.append("")
        out.append(
            paint(f"{label_word} {c.id} ({c.level.value}): {c.spec.description}", hue, color)
        )
        out.extend("  " + ln for ln in c.message.splitlines())
        if c.transcript and not quiet:
            out.append("")
            out.extend("  " + ln for ln in c.transcript.splitlines())
        if rerun is not None and c.outcome in ("failed", "error"):
            out.append(paint(f"  rerun: {rerun(c.id)}", "bold", color))
    out.append("")
    if not quiet:
        out += _facts_and_table(report, color)
    if report.verdict == "incomplete":  # with a failure, what did not run changes nothing
        lines = not_run_text(report, option)
        if lines:
            out.append(paint(lines[0], "yellow", color))
            out.extend(lines[1:])
    text, hue = verdict_text(report, label)
    out.append(
        paint(text, hue, color)
        + f"  ({plural(len(report.checks), 'check')} in {report.duration_s:.1f} s,"
        f" target Octa {report.target}{', strict' if report.strict else ''})"
    )
    while quiet and out and not out[0]:
        out.pop(0)
    return "\n".join(out)


def _facts_and_table(report: RunReport, color: bool) -> list[str]:
    out = []
    facts = report.plugin
    if facts.key is not None or facts.requirement is not None:
        out.append(
            f"plugin: key {facts.key!r}, requires Octa {facts.requirement!r},"
            f" speaks dialect {facts.dialect or '?'}"
        )
    elif facts.error and report.cause is None:
        out.append(f"plugin: handshake failed: {facts.error.splitlines()[0]}")
    if not report.checks:
        out.append("no check finished")
        return out
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
    return out


def rerun_command(base: Sequence[str], select_option: str) -> Callable[[str], str]:
    """``rerun(id)`` -> ``octa-conform ./p --probe ... --select id``: ``base`` (the command
    and the options that matter), then the selection of the one check; shell-quoted."""
    return lambda check_id: shlex.join([*base, select_option, check_id])
