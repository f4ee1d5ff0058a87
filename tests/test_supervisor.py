"""Tests of the plugin process supervisor, driven by the throwaway plugins in tests/plugins/."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from octa_conformance import reaper
from octa_conformance.config import HarnessConfig, Timeouts
from octa_conformance.errors import LaunchError, OctaConformanceError
from octa_conformance.process_tree import SESSION_ENV_VAR
from octa_conformance.reaper import kill_all
from octa_conformance.supervisor import PluginProcess

PLUGINS = Path(__file__).parent / "plugins"
HOSTILE = Path(__file__).parent / "hostile"
FAST = HarnessConfig(timeouts=Timeouts().scaled(0.2), output_buffer=64 * 1024)
NORMAL = HarnessConfig(output_buffer=64 * 1024)
TEST_BOUND = 30.0  # no test may run longer: a bound that only catches hangs, no timing

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def bounded(fn: F) -> F:
    """Fail an async test that takes longer than TEST_BOUND instead of hanging the run."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(fn(*args, **kwargs), TEST_BOUND)

    return wrapper  # type: ignore[return-value]


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every ``poll`` seconds until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(Timeouts().poll)


def gone(proc: psutil.Process) -> bool:
    """True if the process no longer exists (zombies count as existing: not reaped)."""
    return not proc.is_running()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"ping\n")
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return line


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    """Kill whatever a failing test left running, and check nothing was left."""
    yield
    leaked = reaper.registered()
    kill_all()
    assert not leaked, f"supervisors left running: {leaked}"


# 1. never listens -----------------------------------------------------------------------


@bounded
async def test_never_listens_times_out_then_stop_leaves_nothing() -> None:
    plugin = PluginProcess.spawn(PLUGINS / "never_listens.py", config=FAST)
    main = psutil.Process(plugin.pid)
    # Let it start first, so that its stderr is sure to be in the failure message.
    await wait_until(lambda: b"ready" in plugin.stderr_tail(), 10, "the plugin to start")
    with pytest.raises(LaunchError) as failure:
        await plugin.connect()
    bound = FAST.timeouts.connect
    assert plugin.returncode is None  # it gave up on the deadline, not on an exit
    assert failure.value.headline.startswith(
        f"plugin did not accept a connection on {plugin.socket_path} within {bound:.1f} s"
    )
    assert "\n" not in failure.value.headline
    assert failure.value.output.startswith("--- plugin stderr ---\nnever_listens: starting")
    assert plugin.startup_seconds is None

    workdir = plugin.workdir
    await plugin.stop()
    assert gone(main)
    assert plugin.returncode == -signal.SIGTERM
    assert not workdir.exists()
    assert plugin.closed


@bounded
async def test_sigterm_ignored_escalates_to_sigkill_after_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugin = PluginProcess.spawn(
        PLUGINS / "never_listens.py", config=FAST, extra_args=["--ignore-term"]
    )
    await wait_until(lambda: b"ready" in plugin.stderr_tail(), 10, "the plugin to start")
    sent: list[int] = []
    send = plugin.tree.signal

    def record(sig: int, **kw: bool) -> None:
        sent.append(sig)
        send(sig, **kw)

    monkeypatch.setattr(plugin.tree, "signal", record)
    await plugin.stop()
    assert sent == [signal.SIGTERM, signal.SIGKILL]  # SIGTERM first; it survived the grace
    assert plugin.returncode == -signal.SIGKILL


@bounded
async def test_a_plugin_that_ignored_sigterm_once_gets_sigkill_at_once_next_time() -> None:
    args = ["--ignore-term", "--remembered"]  # a plugin (argv) no other test stops
    sent: list[list[int]] = []
    for _ in range(2):
        plugin = PluginProcess.spawn(PLUGINS / "never_listens.py", config=FAST, extra_args=args)
        ready = functools.partial(lambda p: b"ready" in p.stderr_tail(), plugin)
        await wait_until(ready, 10, "the plugin to start")
        signals: list[int] = []
        send = plugin.tree.signal

        def record(sig: int, signals: list[int] = signals, send: Any = send, **kw: bool) -> None:
            signals.append(sig)
            send(sig, **kw)

        plugin.tree.signal = record  # type: ignore[method-assign]
        await plugin.stop()
        assert plugin.returncode == -signal.SIGKILL
        sent.append(signals)
    assert sent == [[signal.SIGTERM, signal.SIGKILL], [signal.SIGKILL]]


# 2. exits at once -----------------------------------------------------------------------


