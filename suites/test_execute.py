"""Execution (docs/protocol.md §2, §3 and §4.2).

After the handshake the host sends ``Execute{params, args, dir, envs, vars, dry}``. The
plugin answers **first** with ``Started{id}``, naming the command with an id *it* chooses,
then streams the command's output as ``Stdout{id, line}`` / ``Stderr{id, line}`` frames and
ends with exactly **one** terminal frame: ``ExitStatus{id, code}`` or ``Error{id, message}``.
After the terminal frame nothing more may be said about that id, and no frame may ever
name an id that no ``Started`` introduced: Octa 0.2.1 reads the frame after ``Execute`` as
the ``Started`` (anything else fails the task) and then reads until the terminal frame of
that id, so a missing, doubled or stray frame fails, hangs or corrupts the next task.

The command itself must see the ``dir`` and ``envs`` it was given, must not run at all when
``dry`` is true, and its output must come back complete, in order and byte-for-byte, also
when it is non-ASCII or very large: every frame is one UTF-8 JSON object on one
``\\n``-terminated line, however long.

The checks whose subject is the protocol itself (``Started`` first, one terminal frame,
nothing after it, well-formed frames, big frames) run on every plugin: they send an
*opaque command* (the ``noop`` probe if configured, else empty ``params``) and accept any
ending for it, ``ExitStatus`` with any code or ``Error``. The checks that must observe what
a command did use *probes* (``echo``, ``stderr``, ``fail``, ``lines``, ``touch``, ``pwd``,
``env``): command templates for the plugin's command language; the protocol checks use them
too, when configured, to cover output frames.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid

import pytest

from octa_conformance.checking import check, expect, fail
from octa_conformance.context import CheckContext
from octa_conformance.host import FakeOcta, HostError, PluginRefused, ReplyTimeout, Run, RunResult
from octa_conformance.protocol import (
    DECODE_KINDS,
    Closed,
    ErrorReply,
    Event,
    Kind,
    Received,
    Started,
    Violation,
    tally,
)
from octa_conformance.protocol.messages import SESSION_ERROR_IDS, TERMINAL_FRAMES
from octa_conformance.suite_helpers import (
    describe_opaque,
    finish_opaque,
    opaque_refused,
    session_still_works,
)
from octa_conformance.wording import describe_ending, describe_outcome, short

KIB = 1024
LARGE_FRAME_BYTES = 256 * KIB  # the Execute frame of execute.large-frame (bulk in vars)
LARGE_ECHO_BYTES = 96 * KIB  # its echo: under Linux's 128 KiB limit for one exec argument
LONG_PARAMS_BYTES = 160 * KIB  # execute.long-params: over that limit
BULK_VAR = "octa_conform_bulk"  # the vars entry that carries the bulk; no command reads it


# --- helpers --------------------------------------------------------------------------


def _show(frame: object) -> str:
    """``Stdout{id: 'x', line: 'hi\\n'}``: a frame as a plugin author would write it."""
    if frame is None:
        return "nothing"
    fields = ", ".join(
        f"{f.name}: {short(getattr(frame, f.name), 40)}"
        if isinstance(getattr(frame, f.name), str)
        else f"{f.name}: {getattr(frame, f.name)!r}"
        for f in dataclasses.fields(frame)  # type: ignore[arg-type]
    )
    return f"{getattr(frame, 'TYPE', type(frame).__name__)}{{{fields}}}"


def _event(ev: Event) -> str:
    if isinstance(ev, Received):
        shown = _show(ev.frame)
        return f"{'an' if shown[0] in 'AEIOU' else 'a'} {shown} frame"
    if isinstance(ev, Violation):
        return f"a frame the host rejected: {ev}"
    return "the plugin closing the connection"


def _observe(octa: CheckContext) -> float:
    """The window after a plan's last command in which late frames are watched for:
    ``timeouts.reply / 50`` (0.1 s, scaled).

    It only has to cover the last command: late frames of the earlier ones arrive while the
    later commands run. A late frame comes from the path that wrote the terminal frame (a
    second ``ExitStatus`` from a clean-up path, output flushed after the exit), so it follows
    within milliseconds; a tenth of a second leaves room for a loaded machine. Nothing can
    end it early on a conforming plugin: it proves that nothing more arrives.
    """
    return octa.timeouts.reply / 50


async def _finish(run: Run, octa: CheckContext) -> RunResult:
    """Wait for ``Started`` then for the terminal frame; return what arrived."""
    await run.started()
    return await run.result(octa.timeouts.command)


def _numbered_text(size: int) -> str:
    """``size`` ASCII characters in numbered blocks, so that a difference says where it is."""
    unit = "octa-{:06d}|"
    blocks = [unit.format(i) for i in range(size // len(unit.format(0)) + 1)]
    return "".join(blocks)[:size]


def _first_difference(want: str, got: str) -> str:
    """Where two texts first differ, shown with a little context."""
    n = next(
        (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
        min(len(want), len(got)),
    )
    lo = max(0, n - 20)
    return (
        f"{len(got)} chars instead of {len(want)}; first difference at char {n}:"
        f" expected {want[lo : n + 20]!r}, got {got[lo : n + 20]!r}"
    )


@dataclasses.dataclass(frozen=True)
class _Step:
    """One command of a protocol check's plan."""

    what: str  # how failure messages name it
    params: str
    opaque: bool = False  # the opaque command: any ending is fine, a refusal is judged apart
    dry: bool = False


