"""Performance (all INFO: figures for the report, never a failure).

Octa talks to a plugin synchronously: it waits for the handshake at start-up and, in 0.2.1,
for each command before sending the next one. So the latencies a user feels are the
``Hello``/``Schema`` round trips (paid once per Octa run) and the ``Execute`` → ``ExitStatus``
round trip of a trivial command (paid once per task). Throughput with several commands in
flight shows what the protocol allows beyond that, and the resident memory after many
commands shows a leak that would hurt a long-running session.

Latencies are reported as median, p90 and p99 (seconds). Every measurement is bounded so
that each check takes a few seconds at most. The commands are the ``echo`` probe (its output
is checked) if configured, else the opaque command (the ``noop`` probe or empty ``params``,
any ending accepted); the figures say which.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from octa_conformance.checking import check, expect
from octa_conformance.context import CheckContext
from octa_conformance.errors import LaunchError
from octa_conformance.host import FakeOcta
from octa_conformance.results import percentiles
from octa_conformance.suite_helpers import describe_opaque, expect_echoed, finish_opaque
from octa_conformance.supervisor import PluginProcess

HANDSHAKE_SESSIONS = 50
HANDSHAKE_BUDGET = 3.0  # seconds for all sessions; fewer are measured on a slow plugin
SEQUENTIAL_COMMANDS = 500
THROUGHPUT_LEVELS = (1, 8, 64)
THROUGHPUT_COMMANDS = 128  # per level
MEMORY_MARKS = (100, 2000)
MEMORY_IN_FLIGHT = 16


def timed_command(octa: CheckContext, text: str) -> tuple[str, str | None, str]:
    """``(params, expected output or None, description)`` of the measured command: the echo
    probe of ``text`` if configured, else the opaque command (any ending)."""
    if octa.has_probe("echo"):
        return octa.probe("echo", text=text), text, "echo probe"
    return octa.opaque(), None, describe_opaque(octa)


async def command_ok(
    octa: CheckContext, host: FakeOcta, params: str, text: str | None, cwd: str
) -> None:
    """Run the measured command to its end (an echo must print ``text`` and exit 0)."""
    if text is None:
        await finish_opaque(octa, await host.execute(params, dir=cwd), describe_opaque(octa))
        return
    result = await host.run(params, dir=cwd)
    expect_echoed(result, text, f"the echo probe to print {text!r} and exit 0")


async def run_many(
    octa: CheckContext, host: FakeOcta, total: int, in_flight: int, text: str
) -> float:
    """Run ``total`` commands keeping ``in_flight`` of them running; return the seconds."""
    params, expected, _ = timed_command(octa, text)
    cwd = str(octa.scratch())
    todo = iter(range(total))

    async def worker() -> None:
        for _ in todo:  # shared: each command is taken by exactly one worker
            await command_ok(octa, host, params, expected, cwd)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(in_flight, total))))
    return time.perf_counter() - t0


@check(
    "performance.handshake-latency",
    "INFO",
    section="4.2",
    summary="Hello→Hello and Schema→Schema round trips, median and p99 over 50 sessions' worth",
)
async def test_handshake_latency(octa: CheckContext) -> None:
    """``Hello`` → ``Hello`` and ``Schema`` → ``Schema`` round trips over 50 sessions.

    Sessions are further connections to one plugin process while it accepts them (as the
    SDK's listener does), otherwise fresh processes; at most ~3 s are spent in all.
    """
    first = await octa.launch()
    process: PluginProcess | None = first.process
    hellos: list[float] = []
    schemas: list[float] = []
    via = "new connections to one plugin process"
    current: FakeOcta | None = first
    extra: list[FakeOcta] = []
    deadline = time.monotonic() + HANDSHAKE_BUDGET * octa.timeouts.factor
    try:
        for _ in range(HANDSHAKE_SESSIONS):
            if current is None:
                assert process is not None
                if via.startswith("new connections"):
                    with contextlib.suppress(LaunchError):
                        current = await octa.reconnect(process)
                        extra.append(current)
                if current is None:  # the plugin serves one connection: fresh processes
                    via = "fresh plugin processes (no second connection accepted)"
                    await process.stop()
                    current = await octa.launch()
                    process = current.process
            t0 = time.perf_counter()
            await current.hello()
            t1 = time.perf_counter()
            await current.schema()
            t2 = time.perf_counter()
            hellos.append(t1 - t0)
            schemas.append(t2 - t1)
            await current.close()
            current = None
            if time.monotonic() > deadline:
                break
    finally:
        for host in extra:
            await host.close()
    octa.figure(
        sessions=len(hellos), via=via, hello=percentiles(hellos), schema=percentiles(schemas)
    )


@check(
    "performance.execute-latency",
    "INFO",
    section="4.2",
    probes=("echo",),
    summary="`Execute`→`ExitStatus` for probe `echo`, p50/p99 over 500 sequential commands",
)
async def test_execute_latency(octa: CheckContext) -> None:
    """``Execute`` → terminal frame of probe ``echo`` (else the opaque command), over 500
    sequential commands."""
    host = await octa.ready()
    params, expected, command = timed_command(octa, "latency")
    cwd = str(octa.scratch())
    samples = []
    for _ in range(SEQUENTIAL_COMMANDS):
        t0 = time.perf_counter()
        await command_ok(octa, host, params, expected, cwd)
        samples.append(time.perf_counter() - t0)
    octa.figure(command=command, execute=percentiles(samples))


@check(
    "performance.throughput",
    "INFO",
    section="4.2",
    probes=("echo",),
    summary="commands completed per second with 1, 8 and 64 in flight",
)
async def test_throughput(octa: CheckContext) -> None:
    """Commands (probe ``echo``, else the opaque command) completed per second with 1, 8 and
    64 in flight."""
    host = await octa.ready()
    figures = {}
    for level in THROUGHPUT_LEVELS:
        seconds = await run_many(octa, host, THROUGHPUT_COMMANDS, level, f"throughput {level}")
        figures[f"in_flight_{level}"] = round(THROUGHPUT_COMMANDS / seconds, 1)
    octa.figure(
        command=timed_command(octa, "")[2],
        commands_per_s=figures,
        commands_per_level=THROUGHPUT_COMMANDS,
    )


@check(
    "performance.memory-growth",
    "INFO",
    section="4.2",
    probes=("echo",),
    summary="the plugin's RSS after 100 and after 2,000 commands (a leak shows as growth)",
)
async def test_memory_growth(octa: CheckContext) -> None:
    """The plugin's resident memory after 100 and after 2,000 commands (probe ``echo``, else
    the opaque command; 16 in flight); growth between the two suggests a per-command leak."""
    host = await octa.ready()
    assert host.process is not None
    rss = {"after_handshake": host.process.rss_bytes()}
    done = 0
    for mark in MEMORY_MARKS:
        await run_many(octa, host, mark - done, MEMORY_IN_FLIGHT, "memory")
        done = mark
        rss[f"after_{mark}"] = host.process.rss_bytes()
    expect(
        all(v is not None for v in rss.values()),
        "the plugin's resident memory can be read while it runs",
        f"{rss}",
    )
    first, last = rss[f"after_{MEMORY_MARKS[0]}"], rss[f"after_{MEMORY_MARKS[-1]}"]
    assert first is not None and last is not None
    octa.figure(
        command=timed_command(octa, "")[2],
        rss_bytes=rss,
        growth_bytes=last - first,
        growth_per_command_bytes=round((last - first) / (MEMORY_MARKS[-1] - MEMORY_MARKS[0]), 1),
    )
