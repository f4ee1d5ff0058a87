"""What is printed while something runs: a line per check (the CLI's live list), a line per
frame of ``octa-conform session``.

The live list is in catalogue order, area by area (``launch`` first), like the table at the
end. When the plugin could not be started or handshaken at all (the run's root cause), the
checks that only repeat it are not listed one by one: one line says so.
"""

from __future__ import annotations

from typing import TextIO

from octa_conformance.reporting.figures import figure_lines
from octa_conformance.reporting.style import WIDTH, outcome_label, paint, use_color
from octa_conformance.results import CAUSE_LAUNCH, CAUSE_PHRASES, CheckResult, catalogue_order


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


# --- `octa-conform session`: the live exchange ------------------------------------

DIRECTION_STYLE = {"host": ("host   ->", "cyan"), "plugin": ("plugin <-", "green")}


def frame_line(t: float, direction: str, text: str, color: bool) -> str:
    """One frame of the session transcript: time, direction, content."""
    if direction in DIRECTION_STYLE:
        arrow, hue = DIRECTION_STYLE[direction]
        return f"{t:+9.3f}s {paint(arrow, hue, color)} {paint(text, hue, color)}"
    hue = "red" if text.startswith("!!") else "dim"
    return f"{t:+9.3f}s {paint('note    ', hue, color)} {paint(text, hue, color)}"
