"""Cancellation (docs/protocol.md §4.3, §4.4).

The protocol has **no cancel message**. A running command ends early only when:

* the host sends ``Shutdown``: the plugin cancels every running command, writes each one's
  terminal frame (the SDK reports ``ExitStatus{code: -1}``) and only *then* acknowledges
  with ``Shutdown{message}``; Octa gives it 5 s for all of that;
* the plugin process gets SIGINT (the SDK installs a Ctrl-C handler doing the same as
  ``Shutdown``) or SIGTERM, or is killed;
* the host closes the connection (EOF).

On its own Ctrl-C, Octa simply stops waiting for a command and sends nothing about it: the
plugin must keep serving the other commands of the session.

Cancelling a command means ending *every* process it started, including grandchildren and
processes that moved to another process group or session: a task runner that leaves
``sleep 30`` behind after Shutdown leaks processes on every interrupted build. The harness
watches the plugin's whole process tree (processes that called ``setsid()`` or were
re-parented included), so whatever the command started is found.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import psutil

from octa_conformance.checking import check, expect, fail
from octa_conformance.context import CheckContext
from octa_conformance.errors import LaunchError
from octa_conformance.host import FakeOcta, HostError, ReplyTimeout, Run
from octa_conformance.protocol import ErrorReply, ExitStatus, Received, ShutdownReply
from octa_conformance.suite_helpers import expect_echoed
from octa_conformance.supervisor import PluginProcess, describe_status
from octa_conformance.wording import describe_ending, describe_processes

SLEEP_SECONDS = 30  # "probe sleep (30 s)": far longer than any bound used here
SIGNAL_BOUND = 2.0  # seconds, from the catalogue: terminal frame and exit after a signal


# --- helpers -------------------------------------------------------------------------


async def ready_to_sleep(octa: CheckContext) -> FakeOcta:
    """A fresh plugin, handshaken; the check is skipped before any process is started if
    the ``sleep`` probe is not configured."""
    octa.probe("sleep", seconds=SLEEP_SECONDS)
    return await octa.ready()


async def start_sleep(octa: CheckContext, host: FakeOcta) -> Run:
    """Execute probe ``sleep`` (30 s) and wait for its ``Started``."""
    run = await host.execute(octa.probe("sleep", seconds=SLEEP_SECONDS), dir=str(octa.scratch()))
    await run.started()
    return run


def terminal_text(run: Run) -> str:
    """The terminal frame ``run`` got so far (its message in full), or that it got none."""
    return describe_ending(run.snapshot(), limit=None)


async def start_watched_sleep(
    octa: CheckContext, host: FakeOcta
) -> tuple[PluginProcess, set[int], list[psutil.Process]]:
    """Start the ``sleep`` probe; return the plugin process, the pids of the processes it
    had before (``baseline``: helpers it keeps for itself) and the ones the command started."""
    process = host.process
    assert process is not None
    baseline = {p.pid for p in process.descendants()}
    await start_sleep(octa, host)
    return process, baseline, await command_processes(octa, process, baseline)


def survivors(alive: list[psutil.Process], started: list[psutil.Process]) -> str:
    """The processes still alive, and those the command was seen to start."""
    return (
        f"still alive: {describe_processes(alive)}"
        f" (seen while the command ran: {describe_processes(started) or 'none'})"
    )


async def command_processes(
    octa: CheckContext, process: PluginProcess, baseline: set[int]
) -> list[psutil.Process]:
    """The processes the running command started (polled: a spawn cannot be awaited).

    Empty if none shows up within ``timeouts.reply`` (a plugin that runs commands in-process).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + octa.timeouts.reply
    while True:
        new = [p for p in process.descendants() if p.pid not in baseline]
        if new or loop.time() >= deadline:
            return new
        await asyncio.sleep(octa.timeouts.poll)


