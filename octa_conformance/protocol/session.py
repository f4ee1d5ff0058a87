"""The host side of a plugin session as a sans-IO state machine (docs/protocol.md §4).

Like h11: ``send(command)`` registers a command and returns its :class:`Sent` entry (the
bytes to write, the command, its :class:`Execution` if it is an ``Execute``);
``receive_data(bytes)`` and ``receive_eof()`` return the events the plugin's bytes produce.
Nothing here reads a socket or waits. The session holds every protocol rule: it moves
through the named :class:`~octa_conformance.protocol.stages.Stage` s of the protocol, pairs
each answer with the line it answers (the k-th ``Started`` with the k-th ``Execute``),
routes frames by id, says when a command's answer failed (:class:`ReplyFailed`), and
reports every deviation from the protocol as a :class:`Violation` event instead of raising;
it also keeps every violation in ``violations`` (a :class:`ViolationLog`), the evidence the
checks judge by.
"""

from __future__ import annotations

import dataclasses
from collections import deque

from octa_conformance.config import DEFAULT_MAX_FRAME
from octa_conformance.protocol.codec import (
    encode_command,
    named_id,
    parse_object,
    response_from_object,
)
from octa_conformance.protocol.dialect import Dialect
from octa_conformance.protocol.events import (
    RAW_KEPT,
    Closed,
    CommandLost,
    Event,
    Execution,
    FailReason,
    RawLine,
    Received,
    ReplyFailed,
    Sent,
)
from octa_conformance.protocol.framing import LineFramer
from octa_conformance.protocol.messages import (
    SESSION_ERROR_IDS,
    Command,
    ErrorReply,
    ExecuteCommand,
    ExitStatus,
    HelloCommand,
    HelloReply,
    Response,
    SchemaCommand,
    SchemaReply,
    ShutdownCommand,
    ShutdownReply,
    Started,
)
from octa_conformance.protocol.stages import Stage, Trigger, next_stage, send_trigger
from octa_conformance.protocol.violations import Kind, Violation, ViolationLog

MAX_KEPT_FRAMES = 200_000  # output frames kept per execution; a flood beyond is counted
# The type names of terminal frames, compared case-insensitively when the frame does not decode.
TERMINAL_NAMES = frozenset({"exitstatus", "error"})

# Which response type directly answers which command type.
REPLY_TO: dict[type, type] = {
    HelloCommand: HelloReply,
    SchemaCommand: SchemaReply,
    ExecuteCommand: Started,
    ShutdownCommand: ShutdownReply,
}


