"""Spawn-ahead: the next check's plugin process is started while the current check runs.

A spare is started once a check has connected to its plugin (or when it ends), taken by the
next ``CheckContext.spawn()`` with the same arguments, replaced when it does not fit, and
killed with every other plugin process by ``kill_all()`` (run end, Ctrl-C): never leaked.
In a run, a spare is started only for a check that will take it: none after the last check.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conformance_run import STALLS, front_door_command, octa_conform_here, stall_marks

from octa_conformance import context
from octa_conformance.context import (
    SPAWN_AHEAD_ENV,
    CheckContext,
    PluginInfo,
    discard_spare,
    plan_spares,
)
from octa_conformance.settings import RunOptions
from octa_conformance.supervisor import PluginProcess, kill_all

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "octa_plugin_shell.py"


@pytest.fixture(autouse=True)
def no_spare(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts and ends without a spare, with spawn-ahead on (and unplanned)."""
    monkeypatch.delenv(SPAWN_AHEAD_ENV, raising=False)
    discard_spare()
    plan_spares()
    yield
    discard_spare()
    plan_spares()


def new_context(check_id: str = "execute.started-first") -> CheckContext:
    return CheckContext(RunOptions(plugin=EXAMPLE), PluginInfo(), check_id)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_the_next_spawn_takes_the_spare_started_during_a_check() -> None:
    first = new_context()
    await first.launch()
    spare = context.SPARE.process
    assert spare is not None, "a spare is started once the check has connected"
    assert spare not in first.processes
    await first.aclose()
    assert spare.returncode is None, "the spare outlives the check that started it"

    second = new_context()
    taken = second.spawn()
    assert taken is spare
    assert second.processes == [taken]
    host = await second.connect(taken)
    await host.handshake()  # a fresh plugin: nothing has talked to it before
    await second.aclose()
    assert taken.closed, "a spare taken by a check is stopped with that check"
    assert context.SPARE.process is not None and context.SPARE.process is not spare


async def test_other_arguments_fresh_spawns_and_measuring_checks_leave_the_spare_alone() -> None:
    ctx = new_context()
    await ctx.launch()
    spare = context.SPARE.process
    assert spare is not None
    others = [
        ctx.spawn(fresh=True),
        ctx.spawn(socket_name="octa.named.sock"),
        ctx.spawn(extra_args=["--log-dir", str(ctx.scratch())]),
        ctx.spawn(env=dict(os.environ)),
    ]
    assert spare not in others
    assert context.SPARE.process is spare
    await ctx.aclose()

    measuring = new_context("launch.startup-time")
    discard_spare()
    await measuring.launch()
    assert context.SPARE.process is None, "no start-up runs alongside a measurement"
    await measuring.aclose()
    assert context.SPARE.process is not None, "its spare is started when it ends"


async def test_a_spare_from_another_environment_is_killed_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = new_context()
    await ctx.aclose()  # ends without a spare: starts one
    spare = context.SPARE.process
    assert spare is not None
    monkeypatch.setenv("OCTA_SPAWN_AHEAD_TEST", "changed")
    other = new_context()
    process = other.spawn()
    assert process is not spare
    assert spare.closed and gone(spare.pid)
    await other.aclose()


async def test_a_spare_that_exited_is_replaced() -> None:
    ctx = new_context()
    await ctx.aclose()
    spare = context.SPARE.process
    assert spare is not None
    spare.send_signal(signal.SIGKILL)
    assert await spare.wait_exit(5) is not None
    other = new_context()
    process = other.spawn()
    assert process is not spare and spare.closed
    await other.launch()
    await other.aclose()


async def test_spawn_ahead_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPAWN_AHEAD_ENV, "0")
    ctx = new_context()
    await ctx.launch()
    await ctx.aclose()
    assert context.SPARE.process is None


async def test_no_spare_when_no_later_check_will_take_it() -> None:
    plan_spares(now=True, later=False)  # the last check of a run
    ctx = new_context()
    await ctx.launch()
    assert context.SPARE.process is None, "no later check: no spare while it runs"
    await ctx.aclose()
    assert context.SPARE.process is None, "nor when it ends"


