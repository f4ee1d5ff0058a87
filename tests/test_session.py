"""Unit tests of the host-side sans-IO session (docs/protocol.md §4), h11-style."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octa_conformance.protocol import (
    Closed,
    Command,
    Dialect,
    ErrorReply,
    Event,
    ExecuteCommand,
    ExitStatus,
    HelloCommand,
    HelloReply,
    HostSession,
    Kind,
    NotKept,
    RawLine,
    Received,
    Response,
    SchemaCommand,
    SchemaReply,
    ShutdownCommand,
    ShutdownReply,
    Started,
    Stderr,
    Stdout,
    Violation,
    ViolationLog,
    encode_command,
    encode_response,
    tally,
)
from octa_conformance.protocol import session as session_module
from octa_conformance.protocol.session import CommandLost, FailReason, ReplyFailed, Sent, Stage
from octa_conformance.protocol.stages import TRANSITIONS, Trigger, next_stage
from octa_conformance.protocol.violations import KEEP_FIRST, KEEP_LAST

DIALECTS = [Dialect.V0_2_0, Dialect.V0_2_1]


@pytest.fixture(params=DIALECTS, ids=lambda d: d.value)
def dialect(request: pytest.FixtureRequest) -> Dialect:
    return request.param  # type: ignore[no-any-return]


# --- helpers ------------------------------------------------------------------------


def wire(s: HostSession, *frames: Response) -> bytes:
    return b"".join(encode_response(f, s.dialect) for f in frames)


def feed(s: HostSession, *frames: Response) -> list[Event]:
    return s.receive_data(wire(s, *frames))


def violations(events: list[Event]) -> list[Violation]:
    return [e for e in events if isinstance(e, Violation)]


def kinds(events: list[Event]) -> list[Kind]:
    return [v.kind for v in violations(events)]


def received(events: list[Event]) -> list[Received]:
    return [e for e in events if isinstance(e, Received)]


def one(events: list[Event]) -> Received:
    """The events are exactly one Received and no violation."""
    assert kinds(events) == []
    (r,) = events
    assert isinstance(r, Received)
    return r


def refusal(events: list[Event]) -> tuple[Received, ReplyFailed]:
    """The events are exactly an Error answering a command and the ReplyFailed it makes."""
    r, failed = events
    assert isinstance(r, Received) and isinstance(r.frame, ErrorReply)
    assert isinstance(failed, ReplyFailed) and failed.reason is FailReason.REFUSED
    assert failed.sent is r.answers and failed.error is r.frame
    return r, failed


def violation(events: list[Event], kind: Kind, *needles: str) -> Violation:
    """Exactly one violation, of ``kind``, whose message names the needles."""
    (v,) = violations(events)
    assert v.kind is kind, str(v)
    for needle in needles:
        assert needle in v.message, (needle, v.message)
    assert v.data  # the offending frame is quoted
    assert v.frame is not None
    return v


def ready(dialect: Dialect = Dialect.V0_2_1) -> HostSession:
    """A session past the handshake."""
    s = HostSession(dialect)
    s.send(HelloCommand("0.2.1"))
    one(feed(s, HelloReply("0.2.1")))
    s.send(SchemaCommand())
    one(feed(s, SchemaReply("shell")))
    return s


def start(s: HostSession, ident: str, params: str = "true") -> Received:
    s.send(ExecuteCommand(params))
    return one(feed(s, Started(ident)))


# --- handshake ----------------------------------------------------------------------


def test_handshake_pairs_replies_with_commands(dialect: Dialect) -> None:
    s = HostSession(dialect)
    sent = s.send(HelloCommand("0.2.1"))
    assert sent.data == encode_command(HelloCommand("0.2.1"), dialect)
    assert s.stage is Stage.HELLO_SENT
    r = one(feed(s, HelloReply(">=0.2.0, <0.3", ("x",))))
    assert r.frame == HelloReply(">=0.2.0, <0.3", ("x",))
    assert r.raw == wire(s, r.frame).rstrip(b"\n")
    assert r.answers is not None
    assert r.answers.command == HelloCommand("0.2.1")
    assert r.answers.seq == 0
    assert r.execution is None
    assert not s.pending

    assert s.send(SchemaCommand()).data == b'{"type":"Schema"}\n'
    r = one(feed(s, SchemaReply("shell")))
    assert r.answers is not None
    assert r.answers.command == SchemaCommand()
    assert r.answers.seq == 1
    assert not s.pending and s.lines_sent == 2


def test_pipelined_handshake_in_one_chunk(dialect: Dialect) -> None:
    s = HostSession(dialect)
    s.send(HelloCommand("0.2.1"))
    s.send(SchemaCommand())
    assert len(s.pending) == 2
    events = feed(s, HelloReply("0.2.1"), SchemaReply("k"))
    assert kinds(events) == []
    hello, schema = received(events)
    assert hello.answers is not None and hello.answers.seq == 0
    assert schema.answers is not None and schema.answers.seq == 1
    assert not s.pending


def test_reply_split_across_chunks(dialect: Dialect) -> None:
    s = HostSession(dialect)
    s.send(HelloCommand("0.2.1"))
    data = wire(s, HelloReply("0.2.1"))
    assert s.receive_data(data[:5]) == []
    assert s.receive_data(data[5:-1]) == []
    r = one(s.receive_data(data[-1:]))
    assert isinstance(r.frame, HelloReply)


def test_error_answers_a_pending_hello(dialect: Dialect) -> None:
    s = HostSession(dialect)
    s.send(HelloCommand("0.1.0"))
    r, _ = refusal(feed(s, ErrorReply("protocol_error", "Version mismatch")))
    assert r.answers is not None
    assert isinstance(r.answers.command, HelloCommand)
    assert r.execution is None
    assert not s.pending


# --- the stages: a named state machine (docs/protocol.md §4) ----------------------------


def test_send_returns_its_entry(dialect: Dialect) -> None:
    s = ready(dialect)
    cmd = ExecuteCommand("echo hi")
    sent = s.send(cmd)
    assert isinstance(sent, Sent)
    assert sent.command is cmd and sent.data == encode_command(cmd, dialect)
    assert sent.seq == 2 and sent.stage is Stage.READY and sent.in_stage
    assert sent.execution is s.executions[0] and sent.execution.command is cmd
    assert s.pending == (sent,)
    r = one(feed(s, Started("a")))
    assert r.answers is sent and r.execution is sent.execution
    assert s.send(SchemaCommand()).execution is None  # only an Execute has one


def test_each_stage_of_a_whole_session(dialect: Dialect) -> None:
    s = HostSession(dialect)
    seen = [s.stage]
    s.send(HelloCommand("0.2.1"))
    seen.append(s.stage)
    feed(s, HelloReply("0.2.1"))
    seen.append(s.stage)
    s.send(SchemaCommand())
    seen.append(s.stage)
    feed(s, SchemaReply("k"))
    seen.append(s.stage)
    start(s, "a")
    feed(s, ExitStatus("a", 0))
    seen.append(s.stage)
    s.send(ShutdownCommand())
    seen.append(s.stage)
    feed(s, ShutdownReply("bye"))
    seen.append(s.stage)
    s.receive_eof()
    seen.append(s.stage)
    assert seen == [
        Stage.CONNECTED,
        Stage.HELLO_SENT,
        Stage.HELLO_DONE,
        Stage.SCHEMA_SENT,
        Stage.READY,
        Stage.READY,
        Stage.SHUTDOWN_SENT,
        Stage.SHUT_DOWN,
        Stage.CLOSED,
    ]
    assert not s.out_of_stage


def test_a_pipelined_handshake_moves_on_sending(dialect: Dialect) -> None:
    s = HostSession(dialect)
    s.send(HelloCommand("0.2.1"))
    s.send(SchemaCommand())
    assert s.stage is Stage.SCHEMA_SENT
    assert s.send(ExecuteCommand("x")).in_stage and s.stage is Stage.READY
    feed(s, HelloReply("0.2.1"), SchemaReply("k"))  # late answers move nothing back
    assert s.stage is Stage.READY and not s.out_of_stage


def test_execute_before_hello_is_sent_and_recorded_not_refused(dialect: Dialect) -> None:
    """The harness sends out of order on purpose: the plugin's reaction is judged."""
    s = HostSession(dialect)
    sent = s.send(ExecuteCommand("touch marker"))
    assert sent.data == encode_command(ExecuteCommand("touch marker"), dialect)
    assert not sent.in_stage and sent.stage is Stage.CONNECTED
    assert s.out_of_stage == [sent] and s.stage is Stage.CONNECTED
    assert s.pending == (sent,) and sent.execution is s.executions[0]
    r, failed = refusal(feed(s, ErrorReply("protocol_error", "Expected Hello command")))
    assert failed.sent is sent and sent.execution.refused == r.frame
    assert s.stage is Stage.CONNECTED  # a refused out-of-stage command moves nothing
    s.send(HelloCommand("0.2.1"))
    feed(s, HelloReply("0.2.1"))
    assert s.stage is Stage.HELLO_DONE