def _plan(octa: CheckContext) -> list[_Step]:
    """A few representative commands, runnable on any plugin.

    The opaque command (plain, then with ``dry: true``) comes first and last; in between,
    the probes that make output, fail or stream lines, when they are configured.
    """
    opaque, params = describe_opaque(octa), octa.opaque()
    plan = [
        _Step(opaque, params, opaque=True),
        _Step(f"{opaque} with dry: true", params, opaque=True, dry=True),
    ]
    if octa.has_probe("echo"):
        plan.append(_Step("echo 'first'", octa.probe("echo", text="first")))
        plan.append(_Step("echo 'second line'", octa.probe("echo", text="second line")))
    if octa.has_probe("stderr"):
        plan.append(_Step("stderr 'to stderr'", octa.probe("stderr", text="to stderr")))
    if octa.has_probe("fail"):
        plan.append(_Step("fail 2", octa.probe("fail", code=2)))
    if octa.has_probe("lines"):
        plan.append(_Step("lines 50", octa.probe("lines", count=50)))
    plan.append(_Step(f"{opaque}, once more", params, opaque=True))
    return plan


async def _run_step(octa: CheckContext, host: FakeOcta, step: _Step) -> Run:
    """Run one step to its end (a refused opaque command is judged by opaque_refused)."""
    run = await host.execute(step.params, dry=step.dry)
    if step.opaque:
        await finish_opaque(octa, run, step.what)
    else:
        await _finish(run, octa)
    return run


async def _run_plan(octa: CheckContext, host: FakeOcta) -> list[tuple[str, Run]]:
    """Run the plan one command at a time, then keep listening for late frames."""
    runs = [(step.what, await _run_step(octa, host, step)) for step in _plan(octa)]
    await _quiet(host, octa)
    return runs


async def _quiet(host: FakeOcta, octa: CheckContext) -> None:
    """Listen for a short window (late frames show up as violations meanwhile)."""
    # the window passes (or the plugin closes): either way, look at what arrived
    with contextlib.suppress(HostError):
        await host.wait_for(lambda ev: False, _observe(octa), since=host.mark())


def _late_terminals(host: FakeOcta, ident: str | None) -> list[Violation]:
    """The kept violations that are terminal frames for ``ident`` after its first one (for
    display: the session counts every one of them in ``Execution.late_terminals``)."""
    return [
        v
        for v in host.violations
        if v.kind is Kind.FRAME_AFTER_TERMINAL
        and isinstance(v.frame, TERMINAL_FRAMES)
        and v.frame.id == ident
    ]


