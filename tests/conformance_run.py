"""Run the bundled suites against a plugin (in a subprocess, or the CLI in this process) and
read the JSON report."""

from __future__ import annotations

import _thread
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "octa_plugin_shell.py"
MUTANT_PLUGIN = ROOT / "tests" / "mutants" / "plugin.py"
STALLS = ROOT / "tests" / "plugins" / "stalls_after_started.py"  # writes STALL_MARKER


def octa_conform_here(
    *args: object, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``octa-conform ARGS`` in this process, through ``cli.main`` as the console script calls
    it: run in ``cwd`` with ``env`` added to the environment (both restored afterwards), its
    output captured. No interpreter to start: the runner calls ``pytest.main`` in-process."""
    import pytest

    from octa_conformance.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as m,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        for name, value in (env or {}).items():
            m.setenv(name, value)
        m.chdir(cwd)
        code = main([str(a) for a in args])
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def pytest_here(pytester: Any, *args: str) -> Any:
    """``pytest ARGS`` nested in this process (``pytester``'s run; the plugin loads through its
    pytest11 entry point), without the cache and with the suites' loop scope set."""
    return pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function", *args
    )


def front_door_command(front_door: str, plugin: Path, select: list[str], root: Path) -> list[str]:
    """The command line of a run of the ``select``ed checks through ``front_door`` ("cli":
    ``python -m octa_conformance``; "pytest": ``pytest --octa-plugin``, rooted in ``root``)."""
    if front_door == "cli":
        return [sys.executable, "-m", "octa_conformance", str(plugin)] + [
            a for s in select for a in ("--select", s)
        ]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--rootdir={root}"]
    return command + ["--octa-plugin", str(plugin)] + [
        a for s in select for a in ("--octa-select", s)
    ]


def stall_marks(marker: Path, enough: Callable[[list[str]], bool], timeout: float) -> list[str]:
    """Poll (fast, with a deadline) the lines ``stalls_after_started.py`` wrote to ``marker``
    (``start PID``, ``exec PID``) until ``enough(lines)``; return them."""
    deadline = time.monotonic() + timeout
    while True:
        lines = marker.read_text().splitlines() if marker.exists() else []
        if enough(lines):
            return lines
        assert time.monotonic() < deadline, f"not reached within {timeout} s: {lines}"
        time.sleep(0.005)


