"""Shutdown (PROTOCOL.md §4.4).

When Octa is done with a plugin (or after a failure) it sends ``Shutdown`` and waits up to
5 s for the next frame, which must be ``Shutdown{message}``. Then it gives the process 1 s to
exit on its own before killing it with SIGKILL, and removes the socket file itself only in
that case. So a well-behaved plugin:

1. cancels whatever still runs (see the cancellation checks) and writes those terminal frames;
2. answers ``Shutdown{message}`` (the SDK says ``"Plugin shutting down"``);
3. writes nothing after that: Octa has stopped reading;
4. stops listening, removes its socket file and exits with status 0, well within 1 s.

A session that ran commands must shut down exactly like an idle one.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from octa_conformance.checking import check, expect, fail
from octa_conformance.context import CheckContext
from octa_conformance.host import ConnectionClosed, FakeOcta, HostError, ReplyTimeout
from octa_conformance.protocol import Closed, Event, Received, ShutdownReply
from octa_conformance.suite_helpers import expect_echoed
from octa_conformance.supervisor import PluginProcess, describe_status
from octa_conformance.wording import describe_event


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


@check("shutdown.acknowledged")
async def test_acknowledged(octa: CheckContext) -> None:
    """``Shutdown`` on an idle session is answered by ``Shutdown{message}`` within 5 s."""
    host = await octa.ready()
    await acknowledge(octa, host)


@check("shutdown.nothing-after")
async def test_nothing_after(octa: CheckContext) -> None:
    """No frame follows the ``Shutdown`` response (Octa has stopped reading)."""
    host = await octa.ready()
    mark = host.mark()
    try:
        await host.shutdown()
    except HostError as e:
        pytest.skip(f"no Shutdown response to look past ({e}; see shutdown.acknowledged)")
    await nothing_after_reply(octa, host, mark)


@check("shutdown.process-exits")
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


@check("shutdown.exit-status")
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


@check("shutdown.socket-removed")
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


@check("shutdown.after-work")
async def test_after_work(octa: CheckContext) -> None:
    """``Shutdown`` after several completed commands behaves like the idle case:
    acknowledged within 5 s, and nothing after the acknowledgement."""
    host = await octa.ready()
    for i in range(3):
        text = f"work {i + 1}"
        result = await host.run(octa.probe("echo", text=text), dir=str(octa.scratch()))
        expect_echoed(
            result, text, f"echo {text!r} to complete with ExitStatus{{code: 0}} before Shutdown"
        )
    mark = host.mark()
    await acknowledge(octa, host)
    await nothing_after_reply(octa, host, mark)
