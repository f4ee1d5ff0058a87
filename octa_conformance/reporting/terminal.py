"""Human-readable output: a line per check while running, then failures, a table, the verdict.

Everything is in catalogue order, area by area (``launch`` first), like the table at the end.
Every line reads the same without colour (the outcome is always spelled out). Colour
(:func:`use_color`): never with ``NO_COLOR`` set; forced by ``FORCE_COLOR`` or
``CLICOLOR_FORCE`` (CI logs); otherwise only on a terminal whose ``TERM`` is not ``dumb``.

When the plugin could not be started or handshaken at all (the run's root cause), the checks
that only repeat it are not listed one by one: the cause is said once, with the plugin's
output, and they are summed up one line per area.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from octa_conformance import catalogue
from octa_conformance.results import CAUSE_LAUNCH, CAUSE_PHRASES, CheckResult, RunReport

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


def _isatty(stream: object) -> bool:
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
    return _isatty(stream)


def terminal_width(stream: TextIO | None = None) -> int:
    """The width of the terminal ``stream`` writes to (``COLUMNS`` wins; else WIDTH)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    stream = sys.stdout if stream is None else stream
    if _isatty(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or WIDTH
        except (OSError, ValueError, AttributeError):
            pass
    return WIDTH


def paint(text: str, color: str, enabled: bool) -> str:
    return f"\x1b[{_COLORS[color]}m{text}\x1b[0m" if enabled else text


def plural(n: int, word: str) -> str:
    """``1 check``, ``2 checks``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


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


def catalogue_order(results: Sequence[CheckResult]) -> list[CheckResult]:
    """``results`` in catalogue order (area by area, as in the summary)."""
    order = {cid: i for i, cid in enumerate(catalogue.CHECKS)}
    return sorted(results, key=lambda r: order.get(r.id, len(order)))


# --- figures (INFO checks) ------------------------------------------------------------


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


# --- while the checks run -------------------------------------------------------------


def _skip_reason(result: CheckResult) -> str:
    if result.missing_probes:
        names = ", ".join(f"'{p}'" for p in result.missing_probes)
        return f"needs probe {names}"
    return result.message.splitlines()[0] if result.message else ""


def progress_line(
    result: CheckResult, strict: bool, color: bool | None = None, counter: str = ""
) -> str:
    """``[ 3/62] PASS  launch.listens   MUST    0.12s`` (+ a short skip reason or note)."""
    color = use_color() if color is None else color
    label, hue = outcome_label(result, strict)
    line = (
        f"{counter + ' ' if counter else ''}{paint(f'{label:<5}', hue, color)}"
        f" {result.id:<42} {result.level.value:<6} {result.duration_s:6.2f}s"
    )
    if result.cause:
        line += f"  ({result.cause})"
    elif result.outcome == "skipped" and result.message:
        line += f"  ({_skip_reason(result)})"
    elif result.outcome == "xfailed":
        line += "  (known failure: in the baseline)"
    if result.stale_baseline:
        line += "  (passes now: remove it from the baseline)"
    return line


class LiveReporter:
    """Prints a line per check as results arrive (the CLI's live list).

    ``ordered``: results arrive in catalogue order (one process); otherwise (``-j``) they
    are kept and printed in catalogue order at the end. ``tty``: a ``[n/total]`` counter
    (and, where no line is printed for a while, a status line rewritten in place).
    ``quiet``: no line per check (failures are shown in the summary). Checks that only
    repeat the root cause are not listed: one line says so when the first one arrives.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        total: int,
        strict: bool,
        color: bool,
        tty: bool,
        quiet: bool = False,
        ordered: bool = True,
        width: int = WIDTH,
    ) -> None:
        self.stream, self.total, self.strict = stream, total, strict
        self.color, self.tty, self.quiet, self.ordered = color, tty, quiet, ordered
        self.width = width
        self.done = 0
        self.kept: list[CheckResult] = []
        self.cause_noted = False
        self._status = 0  # length of the status line on screen

    def _write(self, text: str) -> None:
        self._clear_status()
        print(text, file=self.stream, flush=True)

    def _clear_status(self) -> None:
        if self._status:
            self.stream.write("\r" + " " * self._status + "\r")
            self._status = 0

    def _show_status(self, result: CheckResult) -> None:
        text = f"[{self.done}/{self.total}] {result.id}"[: max(10, self.width - 1)]
        self._clear_status()
        self.stream.write(text)
        self.stream.flush()
        self._status = len(text)

    def counter(self) -> str:
        digits = len(str(self.total))
        return f"[{self.done:>{digits}}/{self.total}]" if self.tty else ""

    def lines(self, result: CheckResult, counter: str = "") -> list[str]:
        """The line(s) shown for ``result``: its progress line and its figures."""
        out = []
        if result.cause:
            if self.cause_noted:
                return []
            self.cause_noted = True
            if result.cause == CAUSE_PHRASES[CAUSE_LAUNCH]:
                what = "the other checks need a running plugin: not listed"
            else:
                what = "checks that fail the same way are not listed"
            out.append(progress_line(result, self.strict, self.color, counter))
            indent = " " * (len(counter) + 1 if counter else 0)
            out.append(paint(f"{indent}...   {what} (see the root cause below)", "dim", self.color))
            return out
        out.append(progress_line(result, self.strict, self.color, counter))
        if result.figures:
            indent = " " * (len(counter) + 7 if counter else 6)
            width = self.width - len(indent)
            out += [indent + ln for ln in figure_lines(result.figures, width)]
        return out

    def add(self, result: CheckResult) -> None:
        self.done += 1
        if self.quiet or not self.ordered:
            self.kept.append(result)
            if self.tty:
                self._show_status(result)
            return
        for line in self.lines(result, self.counter()):
            self._write(line)

    def finish(self) -> None:
        """Clear the status line; print the kept lines in catalogue order (``-j``)."""
        self._clear_status()
        if self.quiet:
            return
        for result in catalogue_order(self.kept):
            for line in self.lines(result):
                self._write(line)
        self.kept.clear()


# --- the summary ----------------------------------------------------------------------


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


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


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


# --- `octa-conform session`: the live exchange ------------------------------------

DIRECTION_STYLE = {"host": ("host   ->", "cyan"), "plugin": ("plugin <-", "green")}


def frame_line(t: float, direction: str, text: str, color: bool) -> str:
    """One frame of the session transcript: time, direction, content."""
    if direction in DIRECTION_STYLE:
        arrow, hue = DIRECTION_STYLE[direction]
        return f"{t:+9.3f}s {paint(arrow, hue, color)} {paint(text, hue, color)}"
    hue = "red" if text.startswith("!!") else "dim"
    return f"{t:+9.3f}s {paint('note    ', hue, color)} {paint(text, hue, color)}"