def test_execute_before_schema_is_out_of_stage(dialect: Dialect) -> None:
    s = HostSession(dialect)
    s.send(HelloCommand("0.2.1"))
    feed(s, HelloReply("0.2.1"))
    sent = s.send(ExecuteCommand("x"))
    assert not sent.in_stage and sent.stage is Stage.HELLO_DONE
    refusal(feed(s, ErrorReply("protocol_error", "Expected Schema command")))
    assert s.stage is Stage.HELLO_DONE


def test_a_repeated_hello_is_out_of_stage_and_its_refusal_fails_nothing(
    dialect: Dialect,
) -> None:
    s = ready(dialect)
    second = s.send(HelloCommand("0.2.1"))
    assert not second.in_stage and s.out_of_stage == [second]
    _, failed = refusal(feed(s, ErrorReply("protocol_error", "Unexpected Hello command")))
    assert failed.sent is second
    assert s.stage is Stage.READY


@pytest.mark.parametrize("name", ["Hello", "Schema"])
def test_a_refused_handshake_command_fails_the_handshake(dialect: Dialect, name: str) -> None:
    s = HostSession(dialect)
    s.send(HelloCommand("0.2.1"))
    if name == "Schema":
        feed(s, HelloReply("0.2.1"))
        s.send(SchemaCommand())
    _, failed = refusal(feed(s, ErrorReply("protocol_error", "no")))
    assert isinstance(failed.sent.command, HelloCommand if name == "Hello" else SchemaCommand)
    assert s.stage is Stage.ERROR
    assert s.send(ShutdownCommand()).in_stage  # Octa still says goodbye (§4.4)
    assert s.stage is Stage.SHUTDOWN_SENT


def test_a_malformed_answer_fails_the_waiting_command(dialect: Dialect) -> None:
    s = HostSession(dialect)
    hello = s.send(HelloCommand("0.2.1"))
    events = s.receive_data(b"{not json\n")
    v, failed = events
    assert isinstance(v, Violation) and v.kind is Kind.INVALID_JSON
    assert isinstance(failed, ReplyFailed) and failed.reason is FailReason.MALFORMED
    assert failed.sent is hello and failed.violation is v and failed.error is None
    assert not s.pending and s.stage is Stage.ERROR


def test_a_malformed_line_never_takes_the_place_of_started(dialect: Dialect) -> None:
    s = ready(dialect)
    sent = s.send(ExecuteCommand("x"))
    (v,) = s.receive_data(b"{not json\n")
    assert isinstance(v, Violation) and s.pending == (sent,)
    one(feed(s, Started("a")))


def test_a_malformed_answer_to_a_raw_line_fails_nothing(dialect: Dialect) -> None:
    s = ready(dialect)
    s.send_raw(b"garbage\n")
    (v,) = s.receive_data(b"more garbage\n")
    assert isinstance(v, Violation) and not s.pending


def test_eof_fails_every_command_still_waiting(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "a")  # running: its Started came, nothing waits for an answer
    execute = s.send(ExecuteCommand("y"))
    s.send_raw(b"raw\n")  # a raw line: no command, no waiter
    shutdown = s.send(ShutdownCommand())
    events = s.receive_eof()
    assert [type(e) for e in events] == [ReplyFailed, ReplyFailed, Closed]
    assert [e.sent for e in events[:2]] == [execute, shutdown]  # type: ignore[union-attr]
    assert all(e.reason is FailReason.CLOSED for e in events[:2])  # type: ignore[union-attr]
    assert not s.pending and s.stage is Stage.CLOSED
    assert s.receive_eof() == []