async def leftovers(
    octa: CheckContext, process: PluginProcess, baseline: set[int], window: float
) -> list[psutil.Process]:
    """Processes started for commands that are still alive after ``window`` seconds.

    Once the plugin has exited, everything it started counts; while it runs, only what was
    not there before the command (``baseline``: helpers the plugin keeps for itself).
    A process's death cannot be awaited from here, so this polls until the window ends.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + window
    while True:
        exited = process.returncode is not None
        alive = [p for p in process.descendants() if exited or p.pid not in baseline]
        if not alive or loop.time() >= deadline:
            return alive
        await asyncio.sleep(octa.timeouts.poll * 4)


# --- checks --------------------------------------------------------------------------


@check(
    "cancellation.shutdown-cancels-running",
    "MUST",
    section="4.3, 4.4",
    probes=("sleep",),
    summary=(
        "probe `sleep` (30 s) in flight, then `Shutdown`: every running id gets a terminal frame, "
        "then `Shutdown` arrives, all within 5 s"
    ),
)
async def test_shutdown_cancels_running(octa: CheckContext) -> None:
    """With commands in flight, ``Shutdown`` gets every running id a terminal frame, then
    ``Shutdown{message}``, all within 5 s.

    Octa reads the first frame after its ``Shutdown`` as the acknowledgement; a terminal frame
    written after the acknowledgement is never read, and a plugin that waits for the
    commands to end on their own (30 s here) is past Octa's 5 s.
    """
    host = await ready_to_sleep(octa)
    runs = [await start_sleep(octa, host) for _ in range(2)]
    mark = host.mark()
    bound = octa.timeouts.shutdown_reply
    try:
        await host.shutdown(timeout=bound)
    except ReplyTimeout:
        fail(
            f"a terminal frame for each of the {len(runs)} running commands, then"
            f" Shutdown{{message}}, within {bound:.1f} s",
            "no Shutdown response in time; the commands got: "
            + "; ".join(f"id {r.id!r}: {terminal_text(r)}" for r in runs),
            "on Shutdown, cancel (kill) running commands instead of waiting for them to end",
        )
    events = host.events_since(mark)
    reply_at = next(
        i
        for i, ev in enumerate(events)
        if isinstance(ev, Received) and isinstance(ev.frame, ShutdownReply)
    )
    late = []
    for run in runs:
        term_at = next(
            (
                i
                for i, ev in enumerate(events)
                if isinstance(ev, Received)
                and ev.execution is run.execution
                and isinstance(ev.frame, (ExitStatus, ErrorReply))
            ),
            None,
        )
        if term_at is None or term_at > reply_at:
            late.append(run)
    if late:
        for run in late:  # a short look, only to say whether it came at all
            with contextlib.suppress(HostError):
                await run.wait(timeout=octa.timeouts.exit)
        fail(
            "a terminal frame (ExitStatus or Error) for every running id before the Shutdown"
            " response",
            "the Shutdown response came first; then "
            + "; ".join(
                f"id {r.id!r} got {terminal_text(r)}"
                + (" (after the Shutdown response)" if r.execution.terminal else "")
                for r in late
            ),
            "cancel the running commands and write their terminal frames before acknowledging"
            " Shutdown: Octa stops reading at the acknowledgement",
        )


@check(
    "cancellation.no-orphans",
    "MUST",
    section="4.3",
    probes=("sleep",),
    summary=(
        "after that, no process started for the command is still alive (the harness watches the "
        "plugin's process tree, including processes that left its process group)"
    ),
)
async def test_no_orphans(octa: CheckContext) -> None:
    """After a ``Shutdown`` that cancelled a running command, no process the command started
    is still alive (once the plugin had its 1 s to exit), wherever it moved in the tree.
    """
    host = await ready_to_sleep(octa)
    process, baseline, started = await start_watched_sleep(octa, host)
    if not started:
        octa.note("no child process was seen for the sleep command (runs commands in-process?)")
    with contextlib.suppress(HostError):  # a missing acknowledgement is another check's failure
        await host.shutdown()
    await process.wait_exit(octa.timeouts.exit)
    alive = await leftovers(octa, process, baseline, octa.timeouts.exit)
    state = (
        f"the plugin exited with {describe_status(process.returncode)}"
        if process.returncode is not None
        else "the plugin is still running"
    )
    expect(
        not alive,
        "no process started for the cancelled command still alive once the plugin has"
        f" handled Shutdown (looked for {octa.timeouts.exit:.1f} s after its"
        f" {octa.timeouts.exit:.1f} s exit window)",
        lambda: f"{state}; {survivors(alive, started)}",
        "when cancelling, kill the command's whole process group (start it in a new group or"
        " session) and anything it started, then wait for them before reporting",
    )


async def _signal_check(octa: CheckContext, sig: signal.Signals) -> None:
    host = await ready_to_sleep(octa)
    process = host.process
    assert process is not None
    run = await start_sleep(octa, host)
    bound = SIGNAL_BOUND * octa.timeouts.factor
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    process.send_signal(sig)
    try:
        await run.wait(timeout=bound)
    except HostError:
        rc = process.returncode
        fail(
            f"a terminal frame (ExitStatus or Error) for the running command within"
            f" {bound:.1f} s of {sig.name}",
            "the plugin closed the connection without one"
            + (f" (it exited with {describe_status(rc)})" if rc is not None else "")
            if host.plugin_closed
            else f"nothing for id {run.id!r} within {bound:.1f} s",
            f"handle {sig.name} like Shutdown: cancel the running commands, write their"
            " terminal frames, then exit",
        )
    rc = await process.wait_exit(max(0.0, bound - (loop.time() - t0)))
    expect(
        rc is not None,
        f"the plugin process exits within {bound:.1f} s of {sig.name}",
        f"it was still running after {bound:.1f} s (the command got {terminal_text(run)})",
        f"exit after cancelling the commands on {sig.name}",
    )


@check(
    "cancellation.sigint",
    "SHOULD",
    section="4.3",
    probes=("sleep",),
    summary=(
        "SIGINT to the plugin with a command in flight: the command gets a terminal frame and the "
        "process exits within 2 s"
    ),
)
async def test_sigint(octa: CheckContext) -> None:
    """SIGINT to the plugin with a command in flight: the command gets a terminal frame and
    the process exits within 2 s (the SDK's Ctrl-C handler cancels like Shutdown)."""
    await _signal_check(octa, signal.SIGINT)


@check(
    "cancellation.sigterm",
    "SHOULD",
    section="4.3",
    probes=("sleep",),
    summary="the same with SIGTERM",
)
async def test_sigterm(octa: CheckContext) -> None:
    """SIGTERM to the plugin with a command in flight: the command gets a terminal frame and
    the process exits within 2 s."""
    await _signal_check(octa, signal.SIGTERM)


@check(
    "cancellation.eof",
    "SHOULD",
    section="4.3",
    probes=("sleep",),
    summary=(
        "the host closes the connection with a command in flight: the plugin does not crash, "
        "leaves no orphan once it is shut down, and (if it keeps listening) a new connection can "
        "handshake again"
    ),
)
async def test_eof(octa: CheckContext) -> None:
    """The host closes the connection with a command in flight: the plugin does not crash,
    leaves no orphan once it is shut down, and, if it keeps listening, a new connection can
    handshake again.

    "Shut down" here means: told ``Shutdown`` on a new connection if it still listens,
    otherwise left to exit by itself.
    """
    host = await ready_to_sleep(octa)
    process, baseline, started = await start_watched_sleep(octa, host)
    await host.close()

    # Does it still listen? A plugin that does accepts at once; one that exits refuses.
    again: FakeOcta | None = None
    reason = ""
    try:
        again = await octa.reconnect(process, label="after EOF")
    except LaunchError as e:
        reason = str(e).splitlines()[0]
    else:
        try:
            await again.handshake()
        except HostError as e:
            # Accepted by a listener that was closing as the plugin exited: fine if it exits.
            reason = f"a new connection was accepted but its handshake failed: {e}"
            again = None
            if await process.wait_exit(octa.timeouts.exit) is None:
                fail(
                    "a new connection can handshake (the plugin still runs and accepts"
                    " connections after the first one closed)",
                    reason,
                    "serve every accepted connection with its own handshake, or exit when"
                    " the host hangs up",
                )
    if again is not None:  # it keeps listening: shut it down politely
        with contextlib.suppress(HostError):
            await again.shutdown()
        await process.wait_exit(octa.timeouts.exit)
    elif await process.wait_exit(octa.timeouts.shutdown_reply) is None:
        octa.note(f"after EOF the plugin neither listens ({reason}) nor exits")
    rc = process.returncode
    expect(
        rc is None or rc == 0,
        "the plugin survives the host closing the connection (or exits with status 0)",
        lambda: (
            f"it exited with {describe_status(rc)}"
            + (f"; its output: {out}" if (out := process.output_excerpt(600)) else "")
        ),
        "treat EOF as the end of the session: cancel its commands, close it, go on listening"
        " (or exit 0)",
    )
    alive = await leftovers(octa, process, baseline, octa.timeouts.exit)
    expect(
        not alive,
        "no process of the command that was running at EOF still alive once the plugin is"
        " shut down",
        lambda: survivors(alive, started),
        "when the connection ends, cancel its running commands (kill their process groups)",
    )


@check(
    "cancellation.abandoned-command",
    "MUST",
    section="4.3",
    probes=("echo", "sleep"),
    summary=(
        "the host stops reading one command's output (as Octa does on its own Ctrl-C) while "
        "another runs: the other command still completes normally"
    ),
)
async def test_abandoned_command(octa: CheckContext) -> None:
    """The host stops caring about one command (Octa's own Ctrl-C sends nothing for it) while
    another command runs: the other command still completes normally."""
    text = "still served after an abandoned command"
    echo = octa.probe("echo", text=text)
    host = await ready_to_sleep(octa)
    await start_sleep(octa, host)  # abandoned: the host never looks at it again
    run = await host.execute(echo, dir=str(octa.scratch()))
    bound = octa.timeouts.reply
    try:
        await run.started(timeout=bound)
        result = await run.result(timeout=bound)
    except ReplyTimeout:
        fail(
            f"the echo command completes within {bound:.1f} s while an abandoned sleep runs",
            f"Execute #{run.index + 1} "
            + ("got no Started" if run.id is None else "got Started but no terminal frame")
            + f" within {bound:.1f} s",
            "run each command independently: an abandoned (never cancelled) command must not"
            " block the others",
        )
    expect_echoed(result, text, f"ExitStatus{{code: 0}} with stdout {text!r}")


@check(
    "cancellation.exit-code",
    "SHOULD",
    section="4.3",
    probes=("sleep",),
    summary=(
        "a command cancelled by `Shutdown` reports a non-zero code (the SDK uses -1) or an `Error`"
    ),
)
async def test_exit_code(octa: CheckContext) -> None:
    """A command cancelled by ``Shutdown`` reports a non-zero ``ExitStatus`` (the SDK uses -1)
    or an ``Error``: a zero would tell Octa the interrupted task succeeded."""
    host = await ready_to_sleep(octa)
    run = await start_sleep(octa, host)
    with contextlib.suppress(HostError):  # ordering and timing are other checks' business
        await host.shutdown()
    with contextlib.suppress(HostError):
        await run.wait(timeout=octa.timeouts.exit)
    term = run.execution.terminal
    if term is None:
        fail(
            "a terminal frame for the command cancelled by Shutdown",
            "none arrived",
            "report a cancelled command with ExitStatus{code: -1} (or an Error)",
        )
    expect(
        not (isinstance(term, ExitStatus) and term.code == 0),
        "a non-zero ExitStatus (the SDK uses -1) or an Error for the cancelled command",
        "ExitStatus{code: 0}, which tells Octa that the interrupted command succeeded",
        "report cancelled commands with ExitStatus{code: -1}",
    )