def harness_command(plugin: Path, workdir: Path, report: Path) -> list[str]:
    """``pytest --octa-plugin PLUGIN`` (this Python, no cache) rooted in ``workdir``, writing
    its JSON report to ``report``; add selections and options after it."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rootdir={workdir}",
        "--octa-plugin",
        str(plugin),
        "--octa-json",
        str(report),
    ]


def run_suites(
    plugin: Path,
    *,
    select: Iterable[str] = (),
    skip: Iterable[str] = (),
    env: Mapping[str, str | None] | None = None,
    extra: Iterable[str] = (),
    timeout: float = 600,
    measure: bool = False,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """``pytest --octa-plugin PLUGIN`` in a subprocess; return the JSON report.

    ``env`` is added to this process's environment (a ``None`` value removes the variable).
    ``workdir``: run there (the report is written there too) instead of in a fresh temp dir.
    ``measure``: also sample the harness's memory; the report then has ``_peak_rss`` (bytes:
    the peak resident set of the harness process and of its children that are not plugins,
    i.e. carry no ``OCTA_CONFORMANCE_SESSION``) and ``_harness_pid``. Every report has
    ``_exit``, ``_output`` and ``_duration`` (seconds). On timeout the harness gets SIGTERM
    (it then stops its plugins) and, 10 s later, SIGKILL; AssertionError is raised.
    """
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="octa-conform-test-"))
            )
        report = workdir / "report.json"
        cmd = harness_command(plugin, workdir, report)
        cmd += [f"--octa-select={s}" for s in select]
        cmd += [f"--octa-skip={s}" for s in skip]
        cmd += list(extra)
        child_env = dict(os.environ)
        for name, value in (env or {}).items():
            if value is None:
                child_env.pop(name, None)
            else:
                child_env[name] = value
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        sampler = _MemorySampler(proc.pid) if measure else None
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # unwinds like Ctrl-C: the harness stops its plugins
            try:
                stdout, stderr = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
            raise AssertionError(
                f"the harness run did not finish within {timeout:.0f} s:\n"
                f"{stdout[-4000:]}\n{stderr[-4000:]}"
            ) from None
        finally:
            if sampler is not None:
                sampler.stop()
        duration = time.monotonic() - started
        if not report.exists():
            raise AssertionError(
                f"no report (exit {proc.returncode}):\n{stdout[-4000:]}\n{stderr[-4000:]}"
            )
        return read_report(report, proc.returncode, stdout, duration, sampler, proc.pid)


def read_report(
    report: Path,
    exit_status: int,
    output: str,
    duration: float,
    sampler: _MemorySampler | None,
    harness_pid: int,
) -> dict[str, Any]:
    """The JSON report of a finished run, with what the run itself showed: ``_exit``,
    ``_output`` (its last 20,000 characters), ``_duration`` and, when memory was sampled,
    ``_peak_rss`` and ``_harness_pid``."""
    data = json.loads(report.read_text())
    data["_exit"] = exit_status
    data["_output"] = output[-20000:]
    data["_duration"] = duration
    if sampler is not None:
        data["_peak_rss"] = sampler.peak
        data["_harness_pid"] = harness_pid
    return data


class _MemorySampler:
    """Polls the resident memory of the harness process and of its non-plugin children.

    On Linux the harness's own peak comes from ``VmHWM`` (the kernel's high-water mark), so a
    spike between two samples is not missed; children are sampled every 10 ms.
    """

    PERIOD = 0.01

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _high_water(pid: int) -> int:
        with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        try:
            harness = psutil.Process(self.pid)
        except psutil.Error:
            return
        try:
            own_cmdline = harness.cmdline()
        except psutil.Error:
            return
        while not self._stop.is_set():
            try:
                total = max(harness.memory_info().rss, self._high_water(self.pid))
                for child in harness.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        # A plugin carries the marker; a child between fork() and exec() is
                        # still a copy of the harness (same command line): not a helper.
                        if "OCTA_CONFORMANCE_SESSION" in child.environ():
                            continue
                        if child.cmdline() == own_cmdline:
                            continue
                        total += child.memory_info().rss
            except psutil.Error:
                return
            self.peak = max(self.peak, total)
            self._stop.wait(self.PERIOD)


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in report["checks"]}


def failed(report: dict[str, Any]) -> set[str]:
    return {c["id"] for c in report["checks"] if c["outcome"] in ("failed", "error")}


def tagged_plugins(tag: str) -> list[psutil.Process]:
    """Live processes started by the run tagged ``tag`` (plugins carry the session var)."""
    found = []
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
            zombie = proc.status() == psutil.STATUS_ZOMBIE
        except (psutil.Error, OSError):
            continue
        if env.get("OCTA_TEST_RUN") == tag and "OCTA_CONFORMANCE_SESSION" in env and not zombie:
            found.append(proc)
    return found


def wait_for_a_plugin(tag: str, timeout: float = 10) -> None:
    """Poll (fast, with a deadline) until a plugin process of the run is alive."""
    deadline = time.monotonic() + timeout
    while not tagged_plugins(tag):
        assert time.monotonic() < deadline, "no plugin process appeared"
        time.sleep(0.005)


def run_suites_here(
    plugin: Path,
    *,
    select: Iterable[str] = (),
    skip: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    extra: Iterable[str] = (),
    timeout: float = 600,
    measure: bool = False,
) -> dict[str, Any]:
    """What ``run_suites`` does, without an interpreter to start: ``octa-conform PLUGIN
    --json`` through ``cli.main`` in this process (``octa_conform_here``), in a fresh temp dir;
    return the JSON report.

    ``extra`` are octa-conform options (``--timeout-scale=X``), not pytest's. ``env`` is added
    to the environment for the run; a ``TMPDIR`` in it is honoured (tempfile's cached temp dir
    is reset for the run and restored afterwards). Every report has ``_exit`` (octa-conform's
    exit status: 0 pass, 1 fail, 2 usage, 3 harness failure, 4 incomplete, 130 interrupted),
    ``_output`` and ``_duration``. ``measure``: ``_peak_rss`` is the peak resident set of
    this process during the run (its kernel high-water mark is reset first, so it covers the
    test process as well as the harness: an upper bound of the harness's own) plus its
    children that are not plugins; ``_harness_pid`` is this process. After ``timeout`` s the
    run is interrupted as by SIGTERM (it stops its plugins and ends) and AssertionError is
    raised.
    """
    import pytest

    args: list[object] = [plugin]
    args += [f"--select={s}" for s in select]
    args += [f"--skip={s}" for s in skip]
    args += list(extra)
    with contextlib.ExitStack() as stack:
        workdir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="octa-conform-test-"))
        )
        report = workdir / "report.json"
        m = stack.enter_context(pytest.MonkeyPatch.context())
        m.setattr(tempfile, "tempdir", None)  # gettempdir() looks at TMPDIR again
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            _thread.interrupt_main(signal.SIGTERM)  # the runner's handler: ends like Ctrl-C

        watchdog = threading.Timer(timeout, interrupt)
        watchdog.daemon = True
        if measure:
            with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current resident set
        sampler = _MemorySampler(os.getpid()) if measure else None
        started = time.monotonic()
        watchdog.start()
        try:
            proc = octa_conform_here(*args, "--json", report, cwd=workdir, env=env)
        finally:
            watchdog.cancel()
            if sampler is not None:
                sampler.stop()
        duration = time.monotonic() - started
        output = proc.stdout + proc.stderr
        if timed_out.is_set():
            raise AssertionError(
                f"the harness run did not finish within {timeout:.0f} s:\n{output[-8000:]}"
            )
        if not report.exists():
            raise AssertionError(f"no report (exit {proc.returncode}):\n{output[-8000:]}")
        return read_report(report, proc.returncode, output, duration, sampler, os.getpid())
