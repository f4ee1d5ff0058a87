"""Launch (docs/protocol.md §1).

Octa starts a plugin as ``<plugin> --socket-path P`` in a new process group and retries
``connect(P)`` for 5 s, 100 ms apart. The plugin is the socket *server*: it must listen on
exactly ``P`` and stay silent until the host says ``Hello``.
"""

from __future__ import annotations

import statistics
import time

from octa_conformance.checking import check, expect, fail
from octa_conformance.context import CheckContext
from octa_conformance.supervisor import describe_status


@check(
    "launch.listens",
    "MUST",
    section="1",
    summary=(
        "started as `<plugin> --socket-path P`, the plugin accepts a connection on P within 5 s"
    ),
)
async def test_listens(octa: CheckContext) -> None:
    """Started as ``<plugin> --socket-path P``, it accepts a connection on P within 5 s.

    The process is started now (``fresh``), not taken from the spare started ahead of need:
    the 5 s count from its start.
    """
    process = octa.spawn(fresh=True)
    await octa.connect(process)  # polls connect() until the 5 s deadline; raises if never
    expect(
        process.returncode is None,
        "the plugin process keeps running after accepting the connection",
        lambda: f"it exited with {describe_status(process.returncode or 0)}",
    )


@check(
    "launch.socket-path-honoured",
    "MUST",
    section="1",
    summary=(
        "it listens on exactly the path given (tried with two different paths, one containing "
        "spaces), not a fixed or derived one"
    ),
)
async def test_socket_path_honoured(octa: CheckContext) -> None:
    """It listens on exactly the path it was given, also one containing spaces.

    Both processes start at once (their start-ups overlap), then each is connected to.
    """
    names = ("octa.alpha.sock", "path with spaces.sock")
    processes = [octa.spawn(socket_name=name) for name in names]
    for name, process in zip(names, processes, strict=True):
        await octa.connect(process, label=f"socket {name!r}")
        expect(
            process.socket_path.name == name and process.socket_path.is_socket(),
            f"a Unix socket at {process.socket_path}",
            f"nothing listening there (files in its directory: "
            f"{sorted(p.name for p in process.socket_path.parent.iterdir())})",
        )


@check(
    "launch.quiet-before-hello",
    "MUST",
    section="4.1",
    summary="after the connection opens, the plugin sends nothing until it has received `Hello`",
)
async def test_quiet_before_hello(octa: CheckContext) -> None:
    """After the connection opens, the plugin sends nothing until it has received Hello.

    Octa reads the first frame after its own Hello as the plugin's Hello reply; anything
    sent earlier would be taken for the reply and break the handshake.

    The host listens for ``timeouts.reply / 10`` (0.5 s, scaled) before it says anything.
    Nothing can end the window early (it proves that nothing arrives). A plugin that writes
    on accepting speaks within milliseconds; the rest of the window is for one that speaks
    after a delay of its own (a timer, a slow start-up step after accepting): one that waits
    up to a few tenths of a second, like the mutant ``LaunchGreetsFirst`` (0.2 s after
    accepting, plus scheduling delays on a loaded machine), is still caught.
    """
    host = await octa.launch()
    quiet = octa.timeouts.reply / 10
    try:
        event = await host.next_frame(timeout=quiet)
    except Exception:
        return  # nothing arrived (or the plugin waited and closed): conforming
    fail(
        "no frame before the host's Hello",
        f"the plugin sent {event} first",
        "wait for the host's Hello before writing anything",
    )


@check(
    "launch.unknown-flag",
    "SHOULD",
    section="1",
    summary=(
        "started with an extra `--log-dir DIR`, it still listens (future Octa versions may pass "
        "more flags)"
    ),
)
async def test_unknown_flag(octa: CheckContext) -> None:
    """Started with an extra ``--log-dir DIR`` (an SDK flag Octa may pass), it still listens."""
    log_dir = octa.scratch()
    process = octa.spawn(extra_args=[*octa.config.plugin_args, "--log-dir", str(log_dir)])
    host = await octa.connect(process)
    await host.handshake()


@check(
    "launch.startup-time",
    "INFO",
    section="1",
    summary="time from spawn to accepting, median of 3",
)
async def test_startup_time(octa: CheckContext) -> None:
    """Time from spawn to accepting a connection, median of 3.

    Each process is started when it is timed (``fresh``), never taken from the spare started
    ahead of need, whose start-up was hidden behind the previous check.
    """
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        process = octa.spawn(fresh=True)
        await octa.connect(process)
        times.append(time.monotonic() - t0)
        await process.stop()
    octa.figure(median_s=round(statistics.median(times), 4), samples_s=[round(t, 4) for t in times])
