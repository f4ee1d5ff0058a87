"""Unit tests of the hypothesis bridge (octa_conformance/property_checks.py), against stand-in
plugin sessions: which session each example runs on, what fails an example, the shrinking
budget, bounds, and what the failure and the report keep."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import strategies as st

from octa_conformance.checking import CheckFailure, fail
from octa_conformance.config import Timeouts
from octa_conformance.errors import HostError, LaunchError
from octa_conformance.property_checks import ExampleFailure, PluginProperty
from octa_conformance.protocol import Kind, Violation, ViolationLog


class StubProcess:
    def __init__(self) -> None:
        self.returncode: int | None = None
        self.stopped = False

    async def wait_exit(self, timeout: float) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True
        if self.returncode is None:
            self.returncode = -9


class StubHost:
    """What the bridge uses of a FakeOcta."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.process = StubProcess()
        self.plugin_closed = False
        self.violation_log = ViolationLog()
        self.seen: list[Any] = []

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"host {self.n}"


class StubContext:
    """What the bridge uses of a CheckContext: timeouts, hosts, processes, ready()."""

    def __init__(self, start_fails: bool = False) -> None:
        self.timeouts = Timeouts()
        self.hosts: list[StubHost] = []
        self.processes: list[StubProcess] = []
        self.started = 0
        self.start_fails = start_fails

    async def ready(self) -> StubHost:
        if self.start_fails:
            raise LaunchError("the plugin did not start")
        self.started += 1
        host = StubHost(self.started)
        self.hosts.append(host)
        self.processes.append(host.process)
        return host


def prop(ctx: StubContext, **kw: Any) -> PluginProperty[Any]:
    kw.setdefault("expected", "the plugin survives")
    kw.setdefault("max_examples", 30)
    return PluginProperty(ctx, **kw)  # type: ignore[arg-type]


async def test_passing_examples_share_one_session() -> None:
    ctx = StubContext()
    p = prop(ctx)

    async def body(host: StubHost, n: int) -> None:
        host.seen.append(n)

    await p.run(st.integers(0, 1000), body)
    assert ctx.started == 1
    assert p.host is ctx.hosts[0]
    assert len(p.host.seen) == p.examples_run > 1


async def test_failure_names_the_smallest_example_and_keeps_only_its_plugin() -> None:
    ctx = StubContext()
    p = prop(ctx, hint="stay alive")

    async def body(host: StubHost, n: int) -> None:
        if n >= 10:
            host.plugin_closed = True  # the plugin hung up on it
            host.process.returncode = 70

    with pytest.raises(ExampleFailure) as caught:
        await p.run(st.integers(0, 1000), body)
    e = caught.value
    assert e.expected == "the plugin survives"
    assert e.hint == "stay alive"
    assert e.got.endswith("; the example: 10")
    assert "closed the connection" in e.got and "exit status 70" in e.got
    assert not getattr(e, "__notes__", None)  # the example is in `got`, said once
    # a fresh plugin after each failure; only the failing one is left for the report
    assert ctx.started > 2
    assert ctx.hosts == [e.host]
    assert ctx.processes == [e.host.process]


async def test_a_failed_check_in_the_body_keeps_its_wording() -> None:
    ctx = StubContext()
    p = prop(ctx)

    async def body(host: StubHost, n: int) -> None:
        if n > 3:
            fail("a small number", f"{n}", "count less")

    with pytest.raises(CheckFailure) as caught:
        await p.run(st.integers(0, 100), body)
    assert (caught.value.expected, caught.value.hint) == ("a small number", "count less")
    assert caught.value.got == "4; the example: 4"


