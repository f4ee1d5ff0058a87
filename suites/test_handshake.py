"""Handshake (docs/protocol.md §3, §4.1).

Right after connecting, Octa sends ``Hello`` with its own version and reads the next frame
as the plugin's answer:

* ``Hello{version, features}``: ``version`` is a Cargo semver *requirement* on Octa's
  version (``"0.2.1"`` means ``^0.2.1``). Octa parses it (0.2.1 *panics* if it does not
  parse) and loads the plugin only if its own version matches it; ``features`` is an array
  of strings, reserved (``[]``).
* anything else (``Error``, another frame, a closed connection) and the plugin fails to load.

Then Octa sends ``Schema`` and expects ``Schema{key}``: ``key`` is the task attribute the
plugin serves (``shell:`` in a task). Octa looks the key up among a task's *extra*
attributes, so a key equal to a built-in attribute (``env``, ``dir``, ``cmds``...) can never
be used.

A careful plugin also guards its stages: an ``Execute`` before the handshake is over, or a
second ``Hello`` once it is, gets an ``Error`` frame (one ``\\n``-terminated line, like every
frame) and nothing is run; the session goes on. And it ignores what it does not know in the
host's ``Hello`` (unknown ``features`` or extra fields), so that a later Octa can add some.

Except for ``handshake.hello-reply``, which insists on the target dialect, these checks talk
to the plugin in the dialect its own ``Hello`` was written in: a plugin built on the 0.2.0 SDK
then fails the dialect check once, not every check of the area.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from octa_conformance import waits
from octa_conformance.checking import check, expect, fail
from octa_conformance.context import CheckContext
from octa_conformance.host import FakeOcta, HostError, Run
from octa_conformance.protocol import (
    Closed,
    Dialect,
    ErrorReply,
    Event,
    ExitStatus,
    HelloCommand,
    HelloReply,
    Kind,
    Received,
    SchemaCommand,
    SchemaReply,
    Violation,
)
from octa_conformance.protocol.messages import SESSION_ERROR_IDS
from octa_conformance.protocol.violations import quote
from octa_conformance.semver import parse_requirement
from octa_conformance.suite_helpers import (
    describe_opaque,
    expect_echoed,
    expect_reply,
    launch_in_plugin_dialect,
    opaque_refused,
    reply_to,
    settled,
)
from octa_conformance.wording import describe_frame, describe_reply

# The task attributes Octa 0.2.1 defines itself (docs/protocol.md §4.1): a plugin key equal to one
# of them is never looked up among the task's extra attributes, so the plugin is never used.
BUILTIN_TASK_ATTRIBUTES = frozenset(
    {
        "env",
        "dir",
        "desc",
        "vars",
        "cmds",
        "internal",
        "platforms",
        "ignore_error",
        "deps",
        "run",
        "silent",
        "execute_mode",
        "sources",
        "source_strategy",
        "preconditions",
    }
)
PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

DIALECT_SHAPES = {
    Dialect.V0_2_1: 'adjacently tagged: {"type":"Hello","payload":{"version":...,"features":[]}}',
    Dialect.V0_2_0: 'internally tagged: {"type":"Hello","version":...,"features":[]}',
}


# --- helpers ----------------------------------------------------------------------------


async def hello(host: FakeOcta, octa: CheckContext) -> HelloReply:
    return await expect_reply(
        host,
        HelloCommand(octa.target),
        HelloReply,
        f"a Hello response to Hello{{version: {octa.target!r}}}",
        "answer Hello with Hello{version: <your semver requirement>, features: []}",
    )


async def schema(host: FakeOcta) -> SchemaReply:
    return await expect_reply(
        host,
        SchemaCommand(),
        SchemaReply,
        "a Schema{key} response to Schema",
        "answer Schema with Schema{key: <the task attribute you serve>}",
    )


async def file_appears(path: Path, window: float, poll: float) -> bool:
    """Poll for ``path`` during ``window`` seconds (a file cannot be awaited)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    deadline = loop.time() + window
    while not path.exists():
        if loop.time() >= deadline:
            waits.expired(started, "handshake: watching for the refused command's file")
            return False
        await asyncio.sleep(poll)
    return True