def test_the_host_closing_fails_the_waiting_commands_once(dialect: Dialect) -> None:
    s = HostSession(dialect)
    hello = s.send(HelloCommand("0.2.1"))
    (failed,) = s.close()
    assert failed.sent is hello and failed.reason is FailReason.CLOSED
    assert s.stage is Stage.CLOSED
    assert s.close() == [] and s.receive_eof() == []


@pytest.mark.parametrize(
    "before", [[], ["Hello"], ["Hello", "Schema"]], ids=["connected", "hello", "schema"]
)
def test_shutdown_is_in_stage_in_any_stage_once(dialect: Dialect, before: list[str]) -> None:
    s = HostSession(dialect)
    for name in before:
        s.send(HelloCommand("0.2.1") if name == "Hello" else SchemaCommand())
    assert s.send(ShutdownCommand()).in_stage and s.stage is Stage.SHUTDOWN_SENT
    again = s.send(ShutdownCommand())
    assert not again.in_stage and s.out_of_stage == [again]
    assert not s.send(ExecuteCommand("x")).in_stage


def test_any_shutdown_frame_means_nothing_may_follow(dialect: Dialect) -> None:
    s = ready(dialect)
    events = feed(s, ShutdownReply("unasked"), Stdout("a", "x"))
    assert Kind.UNSOLICITED in kinds(events) and Kind.FRAME_AFTER_SHUTDOWN in kinds(events)
    assert s.stage is Stage.SHUT_DOWN


def test_the_transition_table() -> None:
    for stage in Stage:
        if stage is not Stage.CLOSED:
            assert next_stage(stage, Trigger.CLOSE) is Stage.CLOSED
            assert next_stage(stage, Trigger.SHUTDOWN_ACKED) is Stage.SHUT_DOWN
    assert not [key for key in TRANSITIONS if key[0] is Stage.CLOSED]  # the end
    assert next_stage(Stage.CONNECTED, Trigger.SEND_EXECUTE) is None
    assert next_stage(Stage.READY, Trigger.SEND_HELLO) is None
    assert next_stage(Stage.SHUTDOWN_SENT, Trigger.SEND_SHUTDOWN) is None
    reachable = {Stage.CONNECTED} | set(TRANSITIONS.values())
    assert reachable == set(Stage)


# --- execution: pairing and routing ---------------------------------------------------


def test_single_execution(dialect: Dialect) -> None:
    s = ready(dialect)
    s.send(ExecuteCommand("echo hi", dir="/tmp/w"))
    (ex,) = s.executions
    assert ex.index == 0 and ex.id is None and not ex.done
    r = one(feed(s, Started("u1")))
    assert r.execution is ex and r.answers is not None and r.answers.execution is ex
    assert ex.id == "u1" and s.ids == ["u1"]
    assert s.execution_for("u1") is ex
    r = one(feed(s, Stdout("u1", "hi\n")))
    assert r.execution is ex and r.answers is None
    r = one(feed(s, ExitStatus("u1", 0)))
    assert r.execution is ex
    assert ex.terminal == ExitStatus("u1", 0)
    assert ex.done and ex.refused is None
    assert ex.frames == [Started("u1"), Stdout("u1", "hi\n"), ExitStatus("u1", 0)]
    assert s.execution_for("u1") is None


def test_kth_started_pairs_with_kth_execute_under_interleaving(dialect: Dialect) -> None:
    s = ready(dialect)
    for p in ("cmd-a", "cmd-b", "cmd-c"):
        s.send(ExecuteCommand(p))
    events = feed(
        s,
        Started("A"),
        Stdout("A", "a1"),
        Started("B"),
        Stdout("A", "a2"),
        Stderr("B", "b1"),
        Started("C"),
        ExitStatus("B", 1),
        Stdout("C", "c1"),
        Stdout("A", "a3"),
        ErrorReply("C", "Command execution error: boom"),
        ExitStatus("A", 0),
    )
    assert kinds(events) == []
    a, b, c = s.executions
    assert [ex.command.params for ex in s.executions] == ["cmd-a", "cmd-b", "cmd-c"]
    assert (a.id, b.id, c.id) == ("A", "B", "C")
    assert s.ids == ["A", "B", "C"]
    assert a.frames == [
        Started("A"),
        Stdout("A", "a1"),
        Stdout("A", "a2"),
        Stdout("A", "a3"),
        ExitStatus("A", 0),
    ]
    assert b.frames == [Started("B"), Stderr("B", "b1"), ExitStatus("B", 1)]
    assert c.frames == [
        Started("C"),
        Stdout("C", "c1"),
        ErrorReply("C", "Command execution error: boom"),
    ]
    assert c.terminal == ErrorReply("C", "Command execution error: boom") and c.refused is None
    for r in received(events):
        assert r.execution is {"A": a, "B": b, "C": c}[r.frame.id]  # type: ignore[union-attr]
        if isinstance(r.frame, Started):
            assert r.answers is not None and r.answers.execution is r.execution
        else:
            assert r.answers is None
    assert not s.pending


def test_started_pairs_by_order_not_by_anything_else(dialect: Dialect) -> None:
    """Output of the first command may arrive before the second is even sent."""
    s = ready(dialect)
    s.send(ExecuteCommand("first"))
    one(feed(s, Started("z")))
    one(feed(s, Stdout("z", "1")))
    s.send(ExecuteCommand("second"))
    r = one(feed(s, Started("a")))
    assert r.execution is s.executions[1]
    assert r.execution.command.params == "second"
    one(feed(s, ExitStatus("a", 0)))
    one(feed(s, ExitStatus("z", 0)))
    assert all(ex.done for ex in s.executions)


def test_error_answering_a_pending_execute_marks_it_refused(dialect: Dialect) -> None:
    s = ready(dialect)
    s.send(ExecuteCommand("x"))
    r, failed = refusal(feed(s, ErrorReply("e1", "Expected Started response")))
    (ex,) = s.executions
    assert failed.sent.execution is ex
    assert r.execution is ex
    assert r.answers is not None and r.answers.execution is ex
    assert ex.refused == ErrorReply("e1", "Expected Started response")
    assert ex.terminal is None and ex.id is None and ex.done
    assert not s.pending
    # the refusal consumed the Execute: a late Started answers nothing
    events = feed(s, Started("late"))
    violation(events, Kind.UNSOLICITED, "Started", "answers no command")
    assert received(events)[0].execution is None