def _describe_late(host: FakeOcta, run: Run, late: int) -> str:
    shown = _late_terminals(host, run.id)[:5]
    more = f" and {late - len(shown)} more" if late > len(shown) else ""
    later = ", ".join(_show(v.frame) for v in shown)
    return f"{1 + late}: {_show(run.execution.terminal)}, {later}{more}"


# --- checks ---------------------------------------------------------------------------


@check(
    "execute.started-first",
    "MUST",
    section="4.2",
    summary="every `Execute` is answered first by `Started{id}`, `id` a non-empty string",
)
async def test_started_first(octa: CheckContext) -> None:
    """Every ``Execute`` is answered first by ``Started{id}``, ``id`` a non-empty string.

    Octa reads the next frame after ``Execute`` as the ``Started``; output, a terminal
    frame or anything else first fails the task with "Expected Started response".
    """
    host = await octa.ready()
    for step in _plan(octa):
        what = step.what
        mark = host.mark()
        run = await host.execute(step.params, dry=step.dry)
        k = run.index + 1

        earlier = {r.id for r in host.runs[: run.index]}

        def first(ev: Event, run: Run = run, earlier: set[str | None] = earlier) -> bool:
            if isinstance(ev, Received):
                # late frames of earlier commands are not answers (other checks judge them)
                if ev.execution is None:
                    return getattr(ev.frame, "id", None) not in earlier
                return ev.execution is run.execution
            if isinstance(ev, Violation):  # a late frame of an earlier id is another check's
                return ev.kind not in (Kind.FRAME_AFTER_TERMINAL, Kind.DUPLICATE_ID)
            return True

        try:
            ev = await host.wait_for(
                first, octa.timeouts.reply, since=mark, what=f"a reply to Execute #{k} ({what})"
            )
        except ReplyTimeout:
            fail(
                f"a Started{{id}} frame answering Execute #{k} ({what})",
                f"nothing within {octa.timeouts.reply:.1f} s",
                "write Started{id} as soon as the command is accepted, before any output",
            )
        if (
            step.opaque
            and isinstance(ev, Received)
            and isinstance(ev.frame, ErrorReply)
            and ev.execution is run.execution
        ):
            opaque_refused(octa, what, ev.frame)
        ok = (
            isinstance(ev, Received)
            and isinstance(ev.frame, Started)
            and ev.execution is run.execution
            and isinstance(ev.frame.id, str)
            and ev.frame.id != ""
        )
        if not ok:
            hint = "the first frame about a command must be Started{id} with a non-empty id"
            if isinstance(ev, Violation) and ev.kind is Kind.EMPTY_ID:
                hint = "choose a non-empty id (the Octa SDK uses a random UUID v4)"
            fail(f"a Started{{id}} frame answering Execute #{k} ({what}) first", _event(ev), hint)
        await run.result(octa.timeouts.command)