async def test_host_errors_and_breaking_violations_fail_an_example() -> None:
    ctx = StubContext()
    p = prop(ctx, breaking=frozenset({Kind.INVALID_JSON}))

    async def body(host: StubHost, n: int) -> None:
        if n == 1:
            host.violation_log.add(Violation.of(Kind.INVALID_JSON, "not JSON", b"{"))
        if n == 2:
            raise HostError("no Started within 5 s")

    with pytest.raises(ExampleFailure) as caught:
        await p.run(st.sampled_from([0, 1, 2]), body)
    assert "not JSON" in caught.value.got

    p = prop(StubContext())
    with pytest.raises(ExampleFailure) as caught:
        await p.run(st.sampled_from([0, 2]), body)
    assert caught.value.got == "no Started within 5 s; the example: 2"


async def test_violations_of_other_kinds_do_not_fail() -> None:
    p = prop(StubContext(), breaking=frozenset({Kind.INVALID_JSON}))

    async def body(host: StubHost, n: int) -> None:
        host.violation_log.add(Violation.of(Kind.DUPLICATE_ID, "id reused"))

    await p.run(st.integers(0, 5), body)


async def test_without_respawn_one_session_and_no_shrinking() -> None:
    ctx = StubContext()
    p = prop(ctx, respawn=False)

    async def body(host: StubHost, n: int) -> None:
        host.seen.append(n)
        if len(host.seen) == 5:
            fail("no fifth example", f"example #{len(host.seen)}")

    with pytest.raises(CheckFailure) as caught:
        await p.run(st.integers(0, 1000), body)
    assert ctx.started == 1
    assert p.examples_run == 5  # the replay of the failing example is remembered, not rerun
    assert caught.value.got.startswith("example #5; the example: ")


async def test_shrinking_stops_after_its_budget() -> None:
    ctx = StubContext()
    p = prop(ctx, shrink_runs=3)

    runs: list[bool] = []

    async def body(host: StubHost, n: list[int]) -> None:
        runs.append(sum(n) > 50)
        if runs[-1]:
            raise HostError("too much")

    with pytest.raises(ExampleFailure):
        await p.run(st.lists(st.integers(0, 100), min_size=3), body)
    assert len(runs) - runs.index(True) - 1 <= 3  # real runs after the first failure


async def test_an_example_that_hangs_fails_within_its_bound() -> None:
    p = prop(StubContext(), example_timeout=0.2, max_examples=3)

    async def body(host: StubHost, n: int) -> None:
        await asyncio.Event().wait()  # never set

    with pytest.raises(ExampleFailure) as caught:
        await p.run(st.just(1), body)
    assert "did not finish within 0.2 s" in caught.value.got


async def test_a_harness_error_is_raised_as_is_not_shrunk() -> None:
    ctx = StubContext()
    p = prop(ctx)
    calls = []

    async def body(host: StubHost, n: int) -> None:
        calls.append(n)
        if n > 5:
            raise KeyError("a bug in the check")

    with pytest.raises(KeyError):
        await p.run(st.integers(0, 100), body)
    assert calls[-1] > 5 and sum(1 for c in calls if c > 5) == 1


async def test_a_plugin_that_cannot_start_fails_as_itself() -> None:
    p = prop(StubContext(start_fails=True))

    async def body(host: StubHost, n: int) -> None:
        raise AssertionError("never runs")

    with pytest.raises(LaunchError):
        await p.run(st.integers(), body)


async def test_a_plugin_found_dead_after_a_passing_example() -> None:
    p = prop(StubContext(), respawn=False)

    async def body(host: StubHost, n: int) -> None:
        host.seen.append(n)
        if len(host.seen) == 2:
            host.process.returncode = 1  # died later, on its own

    with pytest.raises(ExampleFailure) as caught:
        await p.run(st.integers(0, 1000), body)
    assert "the plugin process ended afterwards" in caught.value.got


async def test_still_works_fails_for_a_dead_plugin() -> None:
    ctx = StubContext()
    p = prop(ctx, max_examples=2)

    async def body(host: StubHost, n: int) -> None:
        return None

    await p.run(st.just(0), body)
    assert p.host is not None
    p.host.plugin_closed = True
    with pytest.raises(CheckFailure) as caught:
        await p.still_works("fuzzing")
    assert caught.value.expected == "the plugin still running and connected after fuzzing"