@bounded
async def test_exit_before_listening_fails_fast_with_status_and_stderr() -> None:
    async with PluginProcess.spawn(PLUGINS / "exits_at_once.py", config=NORMAL) as plugin:
        with pytest.raises(LaunchError) as failure:
            await plugin.connect()
    # the exit ended the wait (not the connect deadline: that headline would say so)
    assert failure.value.headline == "plugin exited with status 3 before listening"
    assert "cannot frobnicate the socket" in str(failure.value)
    assert isinstance(failure.value, OctaConformanceError)
    assert plugin.returncode == 3


# 3. floods stdout -----------------------------------------------------------------------


@bounded
async def test_stdout_flood_never_blocks_and_buffer_stays_bounded() -> None:
    async with PluginProcess.spawn(PLUGINS / "floods_stdout.py", config=NORMAL) as plugin:
        reader, writer = await plugin.connect()
        assert await exchange(reader, writer) == b"echo ping\n"
        assert await plugin.wait_exit(NORMAL.timeouts.command) == 0
        assert plugin.startup_seconds is not None
        assert 0 < plugin.startup_seconds < NORMAL.timeouts.connect
    assert plugin.stdout_total >= 12 * 1024 * 1024 + len(b"flood done\n")
    tail = plugin.stdout_tail()
    assert len(tail) == NORMAL.output_buffer
    assert tail.endswith(b"\nflood done\n")
    excerpt = plugin.output_excerpt(500)
    assert "flood done" in excerpt
    assert len(excerpt.encode()) < 700


# 4. setsid grandchild -------------------------------------------------------------------


def grandchild_pid(plugin: PluginProcess) -> int | None:
    for line in plugin.stdout_tail().decode().splitlines():
        if line.startswith("grandchild "):
            return int(line.split()[1])
    return None


@bounded
async def test_setsid_grandchild_is_reported_as_orphan_and_killed() -> None:
    plugin = PluginProcess.spawn(PLUGINS / "setsid_grandchild.py", config=FAST)
    try:
        assert await plugin.wait_exit(10) == 0
        await wait_until(lambda: grandchild_pid(plugin) is not None, 10, "the grandchild pid")
        pid = grandchild_pid(plugin)
        assert pid is not None
        grandchild = psutil.Process(pid)
        assert os.getsid(pid) == pid  # it left the plugin's session and process group
        if sys.platform.startswith("linux"):
            assert grandchild.ppid() == os.getpid()  # re-parented to us, the subreaper
        assert [p.pid for p in plugin.descendants()] == [pid]
    finally:
        await plugin.stop()
    assert gone(grandchild)  # killed and reaped
    assert plugin.descendants() == []


@bounded
async def test_descendants_of_a_running_plugin_are_killed_with_it() -> None:
    plugin = PluginProcess.spawn(
        PLUGINS / "setsid_grandchild.py", config=NORMAL, extra_args=["--stay"]
    )
    try:
        _, writer = await plugin.connect()
        writer.close()
        await wait_until(lambda: grandchild_pid(plugin) is not None, 10, "the grandchild pid")
        pid = grandchild_pid(plugin)
        assert pid is not None
        assert [p.pid for p in plugin.descendants()] == [pid]
        grandchild = psutil.Process(pid)
        main = psutil.Process(plugin.pid)
        rss = plugin.rss_bytes()
        assert rss is not None and rss > 1024 * 1024
    finally:
        await plugin.stop()
    assert gone(main) and gone(grandchild)
    assert plugin.rss_bytes() is None


@bounded
async def test_escapee_ignoring_sigterm_gets_sigkill_without_a_grace_of_its_own() -> None:
    """The plugin gets the grace to exit; a marked escapee that ignores SIGTERM is killed
    as soon as the plugin is gone, not after a grace period (here longer than TEST_BOUND:
    waiting it out would fail the test)."""
    patient = HarnessConfig(timeouts=Timeouts(kill_grace=10 * TEST_BOUND))
    plugin = PluginProcess.spawn(HOSTILE / "setsid_grandchild.py", config=patient)
    sent: list[int] = []
    send = plugin.tree.signal

    def record(sig: int, **kw: bool) -> None:
        sent.append(sig)
        send(sig, **kw)

    try:
        await plugin.connect()
        await wait_until(lambda: escapee_pid(plugin) is not None, 10, "the grandchild pid")
        pid = escapee_pid(plugin)
        assert pid is not None and os.getsid(pid) == pid
        escapee = psutil.Process(pid)
        plugin.tree.signal = record  # type: ignore[method-assign]
    finally:
        await plugin.stop()
    assert sent == [signal.SIGTERM, signal.SIGKILL]
    assert plugin.returncode is not None  # SIGTERM, or it exited once we hung up
    assert gone(escapee)