def test_refusal_then_next_execute_pairs_correctly(dialect: Dialect) -> None:
    s = ready(dialect)
    s.send(ExecuteCommand("one"))
    s.send(ExecuteCommand("two"))
    events = feed(s, ErrorReply("protocol_error", "no"), Started("t"), ExitStatus("t", 0))
    assert kinds(events) == []
    one_, two = s.executions
    assert one_.refused is not None and one_.id is None
    assert two.id == "t" and two.terminal == ExitStatus("t", 0)


def test_error_with_the_id_of_a_live_execution_is_terminal(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "live")
    s.send(ExecuteCommand("pending"))  # an Execute waiting for Started must not be consumed
    r = one(feed(s, ErrorReply("live", "Command execution error: x")))
    live, pending = s.executions
    assert r.execution is live and r.answers is None
    assert live.terminal == ErrorReply("live", "Command execution error: x")
    assert live.refused is None and live.done
    assert pending.refused is None and len(s.pending) == 1
    r = one(feed(s, Started("p")))
    assert r.execution is pending


@pytest.mark.parametrize("ident", ["protocol_error", "parse_error"])
def test_session_errors_with_nothing_pending_are_not_violations(
    dialect: Dialect, ident: str
) -> None:
    s = ready(dialect)
    r = one(feed(s, ErrorReply(ident, "Invalid command format: x")))
    assert r.answers is None and r.execution is None
    start(s, "a")  # the session goes on
    r = one(feed(s, ErrorReply(ident, "Unexpected Hello command")))
    assert r.execution is None
    assert s.executions[0].terminal is None


# --- raw lines (send_raw) -------------------------------------------------------------


def test_error_answering_a_raw_line_is_not_taken_for_a_later_refusal(dialect: Dialect) -> None:
    s = ready(dialect)
    s.send_raw(b"not json\n")
    s.send(ExecuteCommand("echo hi"))
    events = feed(s, ErrorReply("parse_error", "Invalid command format: x"), Started("a"))
    assert kinds(events) == []
    answer, started = received(events)
    assert answer.answers is not None and isinstance(answer.answers.command, RawLine)
    assert answer.answers.command.data == b"not json" and answer.execution is None
    (ex,) = s.executions
    assert ex.refused is None and ex.id == "a" and started.execution is ex


def test_raw_lines_are_counted_by_newline_across_writes(dialect: Dialect) -> None:
    s = ready(dialect)
    s.send_raw(b'{"ty')  # no line ended yet: nothing waits for an answer
    assert not s.pending
    s.send_raw(b'pe": 1}\n\n{"x"')
    assert [p.command for p in s.pending] == [RawLine(b'{"type": 1}'), RawLine(b"")]
    assert [p.seq for p in s.pending] == [2, 3]  # after Hello and Schema


def test_an_unanswered_raw_line_does_not_block_replies(dialect: Dialect) -> None:
    """A raw line the plugin did not answer (it was a valid command, say) is dropped once a
    later command is answered; it is no reason for an out-of-order violation."""
    s = HostSession(dialect)
    s.send_raw(b"anything\n")
    s.send(HelloCommand("0.2.1"))
    r = one(feed(s, HelloReply("0.2.1")))
    assert isinstance(r.answers.command, HelloCommand) and not s.pending
    s.send(ExecuteCommand("x"))  # an Error now answers the Execute again
    refusal(feed(s, ErrorReply("protocol_error", "Expected Schema command")))
    assert s.executions[0].refused is not None


def test_frames_run_together_sdk_quirk_is_reported_and_the_session_goes_on(
    dialect: Dialect,
) -> None:
    s = ready(dialect)
    start(s, "a")
    quirk = wire(s, ErrorReply("protocol_error", "Unexpected Hello command")).rstrip(b"\n")
    events = s.receive_data(quirk + wire(s, Stdout("a", "x"), ExitStatus("a", 0)))
    (v,) = violations(events)
    assert v.kind is Kind.FRAMES_RUN_TOGETHER
    (r,) = received(events)
    assert r.frame == ExitStatus("a", 0)
    assert s.executions[0].terminal == ExitStatus("a", 0)


def test_undecodable_frames_become_violations_and_the_session_goes_on(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "a")
    events = s.receive_data(b"garbage\n\xff\n[]\n{}\n" + wire(s, Stdout("a", "x")))
    assert kinds(events) == [
        Kind.INVALID_JSON,
        Kind.INVALID_UTF8,
        Kind.NOT_AN_OBJECT,
        Kind.MISSING_TYPE,
    ]
    assert [r.frame for r in received(events)] == [Stdout("a", "x")]


def test_wrong_dialect_frames_are_violations() -> None:
    s = ready(Dialect.V0_2_1)
    events = s.receive_data(encode_response(Started("a"), Dialect.V0_2_0))
    assert kinds(events) == [Kind.WRONG_DIALECT]


def test_frame_too_long_through_the_session() -> None:
    s = HostSession(max_frame=64)
    s.send(HelloCommand("0.2.1"))
    big = encode_response(HelloReply("x" * 100))
    events = s.receive_data(big[:30]) + s.receive_data(big[30:])
    v, failed = events
    assert isinstance(v, Violation)
    assert v.kind is Kind.FRAME_TOO_LONG and v.size == len(big) - 1
    # like Octa, the host took the broken line for the answer to Hello
    assert isinstance(failed, ReplyFailed) and failed.reason is FailReason.MALFORMED
    assert failed.violation is v and s.stage is Stage.ERROR
    assert s.framer.buffered == 0
    s.send(ShutdownCommand())
    one(feed(s, ShutdownReply("bye")))  # resynced


def test_output_beyond_the_kept_limit_is_counted(
    monkeypatch: pytest.MonkeyPatch, dialect: Dialect
) -> None:
    monkeypatch.setattr(session_module, "MAX_KEPT_FRAMES", 3)
    s = ready(dialect)
    start(s, "a")
    events = feed(s, *(Stdout("a", str(i)) for i in range(5)), ExitStatus("a", 0))
    assert kinds(events) == [] and len(events) == 6
    (ex,) = s.executions
    assert ex.frames == [Started("a"), Stdout("a", "0"), Stdout("a", "1"), ExitStatus("a", 0)]
    assert ex.dropped == 3
    assert all(r.execution is ex for r in received(events))


