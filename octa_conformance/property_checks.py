"""Property checks: a hypothesis property run against the plugin from an async check.

A check is a coroutine on the event loop that owns the plugin's connections; hypothesis
drives a plain function. :class:`PluginProperty` runs hypothesis in a worker thread and
hands each example to the check's loop, so a suite states only the protocol rule (the
strategy and what one example sends and demands)::

    prop = PluginProperty(octa, expected="the plugin survives the line", max_examples=40)
    await prop.run(garbage_lines, send_line, show=describe_line)
    await prop.still_works("garbage lines")

What the bridge takes care of:

* **Plugin sessions.** The examples share one plugin session, started before the first
  (a plugin that cannot start fails the check with that error, as any check would). With
  ``respawn=True`` a failed example retires its plugin and the next example starts a fresh
  one, so that shrinking tests every candidate on a healthy plugin; with ``respawn=False``
  the session is never replaced (its history is part of the property) and a failure ends
  the property without shrinking.
* **Judging an example.** It fails if its coroutine raises :class:`CheckFailure` (its
  expected/got/hint are kept) or a :class:`HostError`, if violations of the ``breaking``
  kinds were logged while it ran, or if the plugin closed the connection or exited.
* **Bounds.** Every example runs within ``example_timeout`` (by default
  ``connect + 3 * reply`` of ``octa.timeouts``); the worker thread gives up waiting for the
  loop shortly after that, and at once after Ctrl-C or when the check stopped.
* **Shrinking budget.** After the first failure at most ``shrink_runs`` further examples
  run for real; past that, candidates not seen count as passing, so shrinking stops at the
  smallest failure found so far. Verdicts are remembered per example, so hypothesis's
  replay of the final example sees the same failure without running it again.
* **Reporting.** The falsifying example becomes ``fail(expected, got, hint)`` with the
  example described in ``got``; only the transcript of the plugin that failed it is kept
  for the report (the others are stopped and dropped).

The examples are derandomized (the same on every run) and the database is off: a run
writes nothing and repeats itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from octa_conformance import interrupts
from octa_conformance.checking import CheckFailure, fail
from octa_conformance.context import CheckContext
from octa_conformance.errors import OctaConformanceError
from octa_conformance.host import FakeOcta, HostError
from octa_conformance.protocol import Kind
from octa_conformance.suite_helpers import session_still_works

T = TypeVar("T")

SHRINK_RUNS = 40
"""Examples run for real after the first failure (bounds shrinking)."""

_WAKE_PERIOD = 0.05  # how soon a worker thread waiting for the loop notices Ctrl-C


class _Abandoned(BaseException):
    """The check stopped waiting (interrupted, or its loop is gone). Not an ``Exception``:
    hypothesis lets it through at once instead of shrinking it."""


class _Broken(Exception):
    """The example found the plugin already broken, or could not start a fresh one."""


@dataclass(frozen=True)
class _Verdict:
    expected: str
    got: str
    hint: str
    host: FakeOcta | None


class ExampleFailure(CheckFailure):
    """A property's example broke the plugin; ``host`` is the plugin session it ran on."""

    def __init__(self, verdict: _Verdict) -> None:
        super().__init__(verdict.expected, verdict.got, verdict.hint)
        self.host = verdict.host


def plugin_state(host: FakeOcta) -> str:
    """The plugin's state in words: dead (with its exit status), disconnected or running."""
    rc = host.process.returncode if host.process is not None else None
    if rc is not None:
        return f"dead (exit status {rc})"
    if host.plugin_closed:
        return "disconnected (it closed the connection)"
    return "running"


def _alive(host: FakeOcta) -> bool:
    return not host.plugin_closed and (host.process is None or host.process.returncode is None)


def _digest(value: Any) -> str:
    """A key that tells generated examples apart (their full ``repr``)."""
    return hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).hexdigest()


