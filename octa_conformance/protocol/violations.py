"""Violations: what the sans-IO layer reports instead of raising.

Every violation says what was wrong in one sentence and keeps (a bounded copy of) the
bytes that were wrong, so a failure message can quote them. A :class:`ViolationLog` keeps
them all for the checks, with memory bounded against a flooding plugin: what it does not
keep, it counts, and says so where the kept ones are read.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

QUOTE_LIMIT = 200  # bytes of the offending data shown in messages
KEEP_LIMIT = 4096  # bytes of the offending data kept at all
KEEP_FIRST = 1000  # violations of each kind kept whole, from the first on
KEEP_LAST = 100  # and the latest of each kind once a flood went past KEEP_FIRST


class Kind(str, enum.Enum):
    """Every kind of violation the codec and the session can report."""

    # framing and decoding (docs/protocol.md §2, §3)
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
    # session (docs/protocol.md §4)
    SENT_BEFORE_HELLO = "sent-before-hello"
    UNSOLICITED = "unsolicited"
    UNEXPECTED_REPLY = "unexpected-reply"
    EMPTY_ID = "empty-id"
    DUPLICATE_ID = "duplicate-id"
    UNKNOWN_ID = "unknown-id"
    FRAME_AFTER_TERMINAL = "frame-after-terminal"
    FRAME_AFTER_SHUTDOWN = "frame-after-shutdown"


# The kinds that mean a line was not a well-formed frame (docs/protocol.md §2, §3): the byte
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
    the session did not expect them; ``id`` is the execution id that a frame which could
    not be decoded names (best effort: read from the JSON object, in either dialect).
    """

    kind: Kind
    message: str
    data: bytes = b""
    size: int = 0
    frame: Any = None
    id: str | None = None

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


@dataclass(frozen=True)
class NotKept(Violation):
    """Stands, in a :class:`ViolationLog`'s listing, for ``count`` violations of ``kind``
    that happened but were not kept (a flood past ``KEEP_FIRST`` of one kind).

    It is a :class:`Violation` of that kind, so a check that looks for a kind sees it; it
    has no ``data``, ``frame`` or ``id``: whatever those were, they are gone.
    """

    count: int = 0


def tally(violations: Iterable[Violation]) -> int:
    """How many violations a listing stands for: a :class:`NotKept` counts for as many as
    it replaced."""
    return sum(v.count if isinstance(v, NotKept) else 1 for v in violations)


@dataclass(frozen=True)
class ViolationMark:
    """A point in a :class:`ViolationLog` (``ViolationLog.mark()``), for ``since()``."""

    total: int
    counts: tuple[tuple[Kind, int], ...]


class ViolationLog:
    """Every violation of a session, in order, in bounded memory.

    Of each kind, the first ``first`` violations and the latest ``last`` are kept whole;
    the ones in between (only a flooding plugin gets there) are counted. Listings
    (:meth:`since`) put one :class:`NotKept` in their place, so whoever reads them sees
    that there were more, and how many: no reader ever sees fewer violations than happened
    without being told. :meth:`count` gives exact numbers per kind.
    """

    def __init__(self, first: int = KEEP_FIRST, last: int = KEEP_LAST) -> None:
        self.first = first
        self.last = last
        self.total = 0  # every violation added, kept or not
        self._counts: dict[Kind, int] = {}
        self._first: dict[Kind, list[tuple[int, Violation]]] = {}
        self._last: dict[Kind, deque[tuple[int, Violation]]] = {}
        self._not_kept: dict[Kind, int] = {}
        self._last_not_kept: dict[Kind, int] = {}  # seq of the latest violation not kept
        self._listing: list[Violation] | None = None  # since() from the start, cached

    def add(self, v: Violation) -> None:
        """Record ``v`` (kept, or counted if its kind has flooded)."""
        seq = self.total
        self.total += 1
        kind = v.kind
        self._counts[kind] = self._counts.get(kind, 0) + 1
        self._listing = None
        head = self._first.setdefault(kind, [])
        if len(head) < self.first:
            head.append((seq, v))
            return
        tail = self._last.get(kind)
        if tail is None:
            tail = self._last[kind] = deque(maxlen=self.last)
        if len(tail) == tail.maxlen:
            dropped = tail[0][0] if tail else seq
            self._not_kept[kind] = self._not_kept.get(kind, 0) + 1
            self._last_not_kept[kind] = dropped
        if tail.maxlen:
            tail.append((seq, v))

    def count(self, kind: Kind | None = None) -> int:
        """How many violations (of ``kind``) happened, kept or not."""
        return self.total if kind is None else self._counts.get(kind, 0)

    def not_kept(self, kind: Kind | None = None) -> int:
        """How many violations (of ``kind``) were counted but not kept."""
        if kind is None:
            return sum(self._not_kept.values())
        return self._not_kept.get(kind, 0)

    def mark(self) -> ViolationMark:
        """The current point of the log: ``since(mark)`` later lists what came after it."""
        return ViolationMark(self.total, tuple(self._counts.items()))

    def since(self, mark: ViolationMark | None = None) -> list[Violation]:
        """The violations after ``mark`` (None: all), in order, each kind's violations
        that were not kept replaced by one :class:`NotKept` that says how many."""
        if mark is None and self._listing is not None:
            return list(self._listing)
        start = 0 if mark is None else mark.total
        before = dict(mark.counts) if mark is not None else {}
        keyed: list[tuple[float, Violation]] = []
        for kind, head in self._first.items():
            kept = [(float(s), v) for s, v in head if s >= start]
            kept += [(float(s), v) for s, v in self._last.get(kind, ()) if s >= start]
            keyed += kept
            gone = self._counts[kind] - before.get(kind, 0) - len(kept)
            if gone > 0:
                # the violations not kept come after the kept first ones and before the
                # kept latest ones: the marker stands where the last of them was
                keyed.append((self._last_not_kept[kind] + 0.5, self._marker(kind, gone)))
        keyed.sort(key=lambda item: item[0])
        listing = [v for _, v in keyed]
        if mark is None:
            self._listing = listing
            return list(listing)
        return listing

    def _marker(self, kind: Kind, count: int) -> NotKept:
        message = (
            f"{count} more violation{'s' if count != 1 else ''} of this kind not kept"
            f" ({self._counts[kind]} in all, a flood: of each kind the first {self.first}"
            f" and the last {self.last} are kept)"
        )
        return NotKept(kind, message, count=count)