# --- violations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "also"),
    [
        (HelloReply("0.2.1"), Kind.UNSOLICITED),
        (SchemaReply("shell"), Kind.UNSOLICITED),
        (Started("a"), Kind.UNSOLICITED),
        (Stdout("a", "x"), Kind.UNKNOWN_ID),
        (ExitStatus("a", 0), Kind.UNKNOWN_ID),
        (ShutdownReply("bye"), Kind.UNSOLICITED),
    ],
)
def test_sent_before_hello(dialect: Dialect, frame: Response, also: Kind) -> None:
    s = HostSession(dialect)
    events = feed(s, frame)
    assert kinds(events) == [Kind.SENT_BEFORE_HELLO, also]
    v = violations(events)[0]
    assert f"{frame.TYPE} frame before the host sent anything" in v.message
    assert v.frame == frame
    assert v.data == wire(s, frame).rstrip(b"\n")
    assert [r.frame for r in received(events)] == [frame]


def test_a_reply_to_a_command_sent_before_hello_is_not_early(dialect: Dialect) -> None:
    """The host may probe with a command before Hello; the plugin's answer is no violation."""
    s = HostSession(dialect)
    s.send(ExecuteCommand("touch x"))
    events = feed(s, ErrorReply("protocol_error", "Expected Hello command"))
    assert kinds(events) == []
    assert received(events)[0].answers is not None
    assert s.executions[0].refused is not None


def test_an_error_before_hello_is_reported_too(dialect: Dialect) -> None:
    s = HostSession(dialect)
    events = feed(s, ErrorReply("protocol_error", "Expected Hello command"))
    assert kinds(events) == [Kind.SENT_BEFORE_HELLO]


@pytest.mark.parametrize(
    "frame", [HelloReply("0.2.1"), SchemaReply("shell"), Started("x"), ShutdownReply("bye")]
)
def test_unsolicited(dialect: Dialect, frame: Response) -> None:
    s = ready(dialect)
    events = feed(s, frame)
    v = violation(events, Kind.UNSOLICITED, frame.TYPE, "answers no command the host sent")
    assert v.frame == frame
    r = received(events)[0]
    assert r.answers is None and r.execution is None


def test_unexpected_reply_out_of_command_order(dialect: Dialect) -> None:
    s = HostSession(dialect)
    s.send(HelloCommand("0.2.1"))
    s.send(SchemaCommand())
    events = feed(s, SchemaReply("k"))
    violation(events, Kind.UNEXPECTED_REPLY, "Schema arrived while the Hello command", "order")
    r = received(events)[0]
    assert r.answers is not None and r.answers.command == SchemaCommand()
    r = one(feed(s, HelloReply("0.2.1")))
    assert r.answers is not None and isinstance(r.answers.command, HelloCommand)
    assert not s.pending


def test_unexpected_reply_started_before_schema(dialect: Dialect) -> None:
    s = HostSession(dialect)
    s.send(HelloCommand("0.2.1"))
    s.send(ExecuteCommand("x"))
    events = feed(s, Started("a"))
    violation(events, Kind.UNEXPECTED_REPLY, "Started", "Hello")
    assert s.executions[0].id == "a"


def test_empty_id(dialect: Dialect) -> None:
    s = ready(dialect)
    s.send(ExecuteCommand("x"))
    events = feed(s, Started(""))
    violation(events, Kind.EMPTY_ID, "empty id")
    assert s.executions[0].id == ""
    assert received(events)[0].execution is s.executions[0]


@pytest.mark.parametrize("finish_first", [False, True])
def test_duplicate_id(dialect: Dialect, finish_first: bool) -> None:
    """Ids must be unique within the session, even after the first one finished."""
    s = ready(dialect)
    start(s, "dup")
    if finish_first:
        one(feed(s, ExitStatus("dup", 0)))
    s.send(ExecuteCommand("second"))
    events = feed(s, Started("dup"))
    violation(events, Kind.DUPLICATE_ID, "'dup'", "already named")
    first, second = s.executions
    assert second.id == "dup"
    # output goes to the oldest unfinished execution with that id
    r = one(feed(s, Stdout("dup", "x")))
    assert r.execution is (second if finish_first else first)


@pytest.mark.parametrize(
    "frame",
    [
        Stdout("ghost", "x"),
        Stderr("ghost", "x"),
        ExitStatus("ghost", 0),
        ErrorReply("ghost", "m"),
    ],
)
def test_unknown_id(dialect: Dialect, frame: Response) -> None:
    s = ready(dialect)
    start(s, "a")
    events = feed(s, frame)
    violation(events, Kind.UNKNOWN_ID, "'ghost'", "no Started named")
    r = received(events)[0]
    assert r.execution is None and r.frame == frame
    assert s.executions[0].frames == [Started("a")]
    assert not s.executions[0].done


@pytest.mark.parametrize("terminal", [ExitStatus("a", 2), ErrorReply("a", "failed")])
@pytest.mark.parametrize(
    "after", [Stdout("a", "late"), Stderr("a", "late"), ExitStatus("a", 0), ErrorReply("a", "x")]
)
def test_frame_after_terminal(dialect: Dialect, terminal: Response, after: Response) -> None:
    s = ready(dialect)
    start(s, "a")
    one(feed(s, terminal))
    events = feed(s, after)
    violation(events, Kind.FRAME_AFTER_TERMINAL, after.TYPE, "'a'", "after its terminal frame")
    (ex,) = s.executions
    assert ex.terminal == terminal
    assert ex.frames == [Started("a"), terminal]
    assert ex.late_terminals == (1 if isinstance(after, (ExitStatus, ErrorReply)) else 0)
    assert received(events)[0].execution is None


def test_late_terminals_are_all_counted_past_the_violation_cap(dialect: Dialect) -> None:
    """The evidence for execute.one-terminal-frame survives a flood the log does not keep."""
    s = ready(dialect)
    start(s, "a")
    one(feed(s, ExitStatus("a", 0)))
    n = 3000
    for i in range(n):
        feed(s, ExitStatus("a", i) if i % 2 else Stdout("a", "late"))
    assert s.executions[0].late_terminals == n // 2