class HostSession:
    """Host-side protocol state for one connection.

    Public state: ``stage`` (a :class:`Stage`), ``pending`` (what waits for its answer),
    ``executions`` (every ``Execute`` sent, in order), ``ids``, ``execution_for(id)``,
    ``out_of_stage`` (commands sent in a stage that does not expect them) and
    ``violations``.
    """

    def __init__(
        self, dialect: Dialect = Dialect.V0_2_1, max_frame: int = DEFAULT_MAX_FRAME
    ) -> None:
        self.dialect = dialect
        self.framer = LineFramer(max_frame)
        self.executions: list[Execution] = []  # every Execute sent, in order
        self.out_of_stage: list[Sent] = []  # commands sent where their stage did not allow
        self.lines_sent = 0  # commands and raw lines sent so far
        self.violations = ViolationLog()  # every violation reported, for the checks
        self._stage = Stage.CONNECTED
        self._pending: deque[Sent] = deque()
        self._by_id: dict[str, list[Execution]] = {}
        self._raw_tail = b""  # the start of a raw line not yet ended by a newline
        self._long_line_reported = False  # the line being skipped was reported already

    # --- state --------------------------------------------------------------------

    @property
    def stage(self) -> Stage:
        """Where the session is (docs/protocol.md §4)."""
        return self._stage

    @property
    def pending(self) -> tuple[Sent, ...]:
        """The commands and raw lines sent and not yet answered, oldest first."""
        return tuple(self._pending)

    def execution_for(self, ident: str) -> Execution | None:
        """The oldest unfinished execution named ``ident``, if any."""
        for ex in self._by_id.get(ident, ()):
            if not ex.done:
                return ex
        return None

    @property
    def ids(self) -> list[str]:
        """Every id the plugin has named in ``Started``, in order."""
        return [ex.id for ex in self.executions if ex.id is not None]

    def _move(self, trigger: Trigger) -> bool:
        """Apply ``trigger``; whether it moved the session (else it was out of stage)."""
        stage = next_stage(self._stage, trigger)
        if stage is None:
            return False
        self._stage = stage
        return True

    # --- sending ------------------------------------------------------------------

    def send(self, command: Command) -> Sent:
        """Register ``command`` as sent; return its entry (``entry.data`` is to be written).

        A command its stage does not expect (an ``Execute`` before the handshake, a second
        ``Hello``) is sent all the same: it moves no stage and is listed in ``out_of_stage``.
        """
        stage = self._stage
        sent = Sent(self.lines_sent, command, encode_command(command, self.dialect), stage=stage)
        self.lines_sent += 1
        sent.in_stage = self._move(send_trigger(command))
        if not sent.in_stage:
            self.out_of_stage.append(sent)
        if isinstance(command, ExecuteCommand):
            sent.execution = Execution(len(self.executions), command)
            self.executions.append(sent.execution)
        self._pending.append(sent)
        return sent

    def send_raw(self, data: bytes) -> bytes:
        """Register raw bytes as sent and return them.

        Each line they end is pending like a command: the SDK answers a line it cannot
        use with an ``Error`` (in order), and that ``Error`` must not be taken for the
        refusal of a command sent after it. Raw lines move no stage.
        """
        *ended, tail = (self._raw_tail + data).split(b"\n")
        for line in ended:
            raw = RawLine(line[:RAW_KEPT])
            self._pending.append(Sent(self.lines_sent, raw, stage=self._stage, in_stage=False))
            self.lines_sent += 1
        self._raw_tail = tail[:RAW_KEPT]
        return data

    # --- receiving ----------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the plugin; return the events they complete.

        An over-long line is reported once, as soon as it is known to exceed the frame limit
        (not only at its newline): a plugin that never ends it must not leave every wait
        to time out without a word about why.
        """
        events: list[Event] = []
        for item in self.framer.feed(data):
            if not self._reported_early(item):
                self._handle(item, events)
        skipping = self.framer.skipping
        if skipping is not None and not self._long_line_reported:
            self._long_line_reported = True
            size, head = skipping
            v = Violation.of(
                Kind.FRAME_TOO_LONG,
                f"a frame exceeds the harness limit of {self.framer.max_frame} bytes ({size}"
                " bytes so far and no newline yet; it is skipped up to its newline)",
                head,
            )
            self._malformed(Violation(v.kind, v.message, v.data, size), events)
        return self._logged(events)

    def _logged(self, events: list[Event]) -> list[Event]:
        """Record the violations among ``events`` in ``self.violations``; return ``events``."""
        log = self.violations
        for ev in events:
            if isinstance(ev, Violation):
                log.add(ev)
        return events

    def _reported_early(self, item: bytes | Violation) -> bool:
        """Whether ``item`` is the framer's report of the over-long line already reported."""
        if (
            self._long_line_reported
            and isinstance(item, Violation)
            and item.kind is Kind.FRAME_TOO_LONG
        ):
            self._long_line_reported = False
            return True
        return False

    def receive_eof(self) -> list[Event]:
        """The plugin closed the connection: what its last bytes complete, a
        :class:`ReplyFailed` for every command still waiting, then :class:`Closed`."""
        events: list[Event] = []
        if self._stage is Stage.CLOSED:
            return events
        for item in self.framer.eof():
            if not self._reported_early(item):
                self._handle(item, events)
        events.extend(self.close())
        events.append(Closed())
        return self._logged(events)

    def close(self) -> list[ReplyFailed]:
        """The connection ended (the host may close it too): no answer can come any more.
        Returns a :class:`ReplyFailed` for every command still waiting. Idempotent."""
        self._move(Trigger.CLOSE)
        waiting = [p for p in self._pending if not isinstance(p.command, RawLine)]
        self._pending.clear()
        return [ReplyFailed(p, FailReason.CLOSED) for p in waiting]

    # --- internals ----------------------------------------------------------------

    def _handle(self, item: bytes | Violation, events: list[Event]) -> None:
        if isinstance(item, Violation):
            self._malformed(item, events)
            return
        obj = parse_object(item)
        if type(obj) is not dict:
            self._malformed(obj, events)  # type: ignore[arg-type]
            return
        frame = response_from_object(obj, item, self.dialect)
        if isinstance(frame, Violation):
            self._undecodable(frame, obj, events)
            return
        if self._stage is Stage.SHUT_DOWN:
            events.append(
                self._violation(
                    Kind.FRAME_AFTER_SHUTDOWN,
                    f"{frame.TYPE} frame after the Shutdown response",
                    item,
                    frame,
                )
            )
        elif self.lines_sent == 0:  # a reply to a command sent before Hello is no violation
            events.append(
                self._violation(
                    Kind.SENT_BEFORE_HELLO,
                    f"{frame.TYPE} frame before the host sent anything"
                    " (a plugin speaks only after Hello)",
                    item,
                    frame,
                )
            )
        if isinstance(frame, Started):
            events.extend(self._on_started(frame, item))
        elif isinstance(frame, ErrorReply):
            events.extend(self._on_error(frame, item))
        elif hasattr(frame, "id"):
            events.extend(self._on_output(frame, item))
        else:
            events.extend(self._on_reply(frame, item))

    def _malformed(self, v: Violation, events: list[Event]) -> None:
        """Report a line that is no frame (``v``); like Octa, take it for the (failed)
        answer to a waiting ``Hello``, ``Schema`` or ``Shutdown``, or for the answer to a
        raw line. An ``Execute`` keeps waiting for its ``Started``."""
        events.append(v)
        head = self._pending[0] if self._pending else None
        if head is None or isinstance(head.command, ExecuteCommand):
            return
        self._pending.popleft()
        if not isinstance(head.command, RawLine):  # a broken answer to a broken line
            self._answered(head, ok=False)
            events.append(ReplyFailed(head, FailReason.MALFORMED, violation=v))

    def _answered(self, sent: Sent, *, ok: bool) -> None:
        """Move the stage for the answer to ``sent`` (good or failed), if it was in stage."""
        if not sent.in_stage:
            return
        if isinstance(sent.command, HelloCommand):
            self._move(Trigger.HELLO_ANSWERED if ok else Trigger.HELLO_FAILED)
        elif isinstance(sent.command, SchemaCommand):
            self._move(Trigger.SCHEMA_ANSWERED if ok else Trigger.SCHEMA_FAILED)

    def _undecodable(self, v: Violation, obj: dict[str, object], events: list[Event]) -> None:
        """A frame that parsed as JSON but not as a response: note the id it names.

        If it is a terminal frame (by its type name) of a running execution, that execution
        is ``lost`` (:class:`CommandLost`): Octa turns a frame it cannot parse into
        ``Error{id:"parse_error"}``, which matches no command, so the command it was meant to
        end never ends.
        """
        ident = named_id(obj)
        if ident is None:
            self._malformed(v, events)
            return
        ex = self.execution_for(ident)
        name = obj.get("type")
        if (
            ex is None
            or ex.lost is not None
            or type(name) is not str
            or name.lower() not in TERMINAL_NAMES
        ):
            self._malformed(dataclasses.replace(v, id=ident), events)
            return
        v = dataclasses.replace(
            v,
            message=f"{v.message}; this {name} frame for the running command {ident!r} could"
            " not be decoded: Octa drops this frame, so this command would never finish",
            id=ident,
        )
        ex.lost = v
        self._malformed(v, events)
        events.append(CommandLost(ex, v))

    @staticmethod
    def _violation(kind: Kind, message: str, raw: bytes, frame: Response) -> Violation:
        return Violation.of(kind, message, raw, frame)

    def _take_pending(
        self, want: type, frame: Response, raw: bytes
    ) -> tuple[Sent | None, list[Event]]:
        """Pop the pending command that ``frame`` answers: the oldest one it fits."""
        events: list[Event] = []
        for i, p in enumerate(self._pending):
            if isinstance(p.command, want):
                earlier = [q.command for q in list(self._pending)[:i]]
                first = next((c for c in earlier if not isinstance(c, RawLine)), None)
                if first is not None:
                    events.append(
                        self._violation(
                            Kind.UNEXPECTED_REPLY,
                            f"{frame.TYPE} arrived while the {first.TYPE} command sent earlier"
                            " was still unanswered (replies must come in command order)",
                            raw,
                            frame,
                        )
                    )
                    del self._pending[i]
                else:  # raw lines before it went unanswered: no Error will come for them
                    for _ in range(i + 1):
                        self._pending.popleft()
                return p, events
        events.append(
            self._violation(
                Kind.UNSOLICITED,
                f"{frame.TYPE} frame that answers no command the host sent",
                raw,
                frame,
            )
        )
        return None, events

    def _on_started(self, frame: Started, raw: bytes) -> list[Event]:
        pending, events = self._take_pending(ExecuteCommand, frame, raw)
        ex = pending.execution if pending else None
        if not frame.id:
            events.append(self._violation(Kind.EMPTY_ID, "Started with an empty id", raw, frame))
        elif frame.id in self._by_id:
            events.append(
                self._violation(
                    Kind.DUPLICATE_ID,
                    f"Started reuses the id {frame.id!r}, already named by an earlier Started"
                    " in this session",
                    raw,
                    frame,
                )
            )
        if ex is not None:
            ex.id = frame.id
            ex.frames.append(frame)
            self._by_id.setdefault(frame.id, []).append(ex)
        events.append(Received(frame, raw, pending, ex))
        return events

    def _unknown(self, frame: Response, raw: bytes) -> Violation:
        ident = frame.id  # type: ignore[union-attr]
        if ident in self._by_id:
            if isinstance(frame, (ExitStatus, ErrorReply)):
                self._by_id[ident][-1].late_terminals += 1
            return self._violation(
                Kind.FRAME_AFTER_TERMINAL,
                f"{frame.TYPE} for id {ident!r} after its terminal frame",
                raw,
                frame,
            )
        return self._violation(
            Kind.UNKNOWN_ID,
            f"{frame.TYPE} for id {ident!r}, which no Started named",
            raw,
            frame,
        )

    def _on_output(self, frame: Response, raw: bytes) -> list[Event]:
        ex = self.execution_for(frame.id)  # type: ignore[union-attr]
        if ex is None:
            return [self._unknown(frame, raw), Received(frame, raw)]
        if isinstance(frame, ExitStatus):
            ex.terminal = frame
        elif len(ex.frames) >= MAX_KEPT_FRAMES:
            ex.dropped += 1
            return [Received(frame, raw, None, ex)]
        ex.frames.append(frame)
        return [Received(frame, raw, None, ex)]

    def _on_error(self, frame: ErrorReply, raw: bytes) -> list[Event]:
        ex = self.execution_for(frame.id)
        if ex is not None:
            ex.frames.append(frame)
            ex.terminal = frame
            return [Received(frame, raw, None, ex)]
        if frame.id in self._by_id:
            return [self._unknown(frame, raw), Received(frame, raw)]  # after its terminal
        if self._pending:
            # An Error answers the oldest unanswered command (Hello, Schema, Execute...)
            # or raw line.
            sent = self._pending.popleft()
            if sent.execution is not None:
                sent.execution.refused = frame
                sent.execution.frames.append(frame)
            events: list[Event] = [Received(frame, raw, sent, sent.execution)]
            if not isinstance(sent.command, RawLine):
                self._answered(sent, ok=False)
                events.append(ReplyFailed(sent, FailReason.REFUSED, error=frame))
            return events
        if frame.id in SESSION_ERROR_IDS:
            return [Received(frame, raw)]  # answers a raw line the host sent
        return [self._unknown(frame, raw), Received(frame, raw)]

    def _on_reply(self, frame: Response, raw: bytes) -> list[Event]:
        want = next(c for c, r in REPLY_TO.items() if isinstance(frame, r))
        sent, events = self._take_pending(want, frame, raw)
        if isinstance(frame, ShutdownReply):
            self._move(Trigger.SHUTDOWN_ACKED)  # answered or not: nothing may follow it
        elif sent is not None:
            self._answered(sent, ok=True)
        events.append(Received(frame, raw, sent))
        return events