def continuation_window(octa: CheckContext) -> float:
    """How long the host waits for the first answer the plugin need not give: a tenth of
    ``timeouts.reply`` (scaled like it).

    After refusing a command sent in the wrong stage, a plugin may go on with the session or
    not. One that goes on answers at once (well within this window, even on a loaded
    machine); one that does not must not cost the host a whole reply bound.
    """
    return octa.timeouts.reply / 10


def finished_a_command(run: Run) -> Callable[[Event], bool]:
    """Whether an event shows the plugin finishing a command: ``run``'s terminal frame (or
    its refusal), or any terminal frame the host cannot attribute to a command (its
    ``Started`` was lost, e.g. glued to a frame written without its newline)."""

    def finished(ev: Event) -> bool:
        if run.done or isinstance(ev, Closed):
            return True
        frame = ev.frame if isinstance(ev, (Received, Violation)) else None
        if isinstance(frame, ErrorReply):
            return frame.id not in SESSION_ERROR_IDS
        return isinstance(frame, ExitStatus)

    return finished


async def continue_session(octa: CheckContext, host: FakeOcta, rest: list[str], work: Path) -> bool:
    """Send what is left of the handshake (``rest``) and one command, back to back; whether
    the plugin was then seen to finish a command (it processed everything sent before).

    The command is the echo probe if configured, else the opaque command; any ending counts,
    and so does a terminal frame the host cannot attribute: the SDK, which moves on to its
    next stage after a refusal, refuses the host's ``Hello``/``Schema`` in turn, the last time
    without a newline, so its refusal runs into the command's ``Started``. Nothing is waited
    per handshake reply: the plugin's first answer must come within ``continuation_window``
    (a plugin need not go on after a refusal), then the command gets ``timeouts.reply``.
    """
    mark = host.mark()
    params = octa.probe("echo", text="flush") if octa.has_probe("echo") else octa.opaque()
    try:
        for name in rest:
            await host.send(HelloCommand(octa.target) if name == "Hello" else SchemaCommand())
        run = await host.execute(params, dir=str(work))
        await host.wait_for(
            lambda ev: True, continuation_window(octa), since=mark, what="an answer"
        )
        ev = await host.wait_for(
            finished_a_command(run), octa.timeouts.reply, since=mark, what="a finished command"
        )
    except HostError:
        return False  # the session need not go on after a refusal
    return not isinstance(ev, Closed)


async def refused_and_not_run(octa: CheckContext, stage: str, rest: list[str]) -> None:
    """Send the ``touch`` probe as an Execute ``stage``; it must get an Error and not run.

    ``rest`` is what is left of the handshake (``Hello``, ``Schema``). After the refusal the
    host sends the rest of the handshake and one more command (``continue_session``): once
    the plugin has finished that command, a refused command it ran anyway has created its
    file. If the plugin does not go on (it need not), the host watches for the file during
    the short ``continuation_window`` instead.
    """
    work = octa.scratch()
    marker = work / f"executed-{stage.replace(' ', '-')}"
    params = octa.probe("touch", path=str(marker))  # skips the check if not configured
    host = await launch_in_plugin_dialect(octa)
    if "Hello" not in rest:
        await hello(host, octa)
    mark = host.mark()
    run = await host.execute(params, dir=str(work))
    # The session flags every frame before Hello; here the host asked for this one.
    ev = await settled(host, run.execution.command, mark, ignore=(Kind.SENT_BEFORE_HELLO,))
    expected = f"an Error frame answering an Execute sent {stage}"
    if isinstance(ev, Received) and ev.frame.TYPE == "Started":
        fail(
            expected,
            f"Started{{id: {ev.frame.id!r}}}: the plugin executed a command {stage},"
            " before the handshake was complete",
            "keep a per-connection stage (expect Hello, expect Schema, ready) and answer an"
            ' Execute in the wrong stage with Error{id: "protocol_error", message: ...}',
        )
    if not (isinstance(ev, Received) and isinstance(ev.frame, ErrorReply)):
        fail(
            expected,
            describe_reply(host, ev),
            'answer it with Error{id: "protocol_error", message: "Expected Hello command"}',
        )
    if await continue_session(octa, host, rest, work):
        appeared = marker.exists()
    else:
        window = continuation_window(octa)
        appeared = await file_appears(marker, window, octa.timeouts.poll)
    expect(
        not appeared,
        f"the refused Execute (sent {stage}) not run: no file {marker}",
        f"the file {marker} was created: the plugin answered Error but ran the command anyway",
        "refuse the command without running it",
    )


