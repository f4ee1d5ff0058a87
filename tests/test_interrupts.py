"""Ctrl-C and SIGTERM: raised where they do no harm, held back where they would."""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest

from octa_conformance import interrupts

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers can only be installed in the main thread",
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_raises_keyboard_interrupt_and_is_remembered(sig: signal.Signals) -> None:
    with interrupts.signals_interrupt():
        assert not interrupts.received()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(sig)
        assert interrupts.received()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_deferred_holds_the_interrupt_back_until_the_block_ends() -> None:
    finished = []
    with interrupts.signals_interrupt(), pytest.raises(KeyboardInterrupt):  # noqa: SIM117
        with interrupts.deferred():
            with interrupts.deferred():  # nesting: only the outermost block lets it out
                signal.raise_signal(signal.SIGINT)
                finished.append("inner")
            finished.append("outer")
    assert finished == ["inner", "outer"]


def test_someone_elses_handler_is_left_alone() -> None:
    calls: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        with interrupts.signals_interrupt():
            signal.raise_signal(signal.SIGTERM)  # theirs: no KeyboardInterrupt
        assert calls == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_in_an_event_loop_the_interrupt_leaves_the_loop_and_tasks_clean_up() -> None:
    """Raised from the loop, not inside the task: the task is cancelled (its ``finally``
    runs) instead of ending with KeyboardInterrupt, which asyncio would log later as
    "Task exception was never retrieved"."""
    seen: dict[str, object] = {}

    async def check() -> None:
        seen["task"] = asyncio.current_task()
        try:
            signal.raise_signal(signal.SIGTERM)
            seen["after signal"] = True  # the task's own code is not cut
            await asyncio.Event().wait()  # would never end
        finally:
            seen["cleaned up"] = True

    with interrupts.signals_interrupt(), pytest.raises(KeyboardInterrupt):
        asyncio.run(check())
    task = seen["task"]
    assert isinstance(task, asyncio.Task) and task.cancelled()
    assert seen["after signal"] and seen["cleaned up"]


def test_an_interrupt_held_back_inside_a_task_leaves_the_loop_too() -> None:
    seen: dict[str, object] = {}

    async def check() -> None:
        seen["task"] = asyncio.current_task()
        with interrupts.deferred():
            signal.raise_signal(signal.SIGINT)
        await asyncio.Event().wait()

    with interrupts.signals_interrupt(), pytest.raises(KeyboardInterrupt):
        asyncio.run(check())
    task = seen["task"]
    assert isinstance(task, asyncio.Task) and task.cancelled()


def test_deferred_as_a_decorator_holds_back_each_call() -> None:
    finished: list[int] = []

    @interrupts.deferred()
    def clean_up(n: int) -> None:
        signal.raise_signal(signal.SIGTERM)
        finished.append(n)

    with interrupts.signals_interrupt():
        for n in (1, 2):  # a fresh block per call
            with pytest.raises(KeyboardInterrupt):
                clean_up(n)
    assert finished == [1, 2]