@pytest.mark.parametrize(
    "after",
    [
        Stdout("a", "x"),
        HelloReply("0.2.1"),
        ShutdownReply("again"),
        ErrorReply("parse_error", "m"),
        Started("b"),
    ],
)
def test_frame_after_shutdown(dialect: Dialect, after: Response) -> None:
    s = ready(dialect)
    start(s, "a")
    one(feed(s, ExitStatus("a", 0)))
    s.send(ShutdownCommand())
    r = one(feed(s, ShutdownReply("Plugin shutting down")))
    assert r.answers is not None and isinstance(r.answers.command, ShutdownCommand)
    assert s.stage is Stage.SHUT_DOWN
    events = feed(s, after)
    ks = kinds(events)
    assert ks[0] is Kind.FRAME_AFTER_SHUTDOWN
    v = violations(events)[0]
    assert f"{after.TYPE} frame after the Shutdown response" in v.message
    assert v.frame == after


def test_terminal_frames_before_the_shutdown_ack_are_fine(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "a")
    start(s, "b")
    s.send(ShutdownCommand())
    events = feed(
        s, ExitStatus("b", -1), Stdout("a", "x"), ExitStatus("a", -1), ShutdownReply("bye")
    )
    assert kinds(events) == []
    assert all(ex.terminal == ExitStatus(ex.id or "", -1) for ex in s.executions)


# --- end of stream --------------------------------------------------------------------


def test_receive_eof_yields_closed(dialect: Dialect) -> None:
    s = ready(dialect)
    assert s.receive_eof() == [Closed()]
    assert s.stage is Stage.CLOSED
    assert s.receive_eof() == []


def test_receive_eof_mid_line_reports_an_unterminated_frame(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "a")
    partial = wire(s, Stdout("a", "x"))[:-3]
    assert s.receive_data(partial) == []
    events = s.receive_eof()
    assert len(events) == 2
    v, closed = events
    assert isinstance(v, Violation) and v.kind is Kind.UNTERMINATED_FRAME
    assert v.data == partial
    assert closed == Closed()
    assert s.executions[0].frames == [Started("a")]


def test_receive_eof_with_an_unterminated_complete_frame(dialect: Dialect) -> None:
    """A whole JSON frame without its ``\\n`` at EOF is still unterminated, not delivered."""
    s = ready(dialect)
    start(s, "a")
    s.receive_data(wire(s, ExitStatus("a", 0)).rstrip(b"\n"))
    assert kinds(s.receive_eof()) == [Kind.UNTERMINATED_FRAME]
    assert s.executions[0].terminal is None


# --- a whole valid session, randomly interleaved and chunked ------------------------


@dataclass
class Plan:
    """A valid session: the host's commands, the plugin's frames and how they interleave."""

    dialect: Dialect
    commands: list[Command]
    frames: list[bytes]  # the plugin's frames on the wire, in order
    decoded: list[Response]
    answers: list[int | None]  # per frame: index of the command it answers
    execs: list[tuple[str, list[Response]]]  # per Execute: id and its frames
    chunks: list[bytes]
    early: list[bool]  # per command: sent as soon as possible rather than just in time


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    dialect = draw(st.sampled_from(DIALECTS))
    n = draw(st.integers(0, 4))
    ids = draw(st.lists(st.text(min_size=1, max_size=8), min_size=n, max_size=n, unique=True))
    execs: list[tuple[str, list[Response]]] = []
    for ident in ids:
        out = draw(
            st.lists(
                st.builds(Stdout, st.just(ident), st.text(max_size=6))
                | st.builds(Stderr, st.just(ident), st.text(max_size=6)),
                max_size=4,
            )
        )
        terminal = draw(
            st.builds(ExitStatus, st.just(ident), st.integers(-(2**31), 2**31 - 1))
            | st.builds(ErrorReply, st.just(ident), st.text(max_size=6))
        )
        execs.append((ident, [Started(ident), *out, terminal]))
    commands: list[Command] = [HelloCommand("0.2.1"), SchemaCommand()]
    commands += [ExecuteCommand(f"cmd {k}") for k in range(n)]
    commands.append(ShutdownCommand())

    decoded: list[Response] = [HelloReply("0.2.1"), SchemaReply("shell")]
    answers: list[int | None] = [0, 1]
    pos = [0] * n
    while any(pos[k] < len(execs[k][1]) for k in range(n)):
        # exec k may speak once started; Started frames come in Execute order
        ready_ = [
            k
            for k in range(n)
            if pos[k] < len(execs[k][1]) and (pos[k] > 0 or all(pos[j] > 0 for j in range(k)))
        ]
        k = draw(st.sampled_from(ready_))
        decoded.append(execs[k][1][pos[k]])
        answers.append(2 + k if pos[k] == 0 else None)
        pos[k] += 1
    decoded.append(ShutdownReply("Plugin shutting down"))
    answers.append(len(commands) - 1)

    ends = st.sampled_from([b"\n", b"\r\n"])
    frames = [encode_response(f, dialect).rstrip(b"\n") + draw(ends) for f in decoded]
    stream = b"".join(frames)
    cuts = draw(st.lists(st.integers(0, len(stream)), max_size=12))
    if draw(st.booleans()):
        cuts += list(range(len(stream)))  # sometimes every byte on its own
    points = sorted({0, len(stream), *cuts})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    early = draw(st.lists(st.booleans(), min_size=len(commands), max_size=len(commands)))
    return Plan(dialect, commands, frames, decoded, answers, execs, chunks, early)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(plans())