# --- checks -----------------------------------------------------------------------------


@check(
    "handshake.hello-reply",
    "MUST",
    section="3, 4.1",
    summary=(
        "`Hello` is answered with a well-formed `Hello` response of the target dialect (`version` "
        "string, `features` array of strings)"
    ),
)
async def test_hello_reply(octa: CheckContext) -> None:
    """``Hello`` is answered with a well-formed ``Hello`` response of the target dialect.

    ``version`` must be a string and ``features`` an array of strings; a missing or mistyped
    field makes the whole frame unparsable for Octa, and the plugin fails to load.
    """
    host = await octa.launch()  # speaks the target's dialect
    target = octa.dialect
    ev = await reply_to(host, HelloCommand(octa.target))
    expected = (
        f"a Hello response in dialect {target.value} ({DIALECT_SHAPES[target]}),"
        " with version a string and features an array of strings"
    )
    if isinstance(ev, Violation) and ev.kind is Kind.WRONG_DIALECT:
        other = next(d for d in Dialect if d is not target)
        seen = octa.info.dialect if octa.info.dialect not in (None, target) else other
        fail(
            expected,
            f"a Hello response in dialect {seen.value} ({DIALECT_SHAPES[seen]}): {quote(ev.data)}",
            f"Octa {octa.target} reads responses in dialect {target.value} only and fails to load"
            f" this plugin; build it against the octa-plugin SDK {target.value} (or write"
            f" {'the fields inside payload' if target.adjacent else 'the fields beside type'})",
        )
    if isinstance(ev, Violation) and ev.kind in (Kind.MISSING_FIELD, Kind.WRONG_TYPE):
        fail(
            expected,
            f"a malformed Hello: {ev.message}: {quote(ev.data)}",
            "Octa (serde) cannot parse a Hello with a missing or mistyped field and fails to"
            ' load the plugin; send e.g. {"type":"Hello","payload":{"version":">=0.2.1, <0.3.0",'
            '"features":[]}}',
        )
    if not (isinstance(ev, Received) and isinstance(ev.frame, HelloReply)):
        fail(
            expected,
            describe_reply(host, ev),
            "answer Hello with Hello{version: <your semver requirement>, features: []};"
            " Octa decides compatibility itself",
        )
    reply = ev.frame
    expect(
        isinstance(reply.version, str)
        and isinstance(reply.features, tuple)
        and all(isinstance(f, str) for f in reply.features),
        expected,
        repr(reply),
    )


@check(
    "handshake.requirement-parses",
    "MUST",
    section="5",
    summary=(
        "`Hello.version` parses as a Cargo semver requirement (Octa 0.2.1 panics on one that does "
        "not)"
    ),
)
async def test_requirement_parses(octa: CheckContext) -> None:
    """``Hello.version`` parses as a Cargo semver requirement (Octa 0.2.1 panics otherwise)."""
    host = await launch_in_plugin_dialect(octa)
    reply = await hello(host, octa)
    try:
        parse_requirement(reply.version)
    except ValueError as e:
        fail(
            "Hello.version to be a Cargo semver version requirement, e.g. '>=0.2.1, <0.3.0'"
            " or '0.2.1' (which means ^0.2.1)",
            f"{reply.version!r}, which does not parse: {e}",
            "Octa 0.2.1 unwraps VersionReq::parse(...) and PANICS on this: the user's whole"
            " Octa run crashes, not just this plugin",
        )


@check(
    "handshake.requirement-matches-target",
    "MUST",
    section="5",
    summary=(
        "the requirement matches the target Octa version (default `0.2.1`, option `--octa-version`)"
    ),
)
async def test_requirement_matches_target(octa: CheckContext) -> None:
    """The requirement matches the target Octa version (``--octa-version``, default 0.2.1)."""
    host = await launch_in_plugin_dialect(octa)
    reply = await hello(host, octa)
    try:
        requirement = parse_requirement(reply.version)
    except ValueError as e:
        fail(
            f"a requirement that accepts Octa {octa.target}",
            f"{reply.version!r}, which does not even parse ({e}): Octa 0.2.1 panics on it",
        )
    expect(
        requirement.matches(octa.target),
        f"a requirement that accepts Octa {octa.target}",
        f"{reply.version!r}, which does not: Octa {octa.target} refuses to load the plugin"
        " (Version mismatch)",
        f"declare e.g. '{octa.target}' (= ^{octa.target}) or a range such as"
        f" '>={octa.target}, <NEXT-BREAKING'; remember that a bare version means ^",
    )