def escapee_pid(plugin: PluginProcess) -> int | None:
    for line in plugin.stdout_tail().decode().splitlines():
        if line.startswith("setsid_grandchild: grandchild "):
            return int(line.split()[2])
    return None


@bounded
async def test_untraceable_grandchild_holding_the_pipes_does_not_block_stop() -> None:
    plugin = PluginProcess.spawn(
        PLUGINS / "setsid_grandchild.py", config=FAST, extra_args=["--clear-env"]
    )
    pid: int | None = None
    try:
        assert await plugin.wait_exit(10) == 0
        await wait_until(lambda: grandchild_pid(plugin) is not None, 10, "the grandchild pid")
        pid = grandchild_pid(plugin)
        await plugin.stop()  # returns (@bounded catches a hang) though the pipes stay open
        # The case this test is about: nothing tied the grandchild to the plugin, so it
        # survived and still holds the plugin's stdout/stderr open.
        assert pid is not None and psutil.Process(pid).is_running()
        drains = [t for t in threading.enumerate() if t.name == f"octa-drain-{plugin.pid}"]
        assert drains == []
    finally:
        if pid is not None:  # nothing could tie it to the plugin: clean up by hand
            with contextlib.suppress(psutil.Error):
                leftover = psutil.Process(pid)
                leftover.kill()
                leftover.wait(5)


# 5. launch details ----------------------------------------------------------------------


def argv_printed(plugin: PluginProcess) -> list[str] | None:
    for line in plugin.stdout_tail().decode().splitlines():
        if line.startswith("argv "):
            return json.loads(line[len("argv ") :])
    return None


@bounded
async def test_py_plugin_runs_under_python3_with_spaces_in_socket_path() -> None:
    name = "octa socket with spaces.sock"
    plugin = PluginProcess.spawn(
        PLUGINS / "echo_server.py",
        config=NORMAL,
        socket_name=name,
        extra_args=["--log-dir", "/nonexistent"],
        env={**os.environ, "EXTRA_VAR": "from-caller"},
    )
    async with plugin:
        python3 = shutil.which("python3") or sys.executable
        script = str((PLUGINS / "echo_server.py").resolve())
        socket_path = str(plugin.socket_path)
        expected = [python3, script, "--socket-path", socket_path, "--log-dir", "/nonexistent"]
        assert plugin.argv == expected
        assert plugin.pgid == plugin.pid == os.getpgid(plugin.pid)
        assert plugin.socket_path.name == name
        assert plugin.socket_path.parent == plugin.workdir
        assert plugin.workdir.name.startswith("octa-conform-")
        assert stat.S_IMODE(plugin.workdir.stat().st_mode) == 0o700
        assert len(os.fsencode(socket_path)) <= 100

        reader, writer = await plugin.connect()
        assert await exchange(reader, writer) == b"echo ping\n"
        first_startup = plugin.startup_seconds
        reader, writer = await plugin.connect()  # a second connection works too
        assert await exchange(reader, writer) == b"echo ping\n"
        assert plugin.startup_seconds == first_startup

        # printed before it listened, but the drain thread may not have read it yet
        await wait_until(lambda: b"\nextra " in plugin.stdout_tail(), 10, "the plugin's lines")
        assert argv_printed(plugin) == [script, "--socket-path", socket_path, *expected[4:]]
        stdout = plugin.stdout_tail().decode()
        assert f"marker {plugin.session_token}" in stdout
        assert "extra from-caller" in stdout
        assert psutil.Process(plugin.pid).environ()[SESSION_ENV_VAR] == plugin.session_token
        assert os.readlink(f"/proc/{plugin.pid}/fd/0") == os.devnull
    assert not plugin.workdir.exists()


@bounded
async def test_executable_plugin_runs_directly(tmp_path: Path) -> None:
    plugin_file = tmp_path / "octa_plugin_echo"
    shutil.copyfile(PLUGINS / "echo_server.py", plugin_file)
    plugin_file.chmod(0o755)
    async with PluginProcess.spawn(plugin_file, config=NORMAL) as plugin:
        assert plugin.argv[:2] == [str(plugin_file), "--socket-path"]
        name = plugin.socket_path.name
        assert name.startswith(f"octa.{os.getpid()}.") and name.endswith(".sock")
        assert len(name.split(".")[2]) == 16
        reader, writer = await plugin.connect()
        assert await exchange(reader, writer) == b"echo ping\n"


