"""What the host received, kept in order for checks that wait on it.

Every event the session reports (a frame, a violation, the connection's end) gets a
position counted from the first; a check takes a :meth:`EventBacklog.mark` and waits for the
first event after it that it cares about. Only the last ``EVENT_BACKLOG`` events are kept
(a flood pushes older ones out); the evidence a verdict needs (every violation) is kept by
the session, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from octa_conformance import waits
from octa_conformance.errors import ConnectionClosed, ReplyTimeout
from octa_conformance.protocol import Event

__all__ = ["EVENT_BACKLOG", "EventBacklog"]

EVENT_BACKLOG = 100_000  # events kept for next_frame()/wait_for(); older ones are dropped


class EventBacklog:
    """The last ``size`` events, their positions, and waits for the next matching one."""

    def __init__(self, size: int = EVENT_BACKLOG) -> None:
        self._events: deque[Event] = deque(maxlen=size)
        self._total = 0  # events ever appended: the position of the next one
        self._consumed = 0  # position after the last event taken with consume=True
        self._changed = asyncio.Event()
        self._ended = False

    def append(self, event: Event) -> None:
        self._events.append(event)
        self._total += 1

    def notify(self) -> None:
        """Wake the waiters: events were appended."""
        self._changed.set()

    def end(self) -> None:
        """No more events will come (the connection closed): waiters give up."""
        self._ended = True
        self._changed.set()

    def mark(self) -> int:
        """The position of the next event."""
        return self._total

    def since(self, mark: int) -> list[Event]:
        """The events at or after ``mark`` that are still kept."""
        first = self._total - len(self._events)
        return list(self._events)[max(0, mark - first) :]

    async def wait_for(
        self,
        predicate: Callable[[Event], bool],
        timeout: float,
        *,
        since: int | None,
        consume: bool,
        what: str,
    ) -> Event:
        """The first event at or after ``since`` (default: the first not consumed) that
        satisfies ``predicate``; ``consume``: later calls without ``since`` start after it.

        Raises :class:`ConnectionClosed` once no more events can come, :class:`ReplyTimeout`
        after ``timeout`` s; ``what`` names the awaited event in their messages.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pos = self._consumed if since is None else since
        while True:
            first = self._total - len(self._events)
            pos = max(pos, first)
            while pos < self._total:
                ev = self._events[pos - first]
                pos += 1
                if consume:
                    self._consumed = pos
                if predicate(ev):
                    return ev
            if self._ended:
                raise ConnectionClosed(f"the plugin closed the connection before {what}")
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                waits.expired(deadline - timeout, f"host: {what}")
                raise ReplyTimeout(f"no {what} within {timeout:.1f} s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
