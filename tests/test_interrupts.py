"""Ctrl-C and SIGTERM: raised where they do no harm, held back where they would."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from conformance_run import STALLS, front_door_command, stall_marks

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


# --- no traceback on any interrupt path -------------------------------------------


def running(lines: list[str]) -> bool:
    """The plugin got an Execute: a command is running."""
    return any(ln.startswith("exec ") for ln in lines)


@pytest.mark.parametrize(
    "runs", [1, pytest.param(2, marks=pytest.mark.slow, id="2-more")], ids=lambda n: f"{n}-run"
)
@pytest.mark.parametrize("front_door", ["cli", "pytest"])
def test_ctrl_c_while_the_plugin_drops_its_connection_prints_no_traceback(
    tmp_path: Path, front_door: str, runs: int
) -> None:
    """SIGINT to the harness while a check waits for a command's end, and the plugin drops
    its connection at that moment: exit 130, a short notice, no traceback and no "Task
    exception was never retrieved". The race (the abandoned task ends during the clean-up,
    then is collected) does not show every time: three runs for each front door, one in
    the quick loop (``-m 'not slow'``) and two more with the slow tests."""
    command = front_door_command(front_door, STALLS, ["execute.started-first"], tmp_path)
    interrupted = 130 if front_door == "cli" else pytest.ExitCode.INTERRUPTED
    for attempt in range(runs):
        marker = tmp_path / f"marker{attempt}"
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1", "STALL_MARKER": str(marker)},
        )
        try:
            execs = [ln for ln in stall_marks(marker, running, 30) if ln.startswith("exec ")]
            pid = int(execs[0].split()[1])
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        output = stdout + stderr
        assert proc.returncode == interrupted, output
        assert "Traceback" not in output, output
        assert "never retrieved" not in output, output
        assert "interrupted" in output.lower(), output


def test_abandoned_task_errors_after_an_interrupt_are_not_logged() -> None:
    """The clean-up hook itself: once the interrupt flag is set, a task that ends with an
    exception nobody retrieves is not reported; before it, it is."""
    from octa_conformance.pytest_plugin.interrupt_guards import quiet_after_interrupt

    reported: list[dict[str, object]] = []

    async def fails() -> None:
        raise RuntimeError("the connection closed")

    async def main(interrupt: bool) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: reported.append(context))
        flag = quiet_after_interrupt(loop)
        flag[0] = interrupt
        task = loop.create_task(fails())
        await asyncio.wait([task])
        del task
        gc.collect()

    asyncio.run(main(interrupt=True))
    assert reported == []
    asyncio.run(main(interrupt=False))
    assert [c["message"] for c in reported] == ["Task exception was never retrieved"]


def test_a_keyboard_interrupt_python_cannot_raise_is_not_reported() -> None:
    """Our signal's KeyboardInterrupt landing in a weakref callback or ``__del__``: dropped
    (the interrupt is remembered anyway); any other unraisable exception is passed on."""
    from octa_conformance.pytest_plugin.interrupt_guards import unraisable_hook

    passed_on: list[BaseException | None] = []
    hook = unraisable_hook(lambda u: passed_on.append(u.exc_value))

    class Args:
        def __init__(self, exc: BaseException) -> None:
            self.exc_value = exc

    hook(Args(KeyboardInterrupt("signal 2")))
    other = ValueError("boom")
    hook(Args(other))
    assert passed_on == [other]
