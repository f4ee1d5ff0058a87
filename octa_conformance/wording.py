"""The words failure messages use for what the plugin did.

Checks say what they expected and what arrived instead, in terms a plugin author knows:
frames as they were written, how a command ended, which processes were left behind. These
helpers turn the harness's objects (events, frames, run results, processes) into those words,
so that every check says the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

import psutil

from octa_conformance.host import FakeOcta, RunResult
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


def describe_result(result: RunResult) -> str:
    """Everything a finished command reported: exit code, error and stdout."""
    return f"exit code {result.exit_code}, error {result.error!r}, stdout {result.stdout!r}"


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