@check(
    "execute.one-terminal-frame",
    "MUST",
    section="4.2",
    summary="every started id gets exactly one terminal frame (`ExitStatus` or `Error`)",
)
async def test_one_terminal_frame(octa: CheckContext) -> None:
    """Every started id gets exactly one terminal frame (``ExitStatus`` or ``Error``).

    Octa reads a command's frames until the terminal frame of its id: without one the task
    hangs; a second one is read as the answer to whatever Octa sends next.
    """
    host = await octa.ready()
    runs: list[tuple[str, Run]] = []
    for step in _plan(octa):
        what = step.what
        mark = host.mark()
        run = await host.execute(step.params, dry=step.dry)
        try:
            ident = await run.started()
        except HostError as e:
            refused = run.execution.refused
            earlier = {r.id: w for w, r in runs}
            if refused is not None and refused.id in earlier:
                fail(
                    f"one terminal frame for the command {earlier[refused.id]!r}"
                    f" (id {refused.id!r})",
                    f"a second one, {_show(refused)}, arriving when Execute #{run.index + 1}"
                    " was waiting for its Started (Octa takes it for that command's answer)",
                    "send exactly one ExitStatus or Error per id",
                )
            if step.opaque and isinstance(e, PluginRefused):
                opaque_refused(octa, what, e.error)
            raise HostError(f"{e} (while checking the terminal frame of {what})") from None

        def terminal(ev: Event, run: Run = run) -> bool:
            if isinstance(ev, Closed) or run.done:
                return True
            return (
                isinstance(ev, Violation)
                and ev.kind is Kind.UNKNOWN_ID
                and isinstance(ev.frame, TERMINAL_FRAMES)
            )

        try:
            ev = await host.wait_for(
                terminal,
                octa.timeouts.command,
                since=mark,
                what=f"a terminal frame for id {ident!r}",
            )
        except ReplyTimeout:
            fail(
                f"one ExitStatus or Error frame for id {ident!r} ({what})",
                f"none within {octa.timeouts.command:.0f} s (frames of that id:"
                f" {', '.join(_show(f) for f in run.execution.frames[-5:])})",
                "every command must end with ExitStatus{id, code} or Error{id, message}",
            )
        if run.execution.terminal is None:
            if run.lost is not None:
                got = f"a terminal frame Octa cannot decode: {run.lost}"
            elif isinstance(ev, Violation):
                got = f"{_event(ev)} (a terminal frame with an id no Started named)"
            else:
                got = "the connection closing before any"
            fail(f"one ExitStatus or Error frame for id {ident!r} ({what})", got)
        runs.append((what, run))
    await _quiet(host, octa)
    for what, run in runs:
        late = run.execution.late_terminals
        expect(
            not late,
            f"exactly one terminal frame for id {run.id!r} ({what})",
            lambda run=run, late=late: _describe_late(host, run, late),
            "send ExitStatus or Error once per id, and nothing about that id afterwards",
        )


@check(
    "execute.nothing-after-terminal",
    "MUST",
    section="4.2",
    summary=(
        "no frame for an id after its terminal frame; no frame ever for an id that was never "
        "started"
    ),
)
async def test_nothing_after_terminal(octa: CheckContext) -> None:
    """No frame for an id after its terminal frame; no frame ever for an id never started.

    Octa 0.2.1 silently drops frames with other ids, but a late frame is lost output, and
    a host with several commands in flight cannot attribute it to anything.
    """
    host = await octa.ready()
    await _run_plan(octa, host)
    started = {r.id for r in host.runs if r.id is not None}
    bad = [
        v
        for v in host.violations
        if v.kind is Kind.FRAME_AFTER_TERMINAL
        or (v.kind is Kind.UNKNOWN_ID and getattr(v.frame, "id", None) not in started)
        or (v.kind is Kind.UNSOLICITED and isinstance(v.frame, Started))
    ]
    expect(
        not bad,
        "no frame about a command after its ExitStatus/Error, and none naming an id that no"
        " Started introduced",
        lambda: f"{tally(bad)} such frame(s): " + "; ".join(str(v) for v in bad[:5]),
        "finish all output of a command before writing its terminal frame, then forget the id",
    )


@check(
    "execute.stdout-delivered",
    "MUST",
    section="4.2",
    probes=("echo",),
    summary="probe `echo`: the text arrives in `Stdout` frames of that id, and `ExitStatus` is 0",
)
async def test_stdout_delivered(octa: CheckContext) -> None:
    """Probe ``echo``: the text arrives in ``Stdout`` frames of that id, and ExitStatus is 0."""
    text = f"octa-conformance stdout probe {uuid.uuid4().hex[:8]}"
    host = await octa.ready()
    result = await _finish(await host.execute(octa.probe("echo", text=text)), octa)
    if result.stdout != text:
        where = " (it arrived in Stderr frames)" if text in result.stderr else ""
        fail(
            f"Stdout frames with id {result.id!r} carrying {text!r}",
            f"stdout {short(result.stdout)}{where}; {describe_outcome(result)}",
            "send each line the command prints to stdout as Stdout{id, line}",
        )
    expect(
        result.exit_code == 0 and result.error is None,
        "ExitStatus{code: 0} after the output of a successful command",
        describe_outcome(result),
    )