@check(
    "handshake.schema-reply",
    "MUST",
    section="3, 4.1",
    summary="`Schema` is answered with `Schema{key}`, `key` a non-empty string",
)
async def test_schema_reply(octa: CheckContext) -> None:
    """``Schema`` is answered with ``Schema{key}``, ``key`` a non-empty string."""
    host = await launch_in_plugin_dialect(octa)
    await hello(host, octa)
    reply = await schema(host)
    expect(
        isinstance(reply.key, str) and reply.key != "",
        "Schema{key} with key a non-empty string (the task attribute the plugin serves)",
        f"Schema{{key: {reply.key!r}}}",
        "an empty key can never appear in a task: Octa could not route any command to you",
    )


@check(
    "handshake.key-usable",
    "SHOULD",
    section="4.1",
    summary=(
        "the key is a plain identifier (`[A-Za-z_][A-Za-z0-9_-]*`) and not one of the built-in "
        "task attributes"
    ),
)
async def test_key_usable(octa: CheckContext) -> None:
    """The key is a plain identifier and not one of Octa's built-in task attributes."""
    host = await launch_in_plugin_dialect(octa)
    await hello(host, octa)
    key = (await schema(host)).key
    expect(
        PLAIN_KEY.fullmatch(key) is not None,
        "a key that is a plain identifier ([A-Za-z_][A-Za-z0-9_-]*), usable as a task"
        " attribute name",
        f"{key!r}",
        "task attributes are written as plain YAML keys (e.g. `shell: echo hi`); pick a"
        " short identifier",
    )
    expect(
        key not in BUILTIN_TASK_ATTRIBUTES,
        "a key that is not a built-in task attribute"
        f" ({', '.join(sorted(BUILTIN_TASK_ATTRIBUTES))})",
        f"{key!r}, which Octa reads as its own task attribute",
        "Octa looks plugin keys up among a task's *extra* attributes only, so this plugin"
        " would never be called; choose another key",
    )


@check(
    "handshake.execute-before-hello-refused",
    "SHOULD",
    section="4.1",
    probes=("touch",),
    summary=(
        "an `Execute` sent first is answered with an `Error` frame and is **not** executed "
        "(side-effect probe: no file appears)"
    ),
)
async def test_execute_before_hello_refused(octa: CheckContext) -> None:
    """An ``Execute`` sent first is answered with ``Error`` and not executed (no file appears).

    The host then tries to finish the handshake and run one more command, so that a command
    the plugin ran anyway has had time to create its file before the host looks; a plugin
    that does not go on (the SDK refuses the host's ``Hello`` in its ``Schema`` stage) is
    watched for a short window instead.
    """
    await refused_and_not_run(octa, "before Hello", ["Hello", "Schema"])


@check(
    "handshake.execute-before-schema-refused",
    "SHOULD",
    section="4.1",
    probes=("touch",),
    summary="after `Hello`, an `Execute` instead of `Schema` gets an `Error` and is not executed",
)
async def test_execute_before_schema_refused(octa: CheckContext) -> None:
    """After ``Hello``, an ``Execute`` instead of ``Schema`` gets ``Error`` and is not executed."""
    await refused_and_not_run(octa, "between Hello and Schema", ["Schema"])