def test_random_valid_session(plan: Plan) -> None:
    s = HostSession(plan.dialect)
    # when each command must have been sent: before the chunk that completes its reply
    reply_end: dict[int, int] = {}
    offset = 0
    for frame, ans in zip(plan.frames, plan.answers, strict=True):
        offset += len(frame)
        if ans is not None:
            reply_end[ans] = offset
    sent = 0
    events: list[Event] = []
    fed = 0

    def send_next() -> None:
        nonlocal sent
        entry = s.send(plan.commands[sent])
        assert entry.data == encode_command(plan.commands[sent], plan.dialect)
        sent += 1

    for chunk in plan.chunks:
        fed += len(chunk)
        while sent < len(plan.commands) and (reply_end[sent] <= fed or plan.early[sent]):
            send_next()
        events += s.receive_data(chunk)
        assert s.framer.buffered <= s.framer.max_frame
    while sent < len(plan.commands):
        send_next()
    assert s.stage is Stage.SHUT_DOWN and not s.out_of_stage
    events += s.receive_eof()

    assert violations(events) == []
    assert events[-1] == Closed()
    got = received(events)
    assert [r.frame for r in got] == plan.decoded
    assert [r.raw for r in got] == [f.rstrip(b"\n") for f in plan.frames]
    for r, ans in zip(got, plan.answers, strict=True):
        if ans is None:
            assert r.answers is None
        else:
            assert r.answers is not None and r.answers.seq == ans
            assert r.answers.command == plan.commands[ans]
    assert len(s.executions) == len(plan.execs)
    for k, (ex, (ident, frames)) in enumerate(zip(s.executions, plan.execs, strict=True)):
        assert ex.index == k
        assert ex.command == plan.commands[2 + k]
        assert ex.id == ident
        assert ex.frames == frames
        assert ex.terminal == frames[-1] and ex.refused is None and ex.done
    for r in got:
        if hasattr(r.frame, "id"):
            assert r.execution is not None and r.execution.id == r.frame.id  # type: ignore[union-attr]
        else:
            assert r.execution is None
    assert s.ids == [ident for ident, _ in plan.execs]
    assert not s.pending
    assert s.stage is Stage.CLOSED
    assert not [e for e in events if isinstance(e, ReplyFailed)]


# --- robustness: arbitrary input never raises ---------------------------------------

small_ids = st.sampled_from(["a", "b", "", "parse_error", "protocol_error"])
any_response = st.one_of(
    st.builds(HelloReply, st.just("0.2.1")),
    st.builds(SchemaReply, st.just("k")),
    st.builds(Started, small_ids),
    st.builds(Stdout, small_ids, st.just("x")),
    st.builds(Stderr, small_ids, st.just("y")),
    st.builds(ExitStatus, small_ids, st.integers(-2, 2)),
    st.builds(ErrorReply, small_ids, st.just("m")),
    st.builds(ShutdownReply, st.just("bye")),
)
any_command = st.sampled_from(
    [HelloCommand("0.2.1"), SchemaCommand(), ExecuteCommand("x"), ShutdownCommand()]
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    st.sampled_from(DIALECTS),
    st.lists(
        st.one_of(
            any_command,
            st.tuples(any_response, st.sampled_from(DIALECTS)),
            st.binary(max_size=12),
            st.builds(RawLine, st.sampled_from([b"x\n", b"{", b"\n\n", b"}\n"])),
        ),
        max_size=25,
    ),
)
def test_arbitrary_sessions_never_raise(dialect: Dialect, script: list[object]) -> None:
    s = HostSession(dialect, max_frame=80)
    events: list[Event] = []
    for step in script:
        if isinstance(step, bytes):
            events += s.receive_data(step)
        elif isinstance(step, tuple):
            frame, d = step
            events += s.receive_data(encode_response(frame, d))
        elif isinstance(step, RawLine):
            s.send_raw(step.data)
        else:
            s.send(step)  # type: ignore[arg-type]
        assert s.framer.buffered <= 80
    events += s.receive_eof()
    assert events[-1] == Closed()
    assert sum(isinstance(e, Closed) for e in events) == 1
    for e in events:
        assert isinstance(e, Received | Violation | Closed | ReplyFailed | CommandLost)
        if isinstance(e, Violation):
            str(e)
    for k, ex in enumerate(s.executions):
        assert ex.index == k
        assert not (ex.terminal is not None and ex.refused is not None)
        for f in ex.frames:
            if ex.id is not None:
                assert f.id == ex.id  # type: ignore[union-attr]


def test_error_for_finished_id_is_not_taken_as_a_refusal(dialect: Dialect) -> None:
    """An Error naming a finished execution is a late frame, not the answer to a new Execute."""
    s = HostSession(dialect)
    s.send(HelloCommand("0.2.1"))
    feed(s, HelloReply("0.2.1"))
    s.send(ExecuteCommand("a"))
    feed(s, Started("a"), ExitStatus("a", 0))
    s.send(ExecuteCommand("b"))
    events = feed(s, ErrorReply("a", "late"))
    assert [v.kind for v in violations(events)] == [Kind.FRAME_AFTER_TERMINAL]
    assert s.executions[1].refused is None and len(s.pending) == 1
    feed(s, Started("b"))
    assert s.executions[1].id == "b"


# --- the violation store: every violation is evidence -----------------------------------


def stray(n: int, kind: Kind = Kind.UNKNOWN_ID) -> Violation:
    return Violation.of(kind, f"stray frame {n}", b"x%d" % n)


def test_the_log_keeps_every_violation_up_to_its_bound_in_order() -> None:
    log = ViolationLog(first=5, last=2)
    added = [stray(i, kind) for i, kind in enumerate([Kind.UNKNOWN_ID, Kind.EMPTY_ID] * 5)]
    for v in added:
        log.add(v)
    assert log.since() == added  # 5 of each kind: all kept
    assert log.count() == 10 and log.count(Kind.EMPTY_ID) == 5 and log.not_kept() == 0


def test_a_flood_keeps_the_first_and_the_last_and_counts_the_rest() -> None:
    log = ViolationLog(first=3, last=2)
    log.add(stray(0, Kind.EMPTY_ID))
    flood = [stray(i) for i in range(1, 11)]  # 10 unknown-id violations
    for v in flood:
        log.add(v)
    log.add(stray(11, Kind.EMPTY_ID))
    listing = log.since()
    marker = listing[4]
    assert listing[:4] == [stray(0, Kind.EMPTY_ID), *flood[:3]]
    assert isinstance(marker, NotKept) and marker.kind is Kind.UNKNOWN_ID
    assert listing[5:] == [*flood[-2:], stray(11, Kind.EMPTY_ID)]
    assert marker.count == 5 == log.not_kept(Kind.UNKNOWN_ID)
    assert str(marker).startswith("[unknown-id] 5 more violations of this kind not kept")
    assert "(10 in all" in str(marker)
    # a check that looks for the kind sees the marker, and can say how many there were
    seen = [v for v in listing if v.kind is Kind.UNKNOWN_ID]
    assert tally(seen) == 10 == log.count(Kind.UNKNOWN_ID)
    assert tally(listing) == log.count() == 12


