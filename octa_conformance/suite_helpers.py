"""Plumbing shared by the check suites: talking to the plugin command by command.

The suites hold the protocol logic of each check; what several of them need to drive a
session (connect in the plugin's own dialect, send a command and wait for whatever settles
it, insist on a reply of one type, check an echo probe's output) lives here, so that each
check says it once.
"""

from __future__ import annotations

from typing import Any

from octa_conformance.checking import expect, fail
from octa_conformance.context import CheckContext
from octa_conformance.host import ConnectionClosed, FakeOcta, ReplyTimeout, RunResult
from octa_conformance.protocol import Closed, Command, Dialect, Event, Kind, Received, Violation
from octa_conformance.wording import describe_reply, describe_result


def plugin_dialect(octa: CheckContext) -> Dialect:
    """The dialect the plugin's own Hello used (the target's if that is unknown)."""
    return octa.info.dialect or octa.dialect


async def launch_in_plugin_dialect(octa: CheckContext, label: str = "") -> FakeOcta:
    """A fresh plugin process and a connection speaking the plugin's own dialect."""
    return await octa.connect(octa.spawn(), dialect=plugin_dialect(octa), label=label)


async def reply_to(
    host: FakeOcta,
    command: Command,
    timeout: float | None = None,
    ignore: tuple[Kind, ...] = (),
) -> Event | None:
    """Send ``command``; return the first thing that settles it (see ``settled``)."""
    mark = host.mark()
    try:
        await host.send(command)
    except ConnectionClosed:
        return Closed()
    return await settled(host, command, mark, timeout, ignore)


async def settled(
    host: FakeOcta,
    command: Command,
    mark: int,
    timeout: float | None = None,
    ignore: tuple[Kind, ...] = (),
) -> Event | None:
    """The first event since ``mark`` that settles ``command`` (already sent).

    That is the frame answering it (``Received``), a violation not in ``ignore`` (a
    malformed frame never answers anything, so waiting longer would only hit the timeout),
    ``Closed``, or None when nothing arrived within ``timeout`` (default ``timeouts.reply``).
    """
    timeout = host.timeouts.reply if timeout is None else timeout

    def settles(ev: Event) -> bool:
        if isinstance(ev, Violation):
            return ev.kind not in ignore
        if isinstance(ev, Received):
            return ev.answers is not None and ev.answers.command is command
        return True  # Closed

    try:
        return await host.wait_for(settles, timeout, since=mark, what=f"a reply to {command.TYPE}")
    except ConnectionClosed:
        return Closed()
    except ReplyTimeout:
        return None


async def expect_reply(
    host: FakeOcta,
    command: Command,
    want: type,
    expected: str,
    hint: str = "",
    timeout: float | None = None,
    *,
    await_exit: bool = False,
) -> Any:
    """Send ``command`` and return its reply of type ``want``; fail clearly otherwise.

    ``await_exit``: if the plugin closed the connection instead, first give the process
    ``timeouts.exit`` to end, so that the message can say how it ended.
    """
    ev = await reply_to(host, command, timeout)
    if isinstance(ev, Received) and isinstance(ev.frame, want):
        return ev.frame
    if await_exit and isinstance(ev, Closed) and host.process is not None:
        await host.process.wait_exit(host.timeouts.exit)
    fail(expected, describe_reply(host, ev, timeout), hint)


def expect_echoed(result: RunResult, text: str, expected: str, hint: str = "") -> None:
    """The echo probe's command printed exactly ``text`` and exited with status 0."""
    expect(result.exit_code == 0 and result.stdout == text, expected, describe_result(result), hint)
