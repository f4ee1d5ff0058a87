"""The words failure messages use for what the plugin did.

Checks say what they expected and what arrived instead, in terms a plugin author knows:
frames as they were written, how a command ended, which processes were left behind. These
helpers turn the harness's objects (events, frames, run results, processes) into those words,
so that every check says the same thing the same way.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterable

import psutil

from octa_conformance.host import FakeOcta, RunResult
from octa_conformance.probes import ProbeSet
from octa_conformance.protocol import Closed, ErrorReply, Event, Received, Violation
from octa_conformance.protocol.violations import quote


def short(text: str, limit: int | None = 80) -> str:
    """``repr(text)``, cut after ``limit`` characters (None: never) with the full length."""
    if limit is None or len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} chars)"


# --- frames and events ------------------------------------------------------------------


def describe_frame(ev: Received) -> str:
    """``a Schema frame: {...}``: what a frame is, then its bytes as they arrived."""
    frame = ev.frame
    if isinstance(frame, ErrorReply):
        what = f"an Error frame (id {frame.id!r}, message {frame.message!r})"
    else:
        what = f"a {frame.TYPE} frame"
    return f"{what}: {quote(ev.raw)}"


def describe_reply(host: FakeOcta, ev: Event | None, timeout: float | None = None) -> str:
    """What arrived instead of the expected reply (None: nothing within ``timeout``, by
    default ``timeouts.reply``)."""
    if ev is None:
        return f"no reply within {timeout or host.timeouts.reply:.1f} s"
    if isinstance(ev, Closed):
        status = host.process.returncode if host.process else None
        tail = f" (the process exited with status {status})" if status is not None else ""
        return f"the plugin closed the connection without replying{tail}"
    if isinstance(ev, Violation):
        return f"a protocol violation: {ev}"
    return describe_frame(ev)


def describe_event(ev: Event) -> str:
    """One event, briefly: a frame and (the start of) its line, a violation, or the close."""
    if isinstance(ev, Received):
        raw = ev.raw.decode("utf-8", "replace")
        return f"a {ev.frame.TYPE} frame {raw[:200]}"
    if isinstance(ev, Violation):
        return str(ev)
    return "the plugin closed the connection"


# --- commands ---------------------------------------------------------------------------


def describe_ending(result: RunResult, limit: int | None = 80) -> str:
    """The frame that ended a command: ``ExitStatus{code: 2}`` or ``Error{message: '...'}``
    (the message cut after ``limit`` characters)."""
    if result.error is not None:
        return f"Error{{message: {short(result.error, limit)}}}"
    if result.exit_code is not None:
        return f"ExitStatus{{code: {result.exit_code}}}"
    return "no terminal frame"


def describe_outcome(result: RunResult, limit: int | None = 80) -> str:
    """How a finished ``Execute`` ended, as a clause: refused, or ended with which frame."""
    if result.refused:
        return f"the Execute was refused with {describe_ending(result, limit)}"
    return f"it ended with {describe_ending(result, limit)}"


def describe_result(result: RunResult, limit: int = 400) -> str:
    """What a finished command reported: exit code, error and stdout (each text cut after
    ``limit`` characters, with its full length: a flood of output stays one readable line)."""
    error = None if result.error is None else short(result.error, limit)
    return f"exit code {result.exit_code}, error {error}, stdout {short(result.stdout, limit)}"


# --- processes --------------------------------------------------------------------------


def describe_processes(procs: Iterable[psutil.Process], limit: int = 80) -> str:
    """``pid 4242 (sleep 30), ...``: each process with its command line (cut after
    ``limit`` characters; its name if the command line is empty; ``?`` if it is gone)."""
    parts = []
    for p in procs:
        try:
            cmd = " ".join(p.cmdline()) or p.name()
        except psutil.Error:
            cmd = "?"
        parts.append(f"pid {p.pid} ({cmd[:limit]})")
    return ", ".join(parts)


# --- probes -----------------------------------------------------------------------------

_LITERAL = re.compile(r"'(?:[^'\\\n]|\\.)*'" + r'|"(?:[^"\\\n]|\\.)*"')


def _bare(text: str) -> str:
    """``text`` without quote characters, backslashes and white space."""
    return "".join(ch for ch in text if ch not in "'\"\\" and not ch.isspace())


def _texts(got: str) -> list[str]:
    """``got`` itself and the Python string literals (reprs) quoted in it."""
    out = [got]
    for m in _LITERAL.finditer(got):
        with contextlib.suppress(ValueError, SyntaxError):
            value = ast.literal_eval(m.group())
            if isinstance(value, str):
                out.append(value)
    return out


def mangled(sent: str, got: str) -> bool:
    """Does ``got`` (a command's output, or a message quoting it with ``repr``) hold the text
    ``sent`` with only its quotes, backslashes or inner spacing changed, as quoting for the
    wrong language does (a quoted word printed with its quotes, a text split into words)?

    A text cut short (``short()`` cuts after 80 characters) counts from 8 characters on.
    """
    want = _bare(sent)
    if not want:
        return False
    for text in _texts(got):
        bare = _bare(text)
        if not bare or text.strip() == sent.strip() or sent.startswith(text):
            continue  # absent, or the text itself (perhaps cut short): not mangled
        if bare == want or (len(bare) >= 8 and len(text) >= 80 and want.startswith(bare)):
            return True
    return False


def quoting_hint(probes: ProbeSet, got: str, sent: Iterable[str] | None = None) -> str:
    """A hint naming the probes' quoting, or "" when it cannot be the cause.

    It is given when the plugin's author chose the probes (config file, ``--probe``) and
    ``got`` holds one of the probe values ``sent`` (default: every value rendered from
    ``probes``, see ``ProbeSet.journal``) mangled the way a wrong quoting mangles it.
    """
    if not probes.chosen:
        return ""
    if sent is None:
        sent = [v for _, values in probes.journal for v in values.values()]
    if not any(mangled(v, got) for v in dict.fromkeys(sent)):
        return ""
    seen = "the output is the probe's text with its quotes, backslashes or spacing changed"
    if probes.quoting == "shell":
        return (
            f'{seen}, and probe values are quoted for a shell (quoting = "shell"): if the'
            " plugin does not run params through a shell, or the template quotes the value"
            ' itself, set quoting = "none" under [probes] (or --probe quoting=none)'
        )
    return (
        f'{seen}, and probe values are substituted unquoted (quoting = "none"): if the'
        ' plugin runs params through a shell, set quoting = "shell" under [probes]'
        " (or --probe quoting=shell) so that each value stays one word"
    )
