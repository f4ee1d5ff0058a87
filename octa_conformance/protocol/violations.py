"""Violations: what the sans-IO layer reports instead of raising.

Every violation says what was wrong in one sentence and keeps (a bounded copy of) the
bytes that were wrong, so a failure message can quote them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

QUOTE_LIMIT = 200  # bytes of the offending data shown in messages
KEEP_LIMIT = 4096  # bytes of the offending data kept at all


class Kind(str, enum.Enum):
    """Every kind of violation the codec and the session can report."""

    # framing and decoding (PROTOCOL.md §2, §3)
    FRAME_TOO_LONG = "frame-too-long"
    UNTERMINATED_FRAME = "unterminated-frame"
    INVALID_UTF8 = "invalid-utf8"
    INVALID_JSON = "invalid-json"
    FRAMES_RUN_TOGETHER = "frames-run-together"
    NOT_AN_OBJECT = "not-an-object"
    MISSING_TYPE = "missing-type"
    UNKNOWN_TYPE = "unknown-type"
    WRONG_DIALECT = "wrong-dialect"
    MISSING_FIELD = "missing-field"
    WRONG_TYPE = "wrong-type"
    # session (PROTOCOL.md §4)
    SENT_BEFORE_HELLO = "sent-before-hello"
    UNSOLICITED = "unsolicited"
    UNEXPECTED_REPLY = "unexpected-reply"
    EMPTY_ID = "empty-id"
    DUPLICATE_ID = "duplicate-id"
    UNKNOWN_ID = "unknown-id"
    FRAME_AFTER_TERMINAL = "frame-after-terminal"
    FRAME_AFTER_SHUTDOWN = "frame-after-shutdown"


# The kinds that mean a line was not a well-formed frame (PROTOCOL.md §2, §3): the byte
# stream itself is broken (too long, unterminated, not UTF-8, not JSON, frames run together)
# or the JSON is not a frame Octa can parse (not an object, no or an unknown type, the other
# dialect, a required field missing or of the wrong type). Octa fails to parse such a line;
# the other kinds are about well-formed frames the session did not expect.
DECODE_KINDS = frozenset(
    {
        Kind.FRAME_TOO_LONG,
        Kind.UNTERMINATED_FRAME,
        Kind.INVALID_UTF8,
        Kind.INVALID_JSON,
        Kind.FRAMES_RUN_TOGETHER,
        Kind.NOT_AN_OBJECT,
        Kind.MISSING_TYPE,
        Kind.UNKNOWN_TYPE,
        Kind.WRONG_DIALECT,
        Kind.MISSING_FIELD,
        Kind.WRONG_TYPE,
    }
)


def quote(data: bytes, limit: int = QUOTE_LIMIT) -> str:
    """Render bytes for a one-line message, truncated to ``limit`` bytes."""
    shown = data[:limit]
    text = repr(shown)[1:]  # b'...' -> '...'
    if len(data) > limit:
        text += f" ... ({len(data)} bytes in all)"
    return text


@dataclass(frozen=True)
class Violation:
    """A protocol violation by the plugin.

    ``data`` holds at most ``KEEP_LIMIT`` bytes of the offending input (``size`` is the
    full length); ``frame`` is the decoded message when the bytes were well-formed but
    the session did not expect them.
    """

    kind: Kind
    message: str
    data: bytes = b""
    size: int = 0
    frame: Any = None

    @classmethod
    def of(cls, kind: Kind, message: str, data: bytes = b"", frame: Any = None) -> Violation:
        return cls(kind, message, bytes(data[:KEEP_LIMIT]), len(data), frame)

    def __str__(self) -> str:
        if not self.data:
            return f"[{self.kind.value}] {self.message}"
        shown = quote(self.data)
        if self.size > len(self.data):
            shown = quote(self.data) if len(self.data) <= QUOTE_LIMIT else shown
            shown = shown.split(" ... (")[0] + f" ... ({self.size} bytes in all)"
        return f"[{self.kind.value}] {self.message}: {shown}"
