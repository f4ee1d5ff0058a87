"""Deadline time: how long the harness waited for deadlines that expired.

A bounded wait ends one of two ways. Either what it waits for happens (a reply, an exit, the
end of a command): then it cost what the plugin took. Or its deadline passes (a quiet window
that proves nothing arrives, an optional continuation that did not come, a reply or an exit
that timed out): then it cost its whole length, however fast the plugin is. Only the second
kind is the harness's own waiting, and issue 13's goal is to keep it small.

:func:`expired` records one wait of the second kind. It is cheap (a clock read and an append
under a lock) and always on, so the places that wait with a deadline can call it in one line
when their deadline passes::

    started = time.monotonic()
    ...  # the bounded wait, which ran out
    waits.expired(started, "launch.quiet-before-hello: quiet window")

:func:`mark` and :func:`since` give the records of a stretch of time (one check: the bench's
pytest plugin takes a mark before each check); :func:`wall_seconds` merges overlapping records
(several plugins waited on concurrently cost their longest wait, not the sum).

Until the host and the supervisor call :func:`expired` themselves, :func:`instrument` wraps
their waits (``FakeOcta.wait_for``, the host's reply latches, ``PluginProcess.wait_exit``
and the kill grace) so that the bench can measure; it is never called by a normal run.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Expired", "expired", "instrument", "mark", "since", "wall_seconds"]

LOG_MAX = 100_000  # records kept; older ones drop out (a mark past them sees fewer)


@dataclass(frozen=True)
class Expired:
    """One wait that ended by its deadline: when it started and ended (``time.monotonic()``)."""

    start: float
    end: float
    what: str

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


_lock = threading.Lock()
_log: deque[Expired] = deque(maxlen=LOG_MAX)
_count = 0  # records ever made; _log holds the last LOG_MAX of them


def expired(started: float, what: str, ended: float | None = None) -> None:
    """Record a wait begun at ``started`` (``time.monotonic()``) that ran out (at ``ended``,
    default now)."""
    global _count
    record = Expired(started, time.monotonic() if ended is None else ended, what)
    with _lock:
        _log.append(record)
        _count += 1


def mark() -> int:
    """A position in the record stream, for :func:`since`."""
    return _count


def since(position: int) -> list[Expired]:
    """The records made at or after ``position`` that are still kept."""
    with _lock:
        first = _count - len(_log)
        return list(_log)[max(0, position - first) :]


def wall_seconds(records: Iterable[Expired]) -> float:
    """Seconds of wall time covered by ``records`` (overlapping waits counted once)."""
    total = 0.0
    end = float("-inf")
    for rec in sorted(records, key=lambda r: r.start):
        if rec.end <= end:
            continue
        total += rec.end - max(rec.start, end)
        end = rec.end
    return total


# --- instrumentation for the bench -------------------------------------------------------

_instrumented = False


def _wrap_async(owner: Any, name: str, ran_out: Callable[[Any, tuple, dict], bool], what: str):
    original = getattr(owner, name, None)
    if original is None or getattr(original, "_octa_waits", False):
        return

    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            result = await original(*args, **kwargs)
        except BaseException as exc:
            if ran_out(exc, args, kwargs):
                expired(started, what)
            raise
        if ran_out(result, args, kwargs):
            expired(started, what)
        return result

    timed._octa_waits = True  # type: ignore[attr-defined]
    setattr(owner, name, timed)


def _positive(args: tuple, kwargs: dict, index: int, key: str = "timeout") -> bool:
    value = kwargs.get(key, args[index] if len(args) > index else None)
    return value is None or value > 0


def instrument() -> None:
    """Record the expired waits of the host and the supervisor (bench only; idempotent).

    Wrapped: ``FakeOcta.wait_for`` (raising ``ReplyTimeout``), the host's reply latch
    (``_Latch.wait``, or ``async_waits.Latch.wait``, returning False: replies, ``Started``,
    terminal frames, the plugin closing), ``PluginProcess.wait_exit`` (returning None) and
    the kill grace (``PluginProcess._wait_dead``, or ``ProcessTree.wait_until_gone``,
    returning False). Both layouts of the host and supervisor modules (before and after
    their split into smaller modules) are handled.
    """
    global _instrumented
    if _instrumented:
        return
    _instrumented = True
    from octa_conformance import host, supervisor

    _wrap_async(
        host.FakeOcta,
        "wait_for",
        lambda r, a, k: isinstance(r, host.ReplyTimeout),
        "host.wait_for (a frame, a quiet window)",
    )
    latches = [getattr(host, "_Latch", None)]  # before host.py was split
    try:
        from octa_conformance import async_waits  # after the split
    except ImportError:
        pass
    else:
        latches.append(getattr(async_waits, "Latch", None))
    for latch in dict.fromkeys(latches):
        if latch is not None:
            _wrap_async(
                latch,
                "wait",
                lambda r, a, k: r is False and _positive(a, k, 1),
                "host reply latch (a reply, Started, a terminal frame, the plugin closing)",
            )
    process = getattr(supervisor, "PluginProcess", None)
    if process is not None:
        _wrap_async(
            process,
            "wait_exit",
            lambda r, a, k: r is None and _positive(a, k, 1),
            "PluginProcess.wait_exit",
        )
        _wrap_async(  # the kill grace, before supervisor.py was split
            process,
            "_wait_dead",
            lambda r, a, k: r is False,
            "PluginProcess stop: kill grace",
        )
    try:  # the kill grace, after the split
        from octa_conformance import process_tree
    except ImportError:
        return
    tree = getattr(process_tree, "ProcessTree", None)
    if tree is not None:
        _wrap_async(
            tree,
            "wait_until_gone",
            lambda r, a, k: r is False,
            "PluginProcess stop: kill grace",
        )
