#!/usr/bin/env python3
"""Speed figures for octa-conformance (issue #6): ``python bench/run.py [--quick] [--json FILE]``.

Plain Python, no extra dependencies (run it with the project's interpreter, e.g.
``python bench/run.py``). It measures, against the bundled example plugin:

* the full default suite's wall time: one process, ``pytest -n 2`` and ``octa-conform -j 2``
  (plus one process with ``python3`` resolved past a pyenv shim, when there is one);
* the per-check overhead: spawn, spawn-to-listening, a further connect, the handshake
  (Hello + Schema), Shutdown-to-exit and the final ``stop()``, over N launches;
* codec throughput: frames per second through ``HostSession.receive_data``, through
  ``LineFramer`` + ``decode_response`` alone, through a whole ``FakeOcta`` read loop
  (session, runs, transcript), and ``encode_command``;
* the host round trip ``Execute`` -> ``ExitStatus`` through ``FakeOcta`` against a minimal
  raw-socket client, both against the example plugin and against a trivial in-process fake
  plugin (so the ratio shows the host's own overhead, not the plugin's).

Other processes on the machine skew every figure: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from octa_conformance.config import HarnessConfig  # noqa: E402
from octa_conformance.host import FakeOcta  # noqa: E402
from octa_conformance.protocol import (  # noqa: E402
    Dialect,
    ExecuteCommand,
    HostSession,
    LineFramer,
    decode_response,
    encode_command,
)
from octa_conformance.supervisor import PluginProcess  # noqa: E402

EXAMPLE = ROOT / "examples" / "octa_plugin_shell.py"
GOALS = {
    "suite_single_s": 20.0,
    "suite_parallel_s": 12.0,
    "decode_frames_per_s": 200_000,
    # issue #13: against a real plugin process (the example plugin, or --plugin); the 1.5x
    # goal against the in-process fake plugin is retired (that figure is still printed)
    "host_rtt_ratio": 1.1,
}

Row = tuple[str, str, str]  # what, figure, note


# --- helpers ------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def loadavg() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def real_python3(env: dict[str, str]) -> tuple[str | None, str | None]:
    """``(python3 on PATH, the interpreter it really runs)``; the second differs for a shim."""
    found = shutil.which("python3", path=env.get("PATH"))
    if found is None:
        return None, None
    try:
        out = subprocess.run(
            [found, "-c", "import sys; print(sys.executable)"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        return found, out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return found, None


def startup_time(argv: list[str], n: int) -> float:
    """Median wall time of ``argv -c pass``."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([*argv, "-c", "pass"], check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --- 1. the full default suite -------------------------------------------------------


def _tool(name: str) -> list[str] | None:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    return [path] if path else None


