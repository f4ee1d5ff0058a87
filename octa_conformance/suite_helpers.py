"""Plumbing shared by the check suites: talking to the plugin command by command.

The suites hold the protocol logic of each check; what several of them need to drive a
session (connect in the plugin's own dialect, send a command and wait for whatever settles
it, insist on a reply of one type, check an echo probe's output, run the *opaque command*
of the protocol checks and judge its refusal, prove that a session still works) lives here,
so that each check says it once.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from octa_conformance.checking import expect, fail
from octa_conformance.context import CheckContext
from octa_conformance.host import (
    ConnectionClosed,
    FakeOcta,
    HostError,
    PluginRefused,
    ReplyTimeout,
    Run,
    RunResult,
)
from octa_conformance.protocol import (
    Closed,
    Command,
    Dialect,
    ErrorReply,
    Event,
    Kind,
    Received,
    Violation,
)
from octa_conformance.protocol.messages import SESSION_ERROR_IDS
from octa_conformance.wording import describe_reply, describe_result, short


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


# --- the opaque command of the protocol checks ---------------------------------------------


def describe_opaque(octa: CheckContext) -> str:
    """``the opaque command (the noop probe 'true')`` or ``... (empty params)``."""
    params = octa.opaque()
    if octa.has_probe("noop"):
        return f"the opaque command (the noop probe {short(params, 40)})"
    return "the opaque command (empty params)"


def opaque_refused(octa: CheckContext, what: str, error: ErrorReply) -> NoReturn:
    """``what``, an opaque command, was answered by ``Error`` instead of ``Started``.

    A refusal with a session-level id (``parse_error``, ``protocol_error``) means the plugin
    did not take a well-formed ``Execute`` after the handshake: that fails. Any other
    refusal may just mean that the plugin does not run this command (e.g. empty ``params``),
    so the check cannot judge the protocol with it: without a ``noop`` probe the check is
    skipped, naming that probe; with one, the probe breaks its contract and the check fails.
    """
    got = f"Error{{id: {error.id!r}, message: {short(error.message)}}} instead of Started"
    if error.id in SESSION_ERROR_IDS:
        fail(
            f"Started for {what}, a well-formed Execute sent after the handshake",
            got,
            "once Hello and Schema are answered, accept every well-formed Execute with"
            " Started{id} (a command that cannot run ends with ExitStatus or Error after it)",
        )
    if not octa.has_probe("noop"):
        octa.missing_probes.append("noop")
        pytest.skip(
            f"{what} was refused ({got}), so this protocol check cannot run; configure a"
            " 'noop' probe (any command the plugin accepts and finishes quickly) with"
            " --probe noop=TEMPLATE or in octa-conform.toml under [probes]"
        )
    fail(
        f"Started for {what}",
        got,
        "the noop probe must be a command the plugin accepts (answers with Started) and"
        " finishes quickly: check the probe configuration",
    )


async def finish_opaque(
    octa: CheckContext, run: Run, what: str, timeout: float | None = None
) -> RunResult:
    """Wait for ``Started`` and then any terminal frame of an opaque command.

    A refusal is judged by :func:`opaque_refused`; other problems (no answer, the
    connection closing) raise :class:`HostError`. ``timeout`` bounds the terminal frame
    (default ``timeouts.command``).
    """
    try:
        await run.started()
    except PluginRefused as e:
        opaque_refused(octa, what, e.error)
    return await run.result(octa.timeouts.command if timeout is None else timeout)


async def session_still_works(octa: CheckContext, host: FakeOcta, after: str) -> None:
    """After ``after``, the same session still runs commands.

    The opaque command gets ``Started`` and one terminal frame (any code, or ``Error``);
    if the ``echo`` probe is configured, an echo also prints its text and exits 0. Each
    command is bounded by ``timeouts.reply``.
    """
    bound = octa.timeouts.reply
    what = f"{describe_opaque(octa)} sent after {after}"
    try:
        run = await host.execute(octa.opaque(), dir=str(octa.scratch()))
        await finish_opaque(octa, run, what, bound)
    except HostError as e:
        fail(
            f"Started and one terminal frame for {what} (the session keeps working)",
            str(e),
            "after refusing a bad line or command, keep reading: the session must go on",
        )
    if not octa.has_probe("echo"):
        return
    text = "the session still works"
    try:
        echoed = await host.run(
            octa.probe("echo", text=text), timeout=bound, dir=str(octa.scratch())
        )
    except HostError as e:
        fail(f"an echo after {after} to succeed (the session keeps working)", str(e))
    expect_echoed(echoed, text, f"the echo after {after} to print {text!r} and exit 0")
