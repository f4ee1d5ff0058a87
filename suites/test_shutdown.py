"""Shutdown (docs/protocol.md §4.4).

When Octa is done with a plugin (or after a failure) it sends ``Shutdown`` and waits up to
5 s for the next frame, which must be ``Shutdown{message}``. Then it gives the process 1 s to
exit on its own before killing it with SIGKILL, and removes the socket file itself only in
that case. So a well-behaved plugin:

1. cancels whatever still runs (see the cancellation checks) and writes those terminal frames;
2. answers ``Shutdown{message}`` (the SDK says ``"Plugin shutting down"``);
3. writes nothing after that: Octa has stopped reading;
4. stops listening, removes its socket file and exits with status 0, well within 1 s.

A session that ran commands must shut down exactly like an idle one, and ``Shutdown`` may come
in any stage: Octa sends it right after the plugin's ``Hello`` when it rejects the plugin's
version requirement, and after any failed start-up. A plugin that answers it there with an
``Error`` (the SDK does: it still expects ``Schema``) costs Octa its 1 s exit window and ends
killed by SIGKILL, without its own cleanup.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from octa_conformance.checking import check, expect, fail
from octa_conformance.context import CheckContext
from octa_conformance.host import ConnectionClosed, FakeOcta, HostError, ReplyTimeout
from octa_conformance.protocol import (
    Closed,
    Event,
    HelloCommand,
    HelloReply,
    Received,
    ShutdownCommand,
    ShutdownReply,
)
from octa_conformance.suite_helpers import (
    describe_opaque,
    expect_echoed,
    expect_reply,
    finish_opaque,
    launch_in_plugin_dialect,
    reply_to,
)
from octa_conformance.supervisor import PluginProcess, describe_status
from octa_conformance.wording import describe_event, describe_reply


async def nothing_after_reply(octa: CheckContext, host: FakeOcta, since: int) -> None:
    """Fail if any frame follows the ``Shutdown`` response (events from ``since`` on).

    The observation window is Octa's own exit window (``timeouts.exit``); it ends early when
    the plugin closes the connection. Events are scanned from before the ``Shutdown`` was
    sent, because late frames may arrive in the same read as the response.
    """
    seen_reply = False

    def after_reply(ev: Event) -> bool:
        nonlocal seen_reply
        if not seen_reply:
            seen_reply = isinstance(ev, Received) and isinstance(ev.frame, ShutdownReply)
            return False
        return not isinstance(ev, Closed)

    try:
        late = await host.wait_for(
            after_reply,
            timeout=octa.timeouts.exit,
            since=since,
            what="a frame after the Shutdown response",
        )
    except (ReplyTimeout, ConnectionClosed):
        return  # nothing before the window ended or the plugin hung up: conforming
    fail(
        "nothing after the Shutdown response",
        describe_event(late),
        "write every terminal frame before the acknowledgement and nothing after it;"
        " Octa stops reading once it has the Shutdown response",
    )


async def acknowledge(octa: CheckContext, host: FakeOcta) -> None:
    """``Shutdown`` must be answered by ``Shutdown{message}`` within 5 s."""
    bound = octa.timeouts.shutdown_reply
    try:
        reply = await host.shutdown(timeout=bound)
    except HostError as e:
        fail(
            f"Shutdown answered by Shutdown{{message}} within {bound:.1f} s",
            f"{e}",
            "cancel what still runs, then write Shutdown{message} before closing the connection",
        )
    expect(isinstance(reply.message, str), "Shutdown{message: string}", repr(reply))


async def shut_down(octa: CheckContext) -> PluginProcess:
    """A fresh plugin, handshaken and told ``Shutdown`` (a missing reply is not judged here:
    Octa, too, moves on after 5 s)."""
    host = await octa.ready()
    assert host.process is not None
    with contextlib.suppress(HostError):
        await host.shutdown()
    return host.process


async def exit_status_or_skip(octa: CheckContext, process: PluginProcess) -> int:
    """The exit status, waiting generously; skip if the plugin never exits by itself."""
    bound = octa.timeouts.shutdown_reply
    rc = await process.wait_exit(bound)
    if rc is None:
        pytest.skip(
            f"the plugin did not exit within {bound:.1f} s of Shutdown, so this cannot be"
            " judged (see shutdown.process-exits)"
        )
    return rc


@check(
    "shutdown.acknowledged",
    "MUST",
    section="4.4",
    summary="`Shutdown` on an idle session is answered by `Shutdown{message}` within 5 s",
)
async def test_acknowledged(octa: CheckContext) -> None:
    """``Shutdown`` on an idle session is answered by ``Shutdown{message}`` within 5 s."""
    host = await octa.ready()
    await acknowledge(octa, host)


async def shutdown_early(octa: CheckContext, stage: str, *, hello_first: bool) -> None:
    """A fresh plugin told ``Shutdown`` ``stage`` (after ``Hello`` only, or as the first
    command): it must acknowledge within ``timeouts.shutdown_reply`` and exit within
    ``timeouts.exit``."""
    host = await launch_in_plugin_dialect(octa, label=f"Shutdown {stage}")
    process = host.process
    assert process is not None
    if hello_first:
        await expect_reply(
            host,
            HelloCommand(octa.target),
            HelloReply,
            f"a Hello response to Hello{{version: {octa.target!r}}}",
            "answer Hello with Hello{version: <your semver requirement>, features: []}",
        )
    bound = octa.timeouts.shutdown_reply
    ev = await reply_to(host, ShutdownCommand(), bound)
    if not (isinstance(ev, Received) and isinstance(ev.frame, ShutdownReply)):
        fail(
            f"a Shutdown sent {stage} answered by Shutdown{{message}} within {bound:.1f} s",
            describe_reply(host, ev, bound),
            "acknowledge Shutdown in every stage, also before the handshake is complete: Octa"
            " sends it right after your Hello when it rejects your version requirement (and"
            " after any failed start-up). Octa takes any other answer for a failed shutdown:"
            f" it waits {octa.timeouts.exit:.1f} s, then kills the plugin with SIGKILL, which"
            " skips your cleanup (socket file, helper processes)",
        )
    exit_bound = octa.timeouts.exit
    rc = await process.wait_exit(exit_bound)
    expect(
        rc is not None,
        f"the plugin process exits within {exit_bound:.1f} s of acknowledging the Shutdown"
        f" sent {stage}",
        f"it was still running after {exit_bound:.1f} s",
        "after acknowledging Shutdown, stop listening and exit, whatever the stage; Octa"
        " kills the plugin with SIGKILL after that",
    )


@check(
    "shutdown.in-any-stage",
    "SHOULD",
    section="4.4, 7",
    summary=(
        "`Shutdown` sent before the handshake is complete (right after `Hello`, as Octa does when "
        "it rejects a version; and as the first command) is answered by `Shutdown{message}` and "
        "the process exits within 1 s; the SDK answers `Error` and costs Octa 1 s and a SIGKILL"
    ),
)
async def test_in_any_stage(octa: CheckContext) -> None:
    """``Shutdown`` sent before the handshake is complete (right after ``Hello``, as Octa does
    when it rejects a version; and as the very first command) is answered by
    ``Shutdown{message}`` and the process exits within 1 s.

    The two cases run concurrently, each on a fresh plugin, in the plugin's own dialect.
    """
    outcomes = await asyncio.gather(
        shutdown_early(octa, "right after Hello", hello_first=True),
        shutdown_early(octa, "as the first command", hello_first=False),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


@check(
    "shutdown.nothing-after",
    "MUST",
    section="4.4",
    summary="no frame after the `Shutdown` response",
)
async def test_nothing_after(octa: CheckContext) -> None:
    """No frame follows the ``Shutdown`` response (Octa has stopped reading)."""
    host = await octa.ready()
    mark = host.mark()
    try:
        await host.shutdown()
    except HostError as e:
        pytest.skip(f"no Shutdown response to look past ({e}; see shutdown.acknowledged)")
    await nothing_after_reply(octa, host, mark)


@check(
    "shutdown.process-exits",
    "SHOULD",
    section="4.4",
    summary=(
        "the process exits by itself within 1 s of its `Shutdown` response (Octa kills it after "
        "that)"
    ),
)
async def test_process_exits(octa: CheckContext) -> None:
    """The process exits by itself within 1 s of its ``Shutdown`` response (Octa kills it
    with SIGKILL after that, which skips any cleanup)."""
    process = await shut_down(octa)
    bound = octa.timeouts.exit
    rc = await process.wait_exit(bound)
    expect(
        rc is not None,
        f"the plugin process exits by itself within {bound:.1f} s of its Shutdown response",
        f"it was still running after {bound:.1f} s",
        "after acknowledging Shutdown, stop listening and exit promptly (do not wait for the"
        " host to close the connection)",
    )


@check("shutdown.exit-status", "SHOULD", section="4.4", summary="it exits with status 0")
async def test_exit_status(octa: CheckContext) -> None:
    """After ``Shutdown`` the process exits with status 0."""
    process = await shut_down(octa)
    rc = await exit_status_or_skip(octa, process)
    how = describe_status(rc)
    expect(
        rc == 0,
        "exit status 0 after Shutdown",
        lambda: how + (f"; its output: {out}" if (out := process.output_excerpt(600)) else ""),
        "a requested shutdown is a success: return 0 from main",
    )


@check(
    "shutdown.socket-removed",
    "SHOULD",
    section="4.4",
    summary="the socket file is gone after exit",
)
async def test_socket_removed(octa: CheckContext) -> None:
    """After exiting, the plugin has removed its socket file."""
    process = await shut_down(octa)
    await exit_status_or_skip(octa, process)
    path = process.socket_path
    expect(
        not os.path.lexists(path),
        f"no file at the socket path {path} once the plugin has exited",
        "the socket file is still there",
        "unlink the socket path when you stop listening (binding does not remove it)",
    )


async def complete_work(octa: CheckContext, host: FakeOcta, n: int) -> None:
    """Run command ``n`` of the work before ``Shutdown`` to its end.

    With the ``echo`` probe, it must print its text and exit 0. Without it, the opaque
    command is sent and any terminal frame is accepted (``ExitStatus`` with any code, or
    ``Error``); a refusal is judged by ``finish_opaque``.
    """
    work = str(octa.scratch())
    if octa.has_probe("echo"):
        text = f"work {n}"
        result = await host.run(octa.probe("echo", text=text), dir=work)
        expect_echoed(
            result, text, f"echo {text!r} to complete with ExitStatus{{code: 0}} before Shutdown"
        )
        return
    what = f"{describe_opaque(octa)}, command #{n} before Shutdown"
    try:
        await finish_opaque(octa, await host.execute(octa.opaque(), dir=work), what)
    except HostError as e:
        fail(
            f"Started and one terminal frame (ExitStatus with any code, or Error) for {what}",
            str(e),
            "answer every Execute with Started, then exactly one ExitStatus or Error",
        )


@check(
    "shutdown.after-work",
    "MUST",
    section="4.4",
    summary="`Shutdown` after several completed commands behaves like the idle case",
)
async def test_after_work(octa: CheckContext) -> None:
    """``Shutdown`` after several completed commands behaves like the idle case:
    acknowledged within 5 s, and nothing after the acknowledgement.

    The commands are echo probes if configured, else opaque commands (any ending accepted).
    """
    host = await octa.ready()
    for n in range(1, 4):
        await complete_work(octa, host, n)
    mark = host.mark()
    await acknowledge(octa, host)
    await nothing_after_reply(octa, host, mark)