@check(
    "execute.stderr-delivered",
    "SHOULD",
    section="4.2",
    probes=("stderr",),
    summary="probe `stderr`: the text arrives in `Stderr` frames",
)
async def test_stderr_delivered(octa: CheckContext) -> None:
    """Probe ``stderr``: the text arrives in ``Stderr`` frames of that id."""
    text = f"octa-conformance stderr probe {uuid.uuid4().hex[:8]}"
    host = await octa.ready()
    result = await _finish(await host.execute(octa.probe("stderr", text=text)), octa)
    where = " (it arrived in Stdout frames)" if text in result.stdout else ""
    expect(
        result.stderr == text,
        f"Stderr frames with id {result.id!r} carrying {text!r}",
        lambda: f"stderr {short(result.stderr)}{where}; {describe_outcome(result)}",
        "forward the command's standard error as Stderr{id, line} (users need the diagnostics)",
    )


@check(
    "execute.exit-code",
    "MUST",
    section="4.2",
    probes=("fail",),
    summary=(
        "probe `fail`: `ExitStatus.code` equals the requested non-zero code (tried with 1 and 3)"
    ),
)
async def test_exit_code(octa: CheckContext) -> None:
    """Probe ``fail``: ``ExitStatus.code`` equals the requested non-zero code (1 and 3)."""
    host = await octa.ready()
    for code in (1, 3):
        result = await _finish(await host.execute(octa.probe("fail", code=code)), octa)
        expect(
            result.exit_code == code and result.error is None,
            f"ExitStatus{{code: {code}}} for a command that exits with {code}",
            describe_outcome(result),
            "report the command's own exit status unchanged",
        )