class PluginProperty(Generic[T]):
    """One hypothesis property run against the plugin (see the module docstring).

    ``expected``/``hint``: the failure's wording when an example breaks the plugin without
    failing a check of its own. ``breaking``: violation kinds that fail an example.
    """

    def __init__(
        self,
        octa: CheckContext,
        *,
        expected: str,
        max_examples: int,
        hint: str = "",
        breaking: frozenset[Kind] = frozenset(),
        respawn: bool = True,
        shrink_runs: int = SHRINK_RUNS,
        example_timeout: float | None = None,
    ) -> None:
        self.octa = octa
        self.expected, self.hint = expected, hint
        self.max_examples = max_examples
        self.breaking = breaking
        self.respawn = respawn
        self.shrink_runs = shrink_runs if respawn else 0
        t = octa.timeouts
        self.example_timeout = (
            t.connect + 3 * t.reply if example_timeout is None else example_timeout
        )
        self.host: FakeOcta | None = None  # the session the latest example ran on
        self.examples_run = 0  # examples run for real (not replayed from memory)
        self._opened: list[FakeOcta] = []
        self._dirty = False  # the current plugin failed an example: start a fresh one
        self._previous = ""  # the example run before the current one, described
        self._verdicts: dict[str, _Verdict | None] = {}
        self._failed = False
        self._runs_after_failure = 0
        self._stop = threading.Event()
        self._error: Exception | None = None  # a harness error an example ran into

    # --- the property -------------------------------------------------------------

    async def run(
        self,
        strategy: st.SearchStrategy[T],
        body: Callable[[FakeOcta, T], Awaitable[None]],
        *,
        show: Callable[[T], str] = repr,
    ) -> None:
        """Run ``body(host, example)`` for the examples hypothesis draws from ``strategy``;
        fail the check with the smallest example that broke the plugin (``show`` describes
        an example in the failure)."""
        loop = asyncio.get_running_loop()
        phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if self.shrink_runs else [])

        @settings(
            max_examples=self.max_examples,
            deadline=None,
            derandomize=True,
            database=None,
            report_multiple_bugs=False,
            print_blob=False,
            phases=phases,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def property_holds(example: T) -> None:
            self._example(loop, example, body, show)

        if self.host is None:  # a plugin that cannot start at all fails the check as such
            self.host = await self.octa.ready()
            self._opened.append(self.host)
        try:
            await _in_thread(property_holds)
        except ExampleFailure as e:
            e.__notes__ = []  # hypothesis's "Falsifying example": ``got`` describes it
            await self._show_only(e.host)
            raise
        except OctaConformanceError:
            if self._error is not None:
                raise self._error from None
            raise
        finally:
            self._stop.set()

    async def still_works(self, after: str) -> None:
        """After all examples, the shared plugin is still running and connected, and its
        session still runs commands (``suite_helpers.session_still_works``)."""
        host = self.host
        if host is None:
            return
        if not _alive(host):
            fail(
                f"the plugin still running and connected after {after}",
                f"it is {plugin_state(host)}",
            )
        bound = self.octa.timeouts.reply * 3
        try:
            await asyncio.wait_for(session_still_works(self.octa, host, after), bound)
        except asyncio.TimeoutError:
            fail(
                f"the session still running commands after {after}",
                f"no answer within {bound:.1f} s",
            )

    # --- one example (in hypothesis's thread) -------------------------------------

    def _example(
        self,
        loop: asyncio.AbstractEventLoop,
        example: T,
        body: Callable[[FakeOcta, T], Awaitable[None]],
        show: Callable[[T], str],
    ) -> None:
        """Judge one example. There is a single ``raise`` for every failure, fresh or
        remembered: hypothesis tells bugs apart by where they are raised."""
        if self._stop.is_set() or interrupts.received():
            raise _Abandoned("the check stopped")
        key = _digest(example)
        if key in self._verdicts:
            verdict = self._verdicts[key]
        else:
            verdict = self._first_run(loop, key, example, body, show)
        if verdict is not None:
            raise ExampleFailure(verdict)

    def _first_run(
        self,
        loop: asyncio.AbstractEventLoop,
        key: str,
        example: T,
        body: Callable[[FakeOcta, T], Awaitable[None]],
        show: Callable[[T], str],
    ) -> _Verdict | None:
        """Run an example not seen before; its verdict (None: it passed)."""
        if self._failed:
            if self._runs_after_failure >= self.shrink_runs:
                return None  # budget spent: the smallest failure found so far stands
            self._runs_after_failure += 1
        self.examples_run += 1
        shown = show(example)
        bound = self.example_timeout
        ran_on: list[FakeOcta] = []
        try:
            outcome = self._on_loop(loop, self._judge(body, example, ran_on), bound)
        except _Broken as e:
            outcome = str(e)
        except asyncio.TimeoutError:
            outcome = f"the example did not finish within {bound:.1f} s"
        except Exception as e:  # a harness error: reported as such, never shrunk
            self._error = e
            raise _Abandoned("harness error") from e
        host = ran_on[-1] if ran_on else self.host
        self._previous = shown
        if outcome is None:
            self._verdicts[key] = None
            return None
        self._failed = self._dirty = True
        if isinstance(outcome, CheckFailure):
            verdict = _Verdict(
                outcome.expected, f"{outcome.got}; the example: {shown}", outcome.hint, host
            )
        else:
            verdict = _Verdict(self.expected, f"{outcome}; the example: {shown}", self.hint, host)
        self._verdicts[key] = verdict
        return verdict

    def _on_loop(
        self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], bound: float
    ) -> Any:
        """Run ``coro`` on the check's loop within ``bound`` seconds; its result."""
        bounded = asyncio.wait_for(coro, bound)
        try:
            future = asyncio.run_coroutine_threadsafe(bounded, loop)
        except RuntimeError:  # the loop is closed
            bounded.close()
            coro.close()
            raise _Abandoned("the check's event loop is closed") from None
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        # the loop's own wait_for ends the example; this only catches a loop that stopped
        deadline = time.monotonic() + bound + self.octa.timeouts.exit
        while not done.wait(_WAKE_PERIOD):
            if self._stop.is_set() or interrupts.received() or time.monotonic() > deadline:
                future.cancel()
                raise _Abandoned("the check's event loop stopped serving the example")
        if future.cancelled():  # the loop cancelled it: the check is being torn down
            raise _Abandoned("the example was cancelled")
        return future.result()

    # --- on the loop ----------------------------------------------------------------

    async def _judge(
        self,
        body: Callable[[FakeOcta, T], Awaitable[None]],
        example: T,
        ran_on: list[FakeOcta],
    ) -> CheckFailure | str | None:
        """Run one example; what broke (a failed check, a problem in words) or None."""
        host = await self._session()
        ran_on.append(host)
        seen = host.violation_log.mark()
        problem: str | None = None
        try:
            await body(host, example)
        except CheckFailure as e:
            return e
        except HostError as e:
            problem = str(e)
        broken = [v for v in host.violation_log.since(seen) if v.kind in self.breaking]
        if broken:
            problem = (problem + "; " if problem else "") + "; ".join(map(str, broken[:3]))
        elif problem is None and host.plugin_closed:
            problem = "the plugin closed the connection afterwards"
        elif problem is None and not _alive(host):
            problem = "the plugin process ended afterwards"
        if problem is not None and host.plugin_closed and host.process is not None:
            # Did it die? A crash closes the connection as the process ends, so the exit
            # shows within moments: a tenth of Octa's exit window, not all of it (a plugin
            # that hung up and lives on must not cost a second per example).
            await host.process.wait_exit(self.octa.timeouts.exit / 10)
        if problem is not None and host.process is not None and host.process.returncode is not None:
            problem += f" (the plugin process is {plugin_state(host)})"
        return problem

    async def _session(self) -> FakeOcta:
        """The shared session, or a fresh plugin if the last one failed an example."""
        host = self.host
        if host is not None and not self._dirty:
            if _alive(host):
                return host
            raise _Broken(
                f"the plugin was found {plugin_state(host)} before this example, after it"
                f" had passed the previous one ({self._previous})"
            )
        if host is not None:
            await self._retire(host)
        try:
            host = await self.octa.ready()
        except OctaConformanceError as e:
            raise _Broken(f"a fresh plugin process could not be started: {e}") from None
        self.host = host
        self._opened.append(host)
        self._dirty = False
        return host

    async def _retire(self, host: FakeOcta) -> None:
        """Stop a plugin that failed an example; its transcript stays out of the report
        unless its failure is the one reported."""
        await host.close()
        if host.process is not None:
            await host.process.stop()
            with contextlib.suppress(ValueError):
                self.octa.processes.remove(host.process)
        with contextlib.suppress(ValueError):
            self.octa.hosts.remove(host)

    async def _show_only(self, host: FakeOcta | None) -> None:
        """Keep only the failing plugin's transcript for the report; stop the others."""
        if host is None:
            return
        for other in self._opened:
            if other is not host and other in self.octa.hosts:
                await self._retire(other)
        if host not in self.octa.hosts:
            self.octa.hosts.append(host)
        if host.process is not None and host.process not in self.octa.processes:
            self.octa.processes.append(host.process)


async def _in_thread(fn: Callable[[], None]) -> None:
    """Run ``fn`` in a daemon thread and wait for it without blocking the loop (a thread
    abandoned by an interrupted check cannot hold up the interpreter's exit)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def target() -> None:
        error: BaseException | None = None
        try:
            fn()
        except _Abandoned as e:
            error = OctaConformanceError(f"property check abandoned: {e}")
        except BaseException as e:
            error = e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=target, name="octa-property-check", daemon=True).start()
    await done