def test_the_log_stays_bounded_under_a_flood() -> None:
    log = ViolationLog(first=50, last=10)
    for i in range(100_000):
        log.add(stray(i, Kind.UNKNOWN_ID if i % 3 else Kind.FRAME_AFTER_TERMINAL))
    listing = log.since()
    assert len(listing) == 2 * (50 + 10 + 1)  # two kinds: first, marker, last
    assert tally(listing) == log.count() == 100_000
    kept = sum(len(q) for q in log._first.values()) + sum(len(q) for q in log._last.values())
    assert kept == 2 * (50 + 10)  # what it holds, whatever the flood
    assert log.count(Kind.FRAME_AFTER_TERMINAL) == 33_334


def test_since_a_mark_lists_exactly_what_came_after_it() -> None:
    log = ViolationLog(first=3, last=2)
    for i in range(4):
        log.add(stray(i))
    mark = log.mark()
    for i in range(4, 20):
        log.add(stray(i))
    log.add(stray(20, Kind.EMPTY_ID))
    after = log.since(mark)
    assert tally(after) == 17
    (marker,) = [v for v in after if isinstance(v, NotKept)]
    assert marker.count == 14  # violations 4..17: kept were 0-2 (first) and 18-19 (last)
    assert after == [marker, stray(18), stray(19), stray(20, Kind.EMPTY_ID)]
    assert log.since(log.mark()) == []
    empty = ViolationLog()
    assert empty.since() == [] and empty.count() == 0


def test_a_log_that_keeps_no_latest_still_counts() -> None:
    log = ViolationLog(first=1, last=0)
    for i in range(4):
        log.add(stray(i))
    listing = log.since()
    assert listing[0] == stray(0) and isinstance(listing[1], NotKept)
    assert tally(listing) == 4 and len(listing) == 2


def test_the_session_logs_every_violation_it_reports(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "a")
    events = s.receive_data(b"garbage\n" + wire(s, *(Stdout("ghost", str(i)) for i in range(3))))
    events += s.receive_eof()
    assert s.violations.since() == violations(events)
    assert s.violations.count(Kind.UNKNOWN_ID) == 3


def test_a_flood_of_violations_through_the_session_is_counted(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "a")
    n = KEEP_FIRST + KEEP_LAST + 500
    events = feed(s, *(Stdout("ghost", str(i)) for i in range(n)))
    assert len(violations(events)) == n  # every one is reported as an event
    listing = s.violations.since()
    assert len(listing) == KEEP_FIRST + 1 + KEEP_LAST
    (marker,) = [v for v in listing if isinstance(v, NotKept)]
    assert marker.count == 500 and tally(listing) == n == s.violations.count()
    assert listing[-1].frame == Stdout("ghost", str(n - 1))


# --- a terminal frame that cannot be decoded ends nothing, and is named -----------------


def raw_frame(dialect: Dialect, type_: str, **fields: object) -> bytes:
    """A frame as the plugin wrote it (any field values) in ``dialect``."""
    obj = {"type": type_, "payload": fields} if dialect.adjacent else {"type": type_, **fields}
    return json.dumps(obj).encode() + b"\n"


@pytest.mark.parametrize(
    ("type_", "fields", "kind"),
    [
        ("ExitStatus", {"code": "0"}, Kind.WRONG_TYPE),
        ("ExitStatus", {"code": 2**31}, Kind.WRONG_TYPE),
        ("ExitStatus", {}, Kind.MISSING_FIELD),
        ("Error", {"message": 3}, Kind.WRONG_TYPE),
        ("exitstatus", {"code": 0}, Kind.UNKNOWN_TYPE),
    ],
)
def test_an_undecodable_terminal_frame_of_a_running_command_is_lost(
    dialect: Dialect, type_: str, fields: dict[str, object], kind: Kind
) -> None:
    s = ready(dialect)
    start(s, "a")
    start(s, "b")
    events = s.receive_data(raw_frame(dialect, type_, id="a", **fields))
    v, lost = events
    assert isinstance(v, Violation) and isinstance(lost, CommandLost)
    assert lost.execution is s.executions[0] and lost.violation is v
    assert v.kind is kind and v.id == "a" and v.frame is None
    assert "for the running command 'a' could not be decoded" in v.message
    assert "Octa drops this frame, so this command would never finish" in v.message
    a, b = s.executions
    assert a.lost is v and not a.done and a.terminal is None
    assert b.lost is None
    # Octa would still take a good terminal frame that follows: so does the session
    one(feed(s, ExitStatus("a", 0)))
    assert a.done and a.terminal == ExitStatus("a", 0) and a.lost is v


def test_the_other_dialects_terminal_frame_is_lost_too(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "a")
    other = Dialect.V0_2_0 if dialect is Dialect.V0_2_1 else Dialect.V0_2_1
    (v,) = violations(s.receive_data(encode_response(ExitStatus("a", 0), other)))
    assert v.kind is Kind.WRONG_DIALECT and v.id == "a"
    assert s.executions[0].lost is v


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (("Stdout", {"id": "a", "line": 1}), "not a terminal frame"),
        (("ExitStatus", {"id": "ghost", "code": "0"}), "no running command has that id"),
        (("ExitStatus", {"id": 7, "code": "0"}), "the id is no string"),
        (("ExitStatus", {"code": "0"}), "no id at all"),
    ],
)
def test_other_undecodable_frames_end_nothing(
    dialect: Dialect, frame: tuple[str, dict[str, object]], why: str
) -> None:
    s = ready(dialect)
    start(s, "a")
    type_, fields = frame
    (v,) = violations(s.receive_data(raw_frame(dialect, type_, **fields)))
    assert s.executions[0].lost is None, why
    assert "would never finish" not in v.message
    assert v.id == (fields["id"] if isinstance(fields.get("id"), str) else None)


def test_a_finished_commands_undecodable_terminal_frame_is_not_lost(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "a")
    one(feed(s, ExitStatus("a", 0)))
    (v,) = violations(s.receive_data(raw_frame(dialect, "ExitStatus", id="a", code="1")))
    assert v.id == "a" and "would never finish" not in v.message
    assert s.executions[0].lost is None


def test_only_the_first_undecodable_terminal_frame_is_the_lost_one(dialect: Dialect) -> None:
    s = ready(dialect)
    start(s, "a")
    bad = raw_frame(dialect, "ExitStatus", id="a", code="0")
    first, second = violations(s.receive_data(bad + bad))
    assert s.executions[0].lost is first
    assert "would never finish" not in second.message