@check(
    "execute.output-order",
    "MUST",
    section="4.2",
    probes=("lines",),
    summary="probe `lines`: 2,000 numbered lines arrive complete and in order",
)
async def test_output_order(octa: CheckContext) -> None:
    """Probe ``lines``: 2,000 numbered lines arrive complete and in order."""
    count = 2000
    host = await octa.ready()
    result = await _finish(await host.execute(octa.probe("lines", count=count)), octa)
    want = [str(i) for i in range(1, count + 1)]
    got = result.stdout.split("\n") if result.stdout_lines else []
    if got != want:
        missing = sorted(set(want) - set(got), key=int)
        n = next(
            (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
            min(len(got), count),
        )
        fail(
            f"the {count} lines 1..{count} on stdout, complete and in order",
            f"{len(got)} lines; {len(missing)} missing"
            + (f" (first missing: {', '.join(missing[:5])})" if missing else "")
            + f"; line {n + 1} should be "
            + (repr(want[n]) if n < count else "the end")
            + " but is "
            + (repr(got[n]) if n < len(got) else "missing")
            + f"; {describe_outcome(result)}",
            "forward every output line, in the order the command printed it",
        )


@check(
    "execute.unicode-roundtrip",
    "MUST",
    section="2",
    probes=("echo",),
    summary=(
        "probe `echo` with non-ASCII text, quotes, backslashes and a tab: the text comes back "
        "unchanged"
    ),
)
async def test_unicode_roundtrip(octa: CheckContext) -> None:
    """Probe ``echo`` with non-ASCII text, quotes, backslashes and a tab: unchanged."""
    text = "héllo wörld — 日本語 ✓ 😀 é \"double\" 'single' back\\slash \\n tab\there"
    host = await octa.ready()
    result = await _finish(await host.execute(octa.probe("echo", text=text)), octa)
    expect(
        result.stdout == text,
        f"stdout exactly {text!r}",
        lambda: (
            f"{result.stdout!r} ({_first_difference(text, result.stdout)}); "
            + describe_outcome(result)
        ),
        "pass params to the command unchanged and decode its output as UTF-8 (JSON-escape"
        " control characters, never drop or re-encode them)",
    )


@check(
    "execute.large-frame",
    "MUST",
    section="2",
    probes=("echo",),
    summary=(
        "framing of big frames both ways: a 256 KiB `Execute` frame (the bulk in a `vars` value no "
        "command looks at) is parsed, i.e. answered by `Started` and one terminal frame, never by "
        "`parse_error`/`protocol_error`, and the session goes on; and probe `echo` with a 96 KiB "
        "text (under Linux's 128 KiB limit for one exec argument) arrives intact"
    ),
)
async def test_large_frame(octa: CheckContext) -> None:
    """Big frames both ways, without reaching the operating system's limit for one exec
    argument (128 KiB on Linux, which real Octa has too).

    Inbound: a 256 KiB ``Execute`` frame whose bulk sits in a ``vars`` value that no command
    looks at, with the opaque command as ``params``: it must be parsed, i.e. answered by
    ``Started`` and one terminal frame (any code, or ``Error``), never refused as a
    ``parse_error``/``protocol_error``, and the session goes on. Outbound: probe ``echo``
    with a 96 KiB text; the text arrives intact (frames may split it into several lines).
    Without an ``echo`` probe the outbound half cannot run, and the check is skipped after
    the inbound one (a MUST check not fully run does not pass).
    """
    opaque = describe_opaque(octa)
    bulk = _numbered_text(LARGE_FRAME_BYTES)
    what = f"a {LARGE_FRAME_BYTES // KIB} KiB Execute frame: {opaque}, the bulk in vars.{BULK_VAR}"
    expected = f"Started and one terminal frame for {what}"
    hint = (
        "read host lines of any length (Octa has no line limit): every frame is one line,"
        " however long"
    )
    host = await octa.ready()
    run = await host.execute(octa.opaque(), vars={BULK_VAR: bulk}, dir=str(octa.scratch()))
    try:
        await run.started()
    except PluginRefused as e:
        got = f"Error{{id: {e.error.id!r}, message: {short(e.error.message)}}} instead of Started"
        if e.error.id in SESSION_ERROR_IDS:
            fail(expected, f"{got}: the frame was not parsed", hint)
        small = await host.execute(octa.opaque(), dir=str(octa.scratch()))
        await finish_opaque(octa, small, f"{opaque} (sent without the bulk)")
        fail(expected, f"{got}, while the same command without the bulk was accepted", hint)
    except HostError as e:
        fail(expected, str(e), hint)
    try:
        await run.result(octa.timeouts.command)
    except HostError as e:
        fail(expected, str(e), hint)
    await session_still_works(octa, host, f"the {LARGE_FRAME_BYTES // KIB} KiB Execute frame")

    text = _numbered_text(LARGE_ECHO_BYTES)
    try:
        params = octa.probe("echo", text=text)
    except pytest.skip.Exception as e:  # not fully run: skipped, never passed
        pytest.skip(
            f"inbound half passed (the {LARGE_FRAME_BYTES // KIB} KiB Execute frame was parsed"
            f" and the session went on); the outbound half (a {LARGE_ECHO_BYTES // KIB} KiB"
            f" echo) needs a probe: {e.msg}"
        )
    result = await _finish(await host.execute(params, dir=str(octa.scratch())), octa)
    got = "".join(result.stdout_lines).replace("\n", "")
    if got != text:
        hint = "write long output lines whole (or in pieces whose concatenation is the line)"
        if result.error is not None and "argument list too long" in result.error.lower():
            hint = (
                f"the {len(params.encode())}-byte command stayed under Linux's 128 KiB limit"
                " for one exec argument; check how the plugin passes params to the command"
            )
        fail(
            f"the {LARGE_ECHO_BYTES}-byte text on stdout, intact",
            f"{_first_difference(text, got)}; {describe_outcome(result)}",
            hint,
        )


@check(
    "execute.long-params",
    "INFO",
    section="2, 7",
    summary=(
        "whether a command whose `params` is over 128 KiB runs, or is answered with an `Error` (as "
        'the SDK\'s `sh -c` does: "Argument list too long")'
    ),
)
async def test_long_params(octa: CheckContext) -> None:
    """Whether a command whose ``params`` is over 128 KiB runs, or is answered by ``Error``.

    Linux refuses an exec argument over 128 KiB, so a plugin that runs ``sh -c PARAMS`` (as
    the SDK's shell plugin does) answers ``Started`` then ``Error`` ("Argument list too
    long"); real Octa has the same limit. With an ``echo`` probe the command is an echo of a
    160 KiB text (its output is compared); without one, the opaque command padded with
    160 KiB of spaces. Reported in figures, never a failure.
    """
    if octa.has_probe("echo"):
        text: str | None = _numbered_text(LONG_PARAMS_BYTES)
        params = octa.probe("echo", text=text)
        command = f"the echo probe of a {LONG_PARAMS_BYTES // KIB} KiB text"
    else:
        text = None
        params = octa.opaque() + " " * LONG_PARAMS_BYTES
        command = f"{describe_opaque(octa)} padded with {LONG_PARAMS_BYTES // KIB} KiB of spaces"
    figures: dict[str, object] = {"command": command, "params_bytes": len(params.encode())}
    host = await octa.ready()
    run = await host.execute(params, dir=str(octa.scratch()))
    try:
        await run.started()
        result = await run.result(octa.timeouts.command)
    except PluginRefused as e:
        octa.figure(**figures, outcome="refused: Error instead of Started", error=e.error.message)
        return
    except HostError as e:
        octa.figure(**figures, outcome="no answer", problem=str(e))
        return
    if result.error is not None:
        octa.figure(**figures, outcome="Started, then Error", error=result.error)
        return
    figures.update(outcome="ran", ending=describe_ending(result))
    if text is not None:
        got = "".join(result.stdout_lines).replace("\n", "")
        figures["output"] = "intact" if got == text else _first_difference(text, got)
    octa.figure(**figures)


@check(
    "execute.dry-run",
    "SHOULD",
    section="4.2",
    probes=("touch",),
    summary=(
        "probe `touch` with `dry: true`: `Started` and `ExitStatus{code:0}` arrive and the file is "
        "not created; the same without `dry` creates it"
    ),
)
async def test_dry_run(octa: CheckContext) -> None:
    """Probe ``touch`` with ``dry: true``: Started and ExitStatus{0}, and no file.

    The same command without ``dry`` creates the file (so the probe itself works).
    """
    scratch = octa.scratch()
    dry_path, real_path = scratch / "dry-run-must-not-exist", scratch / "real-run-creates-me"
    host = await octa.ready()
    dry = await _finish(await host.execute(octa.probe("touch", path=dry_path), dry=True), octa)
    expect(
        dry.exit_code == 0 and dry.error is None,
        "Started then ExitStatus{code: 0} for a dry run",
        describe_outcome(dry),
    )
    expect(
        not dry_path.exists(),
        f"no file at {dry_path} (dry: true must not perform the command)",
        "the file was created",
        "when Execute.dry is true, answer Started and ExitStatus{code: 0} and run nothing",
    )
    real = await _finish(await host.execute(octa.probe("touch", path=real_path)), octa)
    expect(
        real_path.exists(),
        f"the file {real_path} created by the same probe without dry",
        f"no file; {describe_outcome(real)}",
        "the touch probe must create the file it names (check the probe configuration)",
    )
    expect(
        not dry_path.exists(),
        f"still no file at {dry_path} after the real run",
        "the dry run's file appeared later (the command ran in the background)",
    )


@check(
    "execute.dir-honoured",
    "SHOULD",
    section="3",
    probes=("pwd",),
    summary="probe `pwd`: output equals the `dir` sent (a fresh temp dir)",
)
async def test_dir_honoured(octa: CheckContext) -> None:
    """Probe ``pwd``: the command runs in the ``dir`` sent (a fresh temp dir)."""
    where = octa.scratch() / "work dir"
    where.mkdir()
    host = await octa.ready()
    result = await _finish(await host.execute(octa.probe("pwd"), dir=str(where)), octa)
    expect(
        result.stdout == str(where),
        f"the command's working directory to be {str(where)!r}",
        lambda: f"pwd printed {short(result.stdout)}; {describe_outcome(result)}",
        "start the command with its working directory set to Execute.dir",
    )


@check(
    "execute.envs-honoured",
    "SHOULD",
    section="3",
    probes=("env",),
    summary="probe `env`: a variable passed only in `envs` is visible to the command",
)
async def test_envs_honoured(octa: CheckContext) -> None:
    """Probe ``env``: a variable passed only in ``envs`` is visible to the command."""
    name = f"OCTA_CONFORM_{uuid.uuid4().hex[:12].upper()}"
    value = f"value {uuid.uuid4().hex[:8]} from envs"
    host = await octa.ready()
    result = await _finish(
        await host.execute(octa.probe("env", name=name), envs={name: value}), octa
    )
    expect(
        result.stdout == value,
        f"the command to see {name}={value!r} (sent only in Execute.envs)",
        lambda: f"it printed {short(result.stdout)}; {describe_outcome(result)}",
        "add Execute.envs to the command's environment (on top of the plugin's own)",
    )


@check(
    "execute.frames-well-formed",
    "MUST",
    section="2",
    summary=(
        "every frame the plugin sent during the suite was one UTF-8 JSON object on one "
        "`\\n`-terminated line, of a known type, with the required fields and types"
    ),
)
async def test_frames_well_formed(octa: CheckContext) -> None:
    """Every frame is one UTF-8 JSON object on one ``\\n``-terminated line, of a known type,
    with the required fields and types.

    Each check uses a fresh plugin process, so this one runs a representative session
    (handshake, the opaque command with and without ``dry``, and where probes are
    configured stdout, stderr, a failure, many lines, non-ASCII output; shutdown) and
    inspects every frame of it.
    """
    host = await octa.ready()

    def broken() -> list[Violation]:
        return [v for v in host.violations if v.kind in DECODE_KINDS]

    opaque = octa.opaque()
    plan: list[tuple[str, bool]] = [(opaque, False), (opaque, True)]  # (params, dry)
    if octa.has_probe("echo"):
        plan.append((octa.probe("echo", text="plain, then ünïcödé 日本 and a\ttab"), False))
    if octa.has_probe("stderr"):
        plan.append((octa.probe("stderr", text="to stderr"), False))
    if octa.has_probe("fail"):
        plan.append((octa.probe("fail", code=4), False))
    if octa.has_probe("lines"):
        plan.append((octa.probe("lines", count=300), False))
    for params, dry in plan:
        mark = host.mark()
        run = await host.execute(params, dry=dry)

        def settled(ev: Event, run: Run = run) -> bool:
            return run.done or (isinstance(ev, Violation) and ev.kind in DECODE_KINDS)

        try:  # stop early on a broken frame: the command may never be seen to end
            await host.wait_for(
                settled,
                octa.timeouts.command,
                since=mark,
                what=f"the end of Execute #{run.index + 1}",
            )
        except HostError:
            break  # judged below on the frames that did arrive
        if broken():
            break
    if not broken():
        with contextlib.suppress(HostError):  # other checks judge Shutdown itself
            await host.shutdown()
    bad = broken()
    expect(
        not bad,
        "every frame one UTF-8 JSON object on one \\n-terminated line, of a known type, with"
        " the required fields and types",
        lambda: f"{tally(bad)} malformed frame(s): " + "; ".join(str(v) for v in bad[:5]),
        'build each frame with a JSON encoder as {"type": T, "payload": {...}} (types'
        " Started, Stdout, Stderr, ExitStatus, Error, Shutdown) and end it with \\n",
    )