def run_suite(argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one suite command in a fresh temp dir; wall time and what it reported."""
    env = dict(os.environ if env is None else env)
    # the suites and the package of this checkout, also in pytest's subprocesses
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = loadavg()[0]
    with tempfile.TemporaryDirectory(prefix="octa-bench-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=tmp, capture_output=True, text=True, env=env, timeout=600, check=False
        )
        wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = proc.stdout + proc.stderr
    verdict = re.search(r"verdict: (\w+)\s+\((\d+) checks", out)
    passed = re.search(r"(\d+) passed", out)
    return {
        "argv": " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)),
        "wall_s": wall,
        "cpu_s": cpu,  # the run and everything it started (plugins, shells)
        "load_1min_at_start": load,
        "returncode": proc.returncode,
        "verdict": verdict.group(1) if verdict else None,
        "checks": int(verdict.group(2)) if verdict else (int(passed.group(1)) if passed else 0),
        "tail": out.strip().splitlines()[-1:] if proc.returncode else [],
    }


def bench_suite(plugin: Path, quick: bool, skip_cli: bool) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    data: dict[str, Any] = {}
    pytest_cmd = _tool("pytest") or [sys.executable, "-m", "pytest"]
    base = [*pytest_cmd, "-q", "-p", "no:cacheprovider", "--rootdir=.", "--octa-plugin"]
    runs: dict[str, list[str]] = {
        "pytest, 1 process": [*base, str(plugin)],
        "pytest -n 2": [*base, str(plugin), "-n", "2"],
    }
    cli = _tool("octa-conform")
    if cli and not skip_cli:
        runs["octa-conform, 1 process"] = [*cli, str(plugin)]
        runs["octa-conform -j 2"] = [*cli, str(plugin), "-j", "2"]
    repeat = 1 if quick else 2
    for name, argv in runs.items():
        results = [run_suite(argv) for _ in range(repeat)]
        best = min(results, key=lambda r: r["wall_s"])
        data[name] = {"runs": results, "best_s": best["wall_s"]}
        ok = all(r["returncode"] == 0 for r in results)
        walls = ", ".join(f"{r['wall_s']:.1f}" for r in results)
        note = (
            f"{best['checks']} checks, {best['verdict'] or '?'}; runs: {walls} s;"
            f" CPU {best['cpu_s']:.1f} s; load {best['load_1min_at_start']:.1f}"
        )
        if not ok:
            note += f"; FAILED: {results[-1]['tail']}"
        rows.append((f"suite: {name}", f"{best['wall_s']:.1f} s", note))
    env = dict(os.environ)
    found, real = real_python3(env)
    if found and real and Path(found).resolve() != Path(real).resolve():
        env["PATH"] = str(Path(real).parent) + os.pathsep + env.get("PATH", "")
        for name, argv in (
            ("pytest, 1 process, no shim", [*base, str(plugin)]),
            ("pytest -n 2, no shim", [*base, str(plugin), "-n", "2"]),
        ):
            res = run_suite(argv, env=env)
            data[name] = {"runs": [res], "best_s": res["wall_s"]}
            rows.append(
                (
                    f"suite: {name}",
                    f"{res['wall_s']:.1f} s",
                    f"{res['checks']} checks, {res['verdict'] or '?'}; CPU {res['cpu_s']:.1f} s;"
                    f" load {res['load_1min_at_start']:.1f}; PATH starts with {Path(real).parent}"
                    f" ({found} is a shim)",
                )
            )
    return rows, data


# --- 2. per-check overhead -----------------------------------------------------------


async def one_launch(plugin: Path, config: HarnessConfig, env: dict[str, str] | None) -> dict:
    t0 = time.perf_counter()
    process = PluginProcess.spawn(plugin, config=config, env=env)
    t1 = time.perf_counter()
    try:
        host = await FakeOcta.connect(process, config=config)
        t2 = time.perf_counter()
        extra = await FakeOcta.connect(process, config=config)
        t3 = time.perf_counter()
        await extra.close()
        t4 = time.perf_counter()
        await host.handshake()
        t5 = time.perf_counter()
        await host.shutdown()
        status = await process.wait_exit(config.timeouts.exit)
        t6 = time.perf_counter()
        await host.close()
        await process.stop()
        t7 = time.perf_counter()
    finally:
        await process.stop()
    assert status == 0, f"the example plugin exited with {status}"
    return {
        "spawn() call": t1 - t0,
        "spawn to listening": t2 - t0,
        "connect (listening plugin)": t3 - t2,
        "handshake (Hello+Schema)": t5 - t4,
        "shutdown to exit": t6 - t5,
        "stop() after exit": t7 - t6,
        "whole launch..stop": t7 - t0,
    }


def bench_launches(plugin: Path, n: int) -> tuple[list[Row], dict[str, Any]]:
    config = HarnessConfig()
    env = dict(os.environ)

    async def many(env: dict[str, str]) -> list[dict]:
        return [await one_launch(plugin, config, env) for _ in range(n)]

    samples = asyncio.run(many(env))
    rows: list[Row] = []
    data: dict[str, Any] = {"n": n}
    for key in samples[0]:
        values = [s[key] for s in samples]
        med, p90 = statistics.median(values), pct(values, 0.9)
        data[key] = {"median_s": med, "p90_s": p90}
        rows.append((f"launch: {key}", ms(med), f"p90 {ms(p90)}, n={n}"))
    found, real = real_python3(env)
    if found and real and Path(found).resolve() != Path(real).resolve():
        shim, direct = startup_time([found], 7), startup_time([real], 7)
        data["python3 startup"] = {"shim_s": shim, "direct_s": direct, "shim": found}
        rows.append(
            (
                "python3 -c pass: shim vs direct",
                f"{ms(shim)} vs {ms(direct)}",
                f"{found} is a shim: +{ms(shim - direct)} per plugin launch",
            )
        )
        real_env = dict(env, PATH=str(Path(real).parent) + os.pathsep + env.get("PATH", ""))
        direct_samples = asyncio.run(many(real_env))
        values = [s["spawn to listening"] for s in direct_samples]
        med = statistics.median(values)
        data["spawn to listening (no shim)"] = {"median_s": med, "p90_s": pct(values, 0.9)}
        rows.append(
            ("launch: spawn to listening (no shim)", ms(med), f"p90 {ms(pct(values, 0.9))}")
        )
    return rows, data


# --- 3. codec throughput -------------------------------------------------------------


def build_stream(frames: int, per_execution: int = 100, interleave: int = 4) -> tuple:
    """``(commands, stream bytes, frame count)``: executions interleaved ``interleave`` at a time,
    each a Started, output lines (every 10th on stderr) and an ExitStatus."""
    executions = frames // per_execution
    commands = [
        ExecuteCommand(f"make step{k}", (), "/tmp", {}, {}, False) for k in range(executions)
    ]
    lines: list[bytes] = []

    def frame(type_: str, **payload: Any) -> bytes:
        return json.dumps({"type": type_, "payload": payload}, separators=(",", ":")).encode()

    for group in range(0, executions, interleave):
        members = range(group, min(group + interleave, executions))
        ids = {k: f"4f1c2a7e-0d2b-4c1e-9a8b-{k:012d}" for k in members}
        for k in members:
            lines.append(frame("Started", id=ids[k]))
        for i in range(per_execution - 2):
            for k in members:
                kind = "Stderr" if i % 10 == 9 else "Stdout"
                text = f"[{k}] compiling module {i} of {per_execution - 2}: ok\n"
                lines.append(frame(kind, id=ids[k], line=text))
        for k in members:
            lines.append(frame("ExitStatus", id=ids[k], code=0))
    return commands, b"\n".join(lines) + b"\n", len(lines)


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def best_of(repeat: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeat))


def bench_codec(frames: int, repeat: int) -> tuple[list[Row], dict[str, Any]]:
    commands, stream, count = build_stream(frames)
    parts = chunks(stream, 256 * 1024)  # what the host's read loop reads at a time
    dialect = Dialect.V0_2_1

    def session_pass() -> float:
        session = HostSession(dialect)
        for cmd in commands:
            session.send(cmd)
        t0 = time.perf_counter()
        n = 0
        for part in parts:
            n += len(session.receive_data(part))
        elapsed = time.perf_counter() - t0
        assert n == count, (n, count)
        assert all(ex.terminal is not None for ex in session.executions)
        return elapsed

    def framer_pass() -> float:
        framer = LineFramer()
        t0 = time.perf_counter()
        n = 0
        for part in parts:
            for line in framer.feed(part):
                decode_response(line, dialect)
                n += 1
        elapsed = time.perf_counter() - t0
        assert n == count
        return elapsed

    def host_pass() -> float:
        async def go() -> float:
            reader = asyncio.StreamReader(limit=HarnessConfig().max_frame + 2)
            host = FakeOcta(reader, _NullWriter(), config=HarnessConfig())  # type: ignore[arg-type]
            for cmd in commands:
                await host.send(cmd)
            t0 = time.perf_counter()
            reader.feed_data(stream)
            reader.feed_eof()
            await host.wait_plugin_close(60)
            elapsed = time.perf_counter() - t0
            assert host.transcript.count == count + len(commands) + 1
            assert all(run.done for run in host.runs) and not host.violations
            await host.close()
            return elapsed

        return asyncio.run(go())

    execute = ExecuteCommand(
        "cargo build --release", ("--verbose",), "/home/user/project", {"RUST_LOG": "info"}, {}
    )

    def encode_pass() -> float:
        n = frames
        t0 = time.perf_counter()
        for _ in range(n):
            encode_command(execute, dialect)
        return time.perf_counter() - t0

    rows: list[Row] = []
    data: dict[str, Any] = {"frames": count, "bytes": len(stream)}
    for name, fn, n in (
        ("decode: HostSession.receive_data", session_pass, count),
        ("decode: LineFramer + decode_response", framer_pass, count),
        ("decode: FakeOcta read loop (+runs, transcript)", host_pass, count),
        ("encode: encode_command (Execute)", encode_pass, frames),
    ):
        elapsed = best_of(repeat, fn)
        rate = n / elapsed
        data[name] = {"frames_per_s": rate, "seconds": elapsed}
        rows.append(
            (name, f"{rate:,.0f} frames/s", f"{n:,} frames in {ms(elapsed)}, best of {repeat}")
        )
    return rows, data


class _NullWriter:
    """A StreamWriter stand-in that accepts and drops everything (codec bench only)."""

    transport = None

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass

    def write_eof(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


# --- 4. host round trip ---------------------------------------------------------------

HELLO = b'{"type":"Hello","payload":{"version":"0.2.1","features":[]}}\n'
SCHEMA = b'{"type":"Schema"}\n'


def execute_line(params: str, directory: str) -> bytes:
    payload = {"params": params, "args": [], "dir": directory, "envs": {}, "vars": {}, "dry": False}
    return (
        json.dumps({"type": "Execute", "payload": payload}, separators=(",", ":")).encode() + b"\n"
    )


class RawClient:
    """The least a client can do: write hand-made JSON lines, read lines until ExitStatus."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, line: bytes) -> dict:
        self.writer.write(line)
        await self.writer.drain()
        return json.loads(await self.reader.readline())

    async def run(self, line: bytes) -> int:
        self.writer.write(line)
        await self.writer.drain()
        while True:
            frame = json.loads(await self.reader.readline())
            if frame["type"] == "ExitStatus":
                return frame["payload"]["code"]
            if frame["type"] == "Error":
                raise RuntimeError(frame)


FAKE_SESSIONS: set[asyncio.Task[Any]] = set()


async def fake_plugin(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A trivial plugin: Started + ExitStatus for every Execute, at once."""
    task = asyncio.current_task()
    assert task is not None
    FAKE_SESSIONS.add(task)
    task.add_done_callback(FAKE_SESSIONS.discard)
    n = 0
    while line := await reader.readline():
        kind = json.loads(line)["type"]
        if kind == "Hello":
            writer.write(b'{"type":"Hello","payload":{"version":">=0.2.1","features":[]}}\n')
        elif kind == "Schema":
            writer.write(b'{"type":"Schema","payload":{"key":"shell"}}\n')
        elif kind == "Execute":
            n += 1
            ident = f"fake-{n}"
            writer.write(
                b'{"type":"Started","payload":{"id":"%s"}}\n'
                b'{"type":"ExitStatus","payload":{"id":"%s","code":0}}\n'
                % (ident.encode(), ident.encode())
            )
        elif kind == "Shutdown":
            writer.write(b'{"type":"Shutdown","payload":{"message":"bye"}}\n')
            await writer.drain()
            break
        await writer.drain()
    writer.close()


async def timed(n: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return times


async def compare_clients(
    open_conn: Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]],
    n: int,
    rounds: int,
    process: PluginProcess | None,
) -> dict[str, list[float]]:
    """Alternate blocks of round trips through FakeOcta and through the raw client."""
    config = HarnessConfig()
    directory = tempfile.gettempdir()
    reader, writer = await open_conn()
    host = FakeOcta(reader, writer, config=config, process=process)
    await host.handshake()
    raw = RawClient(*await open_conn())
    await raw.request(HELLO)
    await raw.request(SCHEMA)
    line = execute_line(":", directory)

    async def via_host() -> None:
        result = await host.run(":", dir=directory)
        assert result.exit_code == 0

    async def via_raw() -> None:
        assert await raw.run(line) == 0

    await timed(max(2, n // 10), via_host)  # warm up both
    await timed(max(2, n // 10), via_raw)
    samples: dict[str, list[float]] = {"host": [], "raw": []}
    for _ in range(rounds):
        samples["host"] += await timed(n // rounds, via_host)
        samples["raw"] += await timed(n // rounds, via_raw)
    assert not host.violations, host.violations
    await host.close()
    raw.writer.close()
    return samples


REAL_PLUGIN = "real plugin process"  # the example plugin, or the one given with --plugin


def bench_round_trip(plugin: Path, n_plugin: int, n_fake: int) -> tuple[list[Row], dict[str, Any]]:
    async def against_fake() -> dict[str, list[float]]:
        with tempfile.TemporaryDirectory(prefix="octa-bench-") as tmp:
            path = os.path.join(tmp, "fake.sock")
            server = await asyncio.start_unix_server(fake_plugin, path=path)
            try:
                limit = HarnessConfig().max_frame + 2
                return await compare_clients(
                    lambda: asyncio.open_unix_connection(path, limit=limit), n_fake, 10, None
                )
            finally:
                server.close()
                if FAKE_SESSIONS:  # both clients hung up: let the sessions see EOF
                    await asyncio.wait(set(FAKE_SESSIONS), timeout=5)

    async def against_plugin() -> dict[str, list[float]]:
        config = HarnessConfig()
        process = PluginProcess.spawn(plugin, config=config)
        try:
            await process.connect()  # wait until it listens

            async def open_conn() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
                return await process.connect()

            return await compare_clients(open_conn, n_plugin, max(5, n_plugin // 100), process)
        finally:
            await process.stop()

    rows: list[Row] = []
    data: dict[str, Any] = {}
    for name, samples in (
        (REAL_PLUGIN, asyncio.run(against_plugin())),
        ("in-process fake plugin", asyncio.run(against_fake())),
    ):
        host, raw = statistics.median(samples["host"]), statistics.median(samples["raw"])
        data[name] = {
            "host_median_s": host,
            "host_p90_s": pct(samples["host"], 0.9),
            "raw_median_s": raw,
            "raw_p90_s": pct(samples["raw"], 0.9),
            "ratio": host / raw,
            "n": len(samples["host"]),
        }
        fmt = ms if host > 0.002 else us
        rows.append(
            (
                f"round trip Execute->ExitStatus, {name}"
                + (f" ({plugin.name})" if name == REAL_PLUGIN else ""),
                f"{host / raw:.2f}x",
                f"FakeOcta {fmt(host)} vs raw socket {fmt(raw)} (median, n={len(samples['host'])};"
                f" p90 {fmt(pct(samples['host'], 0.9))} vs {fmt(pct(samples['raw'], 0.9))})",
            )
        )
    return rows, data


# --- main -----------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    head = ("what", "figure", "note")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join(lines)


def goal_verdicts(report: dict[str, Any]) -> list[Row]:
    """Each goal of issues #6 and #13 with the figure measured here (``-`` if not measured)."""
    suite = report.get("suite", {})

    def best(*names: str) -> float | None:
        found = [suite[n]["best_s"] for n in names if n in suite]
        return min(found) if found else None

    figures = {
        "suite_single_s": best("pytest, 1 process", "octa-conform, 1 process"),
        "suite_parallel_s": best("pytest -n 2", "octa-conform -j 2"),
        "decode_frames_per_s": report.get("codec", {})
        .get("decode: HostSession.receive_data", {})
        .get("frames_per_s"),
        "host_rtt_ratio": report.get("round_trip", {}).get(REAL_PLUGIN, {}).get("ratio"),
    }
    words = {
        "suite_single_s": ("full suite, one process", "<= {:.0f} s", "{:.1f} s"),
        "suite_parallel_s": ("full suite, 2 workers", "<= {:.0f} s", "{:.1f} s"),
        "decode_frames_per_s": ("decoding (HostSession)", ">= {:,.0f}/s", "{:,.0f}/s"),
        "host_rtt_ratio": ("host round trip vs raw socket, real plugin", "<= {:.1f}x", "{:.2f}x"),
    }
    rows: list[Row] = []
    for key, goal in GOALS.items():
        what, goal_fmt, fig_fmt = words[key]
        value = figures[key]
        if value is None:
            rows.append((what, "-", "not measured"))
            continue
        met = value >= goal if key == "decode_frames_per_s" else value <= goal
        rows.append(
            (
                what,
                fig_fmt.format(value),
                f"goal {goal_fmt.format(goal)}: {'met' if met else 'NOT met'}",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--plugin", default=str(EXAMPLE), help="plugin to measure (default: example)")
    ap.add_argument(
        "--round-trips",
        type=int,
        metavar="N",
        help="round trips per client against the plugin (default 200; --quick 50)",
    )
    ap.add_argument("--no-suite", action="store_true", help="skip the full-suite runs")
    ap.add_argument("--no-cli", action="store_true", help="skip the octa-conform suite runs")
    ap.add_argument(
        "--only",
        choices=["launch", "codec", "round_trip", "suite"],
        action="append",
        help="run only this section (repeatable); the goal table then shows '-' for the rest",
    )
    args = ap.parse_args(argv)
    plugin = Path(args.plugin).resolve()
    quick = args.quick

    report: dict[str, Any] = {"machine": machine(), "load_before": loadavg(), "goals": GOALS}
    rows: list[Row] = []
    sections: list[tuple[str, Callable[[], tuple[list[Row], dict[str, Any]]]]] = [
        ("launch", lambda: bench_launches(plugin, 10 if quick else 40)),
        ("codec", lambda: bench_codec(20_000 if quick else 100_000, 2 if quick else 3)),
        (
            "round_trip",
            lambda: bench_round_trip(
                plugin, args.round_trips or (50 if quick else 200), 500 if quick else 3000
            ),
        ),
    ]
    if not args.no_suite:
        sections.append(("suite", lambda: bench_suite(plugin, quick, args.no_cli)))
    if args.only:
        sections = [(name, fn) for name, fn in sections if name in args.only]
    for name, fn in sections:
        t0 = time.perf_counter()
        print(f"... {name}", file=sys.stderr, flush=True)
        section_rows, report[name] = fn()
        report[name]["_bench_seconds"] = time.perf_counter() - t0
        rows += section_rows
    report["load_after"] = loadavg()
    m = report["machine"]
    print(f"\n{m['date']}: {m['nproc']} x {m['cpu']}, Python {m['python']}")
    print(
        "load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
            *report["load_before"], *report["load_after"]
        )
    )
    print(table(rows))
    report["verdicts"] = goal_verdicts(report)
    print()
    print(table(report["verdicts"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
