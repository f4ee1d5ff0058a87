"""Run the bundled suites against a plugin (in a subprocess, or the CLI in this process) and
read the JSON report."""

from __future__ import annotations

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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "octa_plugin_shell.py"
MUTANT_PLUGIN = ROOT / "tests" / "mutants" / "plugin.py"


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
        data = json.loads(report.read_text())
        data["_exit"] = proc.returncode
        data["_output"] = stdout[-20000:]
        data["_duration"] = duration
        if sampler is not None:
            data["_peak_rss"] = sampler.peak
            data["_harness_pid"] = proc.pid
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