# (selection, plugin processes the checks need besides the run's first handshake, of which
# spares): every spare started is taken, none is started after the last check
RUNS = [
    (["execute.started-first"], 1, 1),  # the spare started alongside the handshake
    (["launch.listens"], 1, 0),  # it starts its process fresh: no spare at all
    (["execute.started-first", "execute.one-terminal-frame"], 2, 2),  # the second's spare
]


@pytest.mark.parametrize(("select", "needed", "spares"), RUNS, ids=lambda v: str(v))
def test_a_run_starts_only_the_processes_its_checks_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, select: list[str], needed: int, spares: int
) -> None:
    spawned: list[PluginProcess] = []
    spawn = PluginProcess.spawn.__func__  # type: ignore[attr-defined]

    def counted(cls: type[PluginProcess], *args: object, **kw: object) -> PluginProcess:
        process = spawn(cls, *args, **kw)
        spawned.append(process)
        return process

    monkeypatch.setattr(PluginProcess, "spawn", classmethod(counted))
    before = dict(context.SPARE.stats)
    args: list[str] = []
    for s in select:
        args += ["--select", s]
    run = octa_conform_here(EXAMPLE, *args, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    stats = {k: v - before[k] for k, v in context.SPARE.stats.items()}
    assert len(spawned) == 1 + needed, f"plugin processes started: {len(spawned)}, {stats}"
    assert stats == {"spawned": spares, "taken": spares, "discarded": 0}
    assert context.SPARE.wanted_later, "the run's plan does not outlive it"


def test_the_checks_that_start_fresh_are_the_ones_given_no_spare() -> None:
    """``context._STARTS_FRESH`` names every bundled check that spawns ``fresh=True`` (a spare
    started for it would wait unused), and no other."""
    fresh = set()
    for suite in (ROOT / "suites").glob("test_*.py"):
        for chunk in suite.read_text(encoding="utf-8").split("@check(")[1:]:
            if "fresh=True" in chunk:
                fresh.add(chunk.split('"')[1])
    assert fresh == set(context._STARTS_FRESH)


async def test_kill_all_kills_the_spare() -> None:
    ctx = new_context()
    await ctx.aclose()
    spare = context.SPARE.process
    assert spare is not None
    kill_all()
    assert spare.closed and gone(spare.pid)
    assert not spare.workdir.exists()


# --- never leaked when the run is interrupted ------------------------------------------

def _command_and_spare(lines: list[str]) -> bool:
    """A command runs and the spare for the next check has started: three starts, the run's
    first handshake, the check's process and the spare."""
    starts = [ln for ln in lines if ln.startswith("start ")]
    return any(ln.startswith("exec ") for ln in lines) and len(starts) >= 3


# The pytest door is slow-marked: its Ctrl-C path (kill_all, spare included) is also proved
# in the quick loop by test_pytest_plugin.py::test_interrupted_pytest_run_stops_and_cleans_up.
@pytest.mark.parametrize("front_door", ["cli", pytest.param("pytest", marks=pytest.mark.slow)])
def test_an_interrupted_run_leaves_no_spare_behind(tmp_path: Path, front_door: str) -> None:
    """Ctrl-C while a check waits on its plugin and the spare for the next check is
    running: both are gone when the harness has exited."""
    marker = tmp_path / "marker"
    select = ["execute.started-first", "execute.one-terminal-frame"]
    command = front_door_command(front_door, STALLS, select, tmp_path)
    env = {**os.environ, "STALL_MARKER": str(marker)}
    env.pop(SPAWN_AHEAD_ENV, None)
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        marks = stall_marks(marker, _command_and_spare, 60)
        starts = [ln for ln in marks if ln.startswith("start ")]
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pids = [int(ln.split()[1]) for ln in starts]
    alive = [pid for pid in pids if not gone(pid)]
    with contextlib.suppress(psutil.Error):
        alive = [pid for pid in alive if str(STALLS) in " ".join(psutil.Process(pid).cmdline())]
    assert not alive, f"plugin processes left running: {alive}\n{stdout}{stderr}"
