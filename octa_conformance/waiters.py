"""Who waits for what the session reports: the answer to each command the host sent (a
future) and each ``Execute``'s :class:`~octa_conformance.runs.Run`.

The host hands every :class:`~octa_conformance.protocol.Received` and
:class:`~octa_conformance.protocol.session.ReplyFailed` event here; nothing here judges a
frame: which frame answers which command, and when an answer failed, the session decided.
"""

from __future__ import annotations

import asyncio

from octa_conformance.errors import ConnectionClosed, MalformedReply
from octa_conformance.protocol import Execution, Received
from octa_conformance.protocol.session import FailReason, ReplyFailed, Sent
from octa_conformance.runs import Run

__all__ = ["Waiters"]


class Waiters:
    """A future per command waiting for its answer, a :class:`Run` per ``Execute``."""

    def __init__(self) -> None:
        self._replies: dict[Sent, asyncio.Future[Received]] = {}
        self.runs: list[Run] = []  # one per Execute, at its execution's index

    def expect(self, sent: Sent, run: Run | None) -> asyncio.Future[Received]:
        """A future for the frame that answers ``sent``; ``run`` follows its execution."""
        fut: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._replies[sent] = fut
        if run is not None:
            self.runs.append(run)
        return fut

    def received(self, ev: Received) -> None:
        """A frame arrived: it resolves the command it answers and wakes its run."""
        if ev.answers is not None:
            fut = self._replies.pop(ev.answers, None)
            if fut is not None and not fut.done():
                fut.set_result(ev)
        if ev.execution is not None:
            self.runs[ev.execution.index]._on_frame(ev.frame)

    def failed(self, ev: ReplyFailed) -> None:
        """Fail the waiter of a command answered by no frame (a refusal is its answer)."""
        fut = self._replies.pop(ev.sent, None)
        if fut is None or fut.done():
            return
        if ev.reason is FailReason.MALFORMED and ev.violation is not None:
            what = f"{ev.sent.command.TYPE} was answered by a malformed frame: {ev.violation}"
            fut.set_exception(MalformedReply(what, ev.violation))
        else:
            fut.set_exception(ConnectionClosed("the plugin closed the connection"))
        fut.exception()  # retrieved by whoever awaits it; none may

    def lost(self, execution: Execution) -> None:
        """The terminal frame of ``execution`` could not be decoded: its run waits no more."""
        self.runs[execution.index]._on_lost()

    def closed(self) -> None:
        """The connection ended: every run stops waiting."""
        for run in self.runs:
            run._on_closed()
