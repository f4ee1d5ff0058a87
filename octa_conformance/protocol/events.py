"""What the host session records and reports (docs/protocol.md §4).

A :class:`Sent` entry for every line the host sent, an :class:`Execution` for every
``Execute``, and the events :class:`~octa_conformance.protocol.session.HostSession` returns
for the plugin's bytes: :class:`Received`, :class:`ReplyFailed`, :class:`CommandLost`,
:class:`Closed` and :class:`~octa_conformance.protocol.violations.Violation`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

from octa_conformance.protocol.messages import (
    Command,
    ErrorReply,
    ExecuteCommand,
    ExitStatus,
    Response,
)
from octa_conformance.protocol.stages import Stage
from octa_conformance.protocol.violations import Violation

__all__ = [
    "RAW_KEPT",
    "Closed",
    "CommandLost",
    "Event",
    "Execution",
    "FailReason",
    "RawLine",
    "Received",
    "ReplyFailed",
    "Sent",
]


@dataclass(frozen=True)
class RawLine:
    """A line the host wrote as raw bytes (``send_raw``): only an ``Error`` answers it."""

    data: bytes  # the line without its newline, cut to RAW_KEPT bytes
    TYPE: ClassVar[str] = "raw line"


RAW_KEPT = 200  # bytes of a raw line kept for messages


@dataclass(eq=False)
class Sent:
    """One command (or raw line) the host sent: pending until something answers it."""

    seq: int  # position among all commands and raw lines sent in this session
    command: Command | RawLine
    data: bytes = b""  # the bytes to write (a raw line: empty, the caller has them)
    execution: Execution | None = None  # an Execute's record
    stage: Stage = Stage.CONNECTED  # the stage it was sent in
    in_stage: bool = True  # whether that stage expects it (else it moved nothing)


@dataclass(eq=False)
class Execution:
    """One ``Execute`` and everything the plugin said about it."""

    index: int  # the k-th Execute of the session, from 0
    command: ExecuteCommand
    id: str | None = None
    frames: list[Response] = field(default_factory=list)
    terminal: ExitStatus | ErrorReply | None = None
    refused: ErrorReply | None = None  # answered by Error instead of Started
    dropped: int = 0  # output frames not kept (beyond MAX_KEPT_FRAMES)
    late_terminals: int = 0  # terminal frames for its id after the first (all counted)
    # The first terminal frame for this running execution that could not be decoded: Octa
    # drops it, so (unless a good terminal frame follows) the command never ends for Octa.
    lost: Violation | None = None

    @property
    def done(self) -> bool:
        return self.terminal is not None or self.refused is not None


@dataclass(frozen=True, eq=False)
class Received:
    """A well-formed frame from the plugin and what the session made of it."""

    frame: Response
    raw: bytes
    answers: Sent | None = None  # the command this frame directly answers
    execution: Execution | None = None  # the execution this frame belongs to


@dataclass(frozen=True)
class Closed:
    """The plugin closed its side of the connection."""


class FailReason(enum.Enum):
    """Why a command got no good answer."""

    REFUSED = "refused"  # an Error frame answered it
    MALFORMED = "malformed"  # a frame that could not be decoded took the answer's place
    CLOSED = "closed"  # the connection ended before its answer


@dataclass(frozen=True, eq=False)
class ReplyFailed:
    """The answer to a command ``sent`` failed, for ``reason``.

    Follows the :class:`Received` of the refusing ``error`` (REFUSED) or the
    :class:`Violation` of the undecodable frame (MALFORMED), or comes before :class:`Closed`
    for every command still waiting (CLOSED). Only commands fail this way: a raw line is
    answered by an Error, and nothing waits for it.
    """

    sent: Sent
    reason: FailReason
    error: ErrorReply | None = None
    violation: Violation | None = None


@dataclass(frozen=True, eq=False)
class CommandLost:
    """The terminal frame of a running ``execution`` came but could not be decoded
    (``violation``, its report, comes just before): Octa drops such a frame, so for Octa
    the command would never finish. A good terminal frame may still follow."""

    execution: Execution
    violation: Violation


Event = Received | Violation | Closed | ReplyFailed | CommandLost