@check(
    "handshake.repeated-hello-refused",
    "SHOULD",
    section="4.2",
    summary=(
        "a second `Hello` after the handshake gets a newline-terminated `Error` frame, and the "
        "session still works afterwards"
    ),
)
async def test_repeated_hello_refused(octa: CheckContext) -> None:
    """A second ``Hello`` after the handshake gets a ``\\n``-terminated ``Error``; the session
    still works: a command sent next runs (the echo probe prints its text; without it, the
    opaque command gets ``Started`` and any terminal frame).

    The command is sent right behind the second ``Hello``, without waiting for its answer: a
    plugin answers both in order, and a frame written without its newline only shows when
    the next frame runs into it. So no window is waited: the check ends with the command.
    """
    echo = octa.has_probe("echo")
    text = f"still-alive-{uuid.uuid4().hex[:8]}"
    params = octa.probe("echo", text=text) if echo else octa.opaque()
    what = "the echo probe" if echo else describe_opaque(octa)
    host = await launch_in_plugin_dialect(octa)
    await hello(host, octa)
    await schema(host)
    second = HelloCommand(octa.target)
    mark = host.mark()

    def ends(e: Event) -> bool:
        """A problem, or the command's own end; event by event, so that a problem that
        arrived before the end (in the same read, maybe) is found first."""
        if isinstance(e, (Violation, Closed)):
            return True
        ex = run.execution
        return isinstance(e, Received) and (e.frame is ex.terminal or e.frame is ex.refused)

    try:
        await host.send(second)
        run = await host.execute(params, dir=str(octa.scratch()))
        ev = await host.wait_for(
            ends,
            octa.timeouts.command,
            since=mark,
            what=f"the end of {what} sent after the second Hello",
        )
    except HostError as e:
        fail(
            f"{what} to finish after the refused Hello (within {octa.timeouts.command} s)",
            str(e),
        )
    answers = [
        e
        for e in host.events_since(mark)
        if isinstance(e, Received) and e.answers is not None and e.answers.command is second
    ]
    if answers and isinstance(answers[0].frame, HelloReply):
        fail(
            "an Error frame answering the second Hello",
            f"{describe_frame(answers[0])}: the plugin ran the handshake again",
            "the handshake happens once per connection; answer a second Hello with Error{id:"
            ' "protocol_error", message: ...} and carry on',
        )
    problem = ev if isinstance(ev, (Violation, Closed)) else None
    glued = [v for v in host.violations if v.kind is Kind.FRAMES_RUN_TOGETHER]
    if glued:
        fail(
            "the Error answering the second Hello as one JSON line terminated by \\n",
            f"it ran into the next frame on the same line: {glued[0]}",
            "the Octa SDK writes its protocol_error frames without the trailing newline (a known"
            " SDK bug): Octa then fails to parse the next frame, here the Started of the next"
            ' command. Write "\\n" after every frame',
        )
    if not answers:
        fail(
            "an Error frame answering the second Hello",
            "no answer to it"
            + (f" (then: {describe_reply(host, problem)})" if problem is not None else ""),
            'answer a second Hello with Error{id: "protocol_error", message: ...}; Octa pairs'
            " replies with commands by order, so an unanswered command shifts every later reply",
        )
    if not isinstance(answers[0].frame, ErrorReply):
        fail("an Error frame answering the second Hello", describe_frame(answers[0]))
    if problem is not None:
        fail("the session to go on after the refused Hello", describe_reply(host, problem))
    refusal = run.execution.refused
    if not echo:
        if refusal is not None:
            opaque_refused(octa, f"{what} sent after the refused Hello", refusal)
        return  # Started and any terminal frame: the session still works
    result = run.snapshot()
    if result.refused:
        fail(
            "the session to keep working after the refused Hello (the echo probe runs)",
            f"the echo was refused: {result.error!r}",
        )
    expect_echoed(
        result,
        text,
        f"the echo probe after the refused Hello to print {text!r} and exit 0",
        "a refused command must not end or derail the session",
    )


@check(
    "handshake.features-tolerated",
    "SHOULD",
    section="3",
    summary=(
        "a host `Hello` with unknown strings in `features` and unknown extra fields is still "
        "accepted"
    ),
)
async def test_features_tolerated(octa: CheckContext) -> None:
    """A host ``Hello`` with unknown ``features`` and unknown extra fields is still accepted."""
    host = await launch_in_plugin_dialect(octa)
    cmd = HelloCommand(octa.target, ("some-future-feature",), {"future_field": 1})
    await expect_reply(
        host,
        cmd,
        HelloReply,
        'a Hello response to Hello{version, features: ["some-future-feature"], future_field: 1}',
        "ignore features and fields you do not know (serde ignores unknown fields by default);"
        " a later Octa will send some",
    )
    await schema(host)
