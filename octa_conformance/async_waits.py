"""Two small asyncio waits the host is built on, each bounded by a timeout.

A future's done-callbacks run one event-loop iteration late; the host's ``Execute`` round
trip is measured against a bare client (bench/run.py), so its hot waits use a
:class:`Latch`, whose waiters wake in the very iteration it is set.
"""

from __future__ import annotations

import asyncio
from typing import Any

from octa_conformance import waits

__all__ = ["Latch", "settled"]


class Latch:
    """A one-way flag whose waiters wake in the very iteration it is set."""

    __slots__ = ("_waiters", "is_set")

    def __init__(self) -> None:
        self.is_set = False
        self._waiters: list[asyncio.Future[None]] = []

    def set(self) -> None:
        if self.is_set:
            return
        self.is_set = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, timeout: float | None) -> bool:
        """Wait until set or ``timeout`` s pass; whether it is set."""
        if self.is_set:
            return True
        if timeout is not None and timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = None if timeout is None else loop.call_later(timeout, _release, waiter)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        if timer is not None and not self.is_set:
            waits.expired(timer.when() - timeout, "host: a reply, Started or a terminal frame")
        return self.is_set


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def settled(fut: asyncio.Future[Any], timeout: float | None) -> bool:
    """Wait until ``fut`` is done or ``timeout`` s pass; whether it is done. Never cancels it.

    What ``wait_for(shield(fut), timeout)`` does, without a task of its own.
    """
    if fut.done():
        return True
    latch = Latch()

    def wake(_: object) -> None:
        latch.set()

    fut.add_done_callback(wake)
    try:
        await latch.wait(timeout)
    finally:
        fut.remove_done_callback(wake)
    return fut.done()