@pytest.fixture
def private_tempdir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point tempfile.gettempdir() at a fresh short directory, to see what lands there."""
    path = Path(tempfile.mkdtemp(prefix="octa-t-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_long_tempdir_falls_back_to_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    long_dir = tmp_path / ("d" * 90)
    long_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir))
    with PluginProcess.spawn(PLUGINS / "never_listens.py", config=FAST) as plugin:
        assert plugin.workdir.parent == Path("/tmp")
        assert len(os.fsencode(str(plugin.socket_path))) <= 100


@bounded
async def test_silent_plugin_has_empty_excerpt(tmp_path: Path) -> None:
    plugin_file = tmp_path / "octa_plugin_silent"
    plugin_file.write_text("#!/bin/sh\nexit 0\n")
    plugin_file.chmod(0o755)
    async with PluginProcess.spawn(plugin_file, config=NORMAL) as plugin:
        with pytest.raises(LaunchError) as failure:
            await plugin.connect()
    assert failure.value.headline == "plugin exited with status 0 before listening"
    assert failure.value.output == "(the plugin wrote nothing to stdout or stderr)"
    assert plugin.output_excerpt() == ""


def test_unlaunchable_plugins_raise_launch_error(tmp_path: Path, private_tempdir: Path) -> None:
    with pytest.raises(LaunchError, match="plugin not found"):
        PluginProcess.spawn(tmp_path / "missing", config=FAST)
    with pytest.raises(LaunchError, match="plugin not found"):
        PluginProcess.spawn(tmp_path / "missing.py", config=FAST)

    not_executable = tmp_path / "octa_plugin_plain"
    not_executable.write_text("#!/bin/sh\nexit 0\n")
    not_executable.chmod(0o644)
    with pytest.raises(LaunchError, match="not executable"):
        PluginProcess.spawn(not_executable, config=FAST)

    garbage = tmp_path / "octa_plugin_garbage"
    garbage.write_bytes(b"\x7fNOT-AN-ELF\x00\x01")
    garbage.chmod(0o755)
    with pytest.raises(LaunchError, match="cannot start plugin") as failure:
        PluginProcess.spawn(garbage, config=FAST)
    assert "\n" not in str(failure.value)

    with pytest.raises(LaunchError, match="directory"):
        PluginProcess.spawn(tmp_path, config=FAST)
    with pytest.raises(LaunchError, match="limit of a Unix socket address"):
        PluginProcess.spawn(PLUGINS / "echo_server.py", config=FAST, socket_name="s" * 120)
    with pytest.raises(ValueError, match="plain file name"):
        PluginProcess.spawn(PLUGINS / "echo_server.py", config=FAST, socket_name="a/b")
    assert list(private_tempdir.iterdir()) == []  # no temp dir left behind by a failure


# 6. kill_all and idempotent stop --------------------------------------------------------


@bounded
async def test_kill_all_kills_every_running_plugin() -> None:
    plugins = [PluginProcess.spawn(PLUGINS / "never_listens.py", config=FAST) for _ in range(2)]
    mains = [psutil.Process(p.pid) for p in plugins]
    kill_all()
    for plugin, main in zip(plugins, mains, strict=True):
        assert gone(main)
        assert plugin.closed
        assert plugin.returncode is not None
        assert not plugin.workdir.exists()
    kill_all()  # nothing left: a no-op


@bounded
async def test_stop_and_kill_are_idempotent() -> None:
    plugin = PluginProcess.spawn(PLUGINS / "never_listens.py", config=FAST)
    main = psutil.Process(plugin.pid)
    assert await plugin.wait_exit(0.05) is None
    await plugin.stop()
    await plugin.stop()
    plugin.kill()
    plugin.kill()
    assert gone(main)
    assert await plugin.wait_exit(0.05) == -signal.SIGTERM
    with pytest.raises(LaunchError, match="exited with status -15"):
        await plugin.connect(timeout=0.1)


def test_sync_context_manager_kills() -> None:
    with PluginProcess.spawn(PLUGINS / "never_listens.py", config=FAST) as plugin:
        main = psutil.Process(plugin.pid)
    assert gone(main)
    assert plugin.closed


@bounded
async def test_cancelled_task_still_kills_the_plugin() -> None:
    spawned: list[PluginProcess] = []

    async def session() -> None:
        async with PluginProcess.spawn(PLUGINS / "never_listens.py", config=NORMAL) as plugin:
            spawned.append(plugin)
            await plugin.connect(timeout=60)  # cancelled long before, even on a loaded machine

    task = asyncio.ensure_future(session())
    await wait_until(
        lambda: bool(spawned) and b"ready" in spawned[0].stderr_tail(), 10, "the plugin to start"
    )
    main = psutil.Process(spawned[0].pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gone(main)
    assert spawned[0].closed
