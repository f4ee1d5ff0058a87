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

Callers: the host's event wait (``event_backlog.EventBacklog.wait_for``: quiet windows,
continuation windows, frames that did not come), its latch (``async_waits.Latch.wait``:
replies, ``Started``, terminal frames, the plugin closing), the process waits
(``process_tree``: ``PluginProcess.wait_exit``, the kill grace) and the suites' own polling
loops. The bench (``bench/waits_plugin.py``) reads them per check.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Expired", "expired", "mark", "since", "wall_seconds"]

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
