"""Incremental newline framing (docs/protocol.md §2), sans-IO.

Feed arbitrary byte chunks; get whole lines (without the ``\\n``) and violations back.
A line longer than ``max_frame`` is reported once and skipped up to its newline, so a
hostile peer cannot make the framer hold more than ``max_frame`` bytes.
"""

from __future__ import annotations

from octa_conformance.config import DEFAULT_MAX_FRAME
from octa_conformance.protocol.violations import KEEP_LIMIT, Kind, Violation

Item = bytes | Violation


class LineFramer:
    """Splits a byte stream into ``\\n``-terminated lines with a size cap."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame < 1:
            raise ValueError("max_frame must be positive")
        self.max_frame = max_frame
        self._buf = bytearray()
        self._skipping = False  # inside an over-long line, dropping bytes
        self._skipped = 0
        self._head = b""  # first bytes of the over-long line, for the message
        self.closed = False

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete line."""
        return len(self._buf)

    @property
    def skipping(self) -> tuple[int, bytes] | None:
        """While an over-long line is being skipped: its size so far and its first bytes."""
        return (self._skipped, self._head) if self._skipping else None

    def feed(self, data: bytes) -> list[Item]:
        """Add ``data``; return the lines it completes, in order."""
        if self.closed:
            raise RuntimeError("feed() after eof()")
        out: list[Item] = []
        start = 0
        n = len(data)
        while start < n:
            nl = data.find(b"\n", start)
            end = n if nl < 0 else nl
            if self._skipping:
                self._skipped += end - start
                if len(self._head) < KEEP_LIMIT:  # same head however the line was chunked
                    self._head += data[start : min(end, start + KEEP_LIMIT - len(self._head))]
                if nl >= 0:
                    out.append(self._too_long())
                    self._skipping = False
            elif nl >= 0 and not self._buf:
                if end - start > self.max_frame:
                    self._head = bytes(data[start : min(end, start + KEEP_LIMIT)])
                    self._skipped = end - start
                    out.append(self._too_long())
                else:
                    out.append(data[start:end])
            else:
                self._buf += data[start:end]
                if len(self._buf) > self.max_frame:
                    self._head = bytes(self._buf[:KEEP_LIMIT])
                    self._skipped = len(self._buf)
                    self._buf.clear()
                    if nl >= 0:
                        out.append(self._too_long())
                    else:
                        self._skipping = True
                elif nl >= 0:
                    out.append(bytes(self._buf))
                    self._buf.clear()
            if nl < 0:
                break
            start = nl + 1
        return out

    def eof(self) -> list[Item]:
        """The stream ended: report an unterminated last line, if any."""
        self.closed = True
        if self._skipping:
            self._skipping = False
            return [self._too_long(terminated=False)]
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            return [
                Violation.of(
                    Kind.UNTERMINATED_FRAME,
                    "the connection closed in the middle of a frame (no terminating \\n)",
                    data,
                )
            ]
        return []

    def _too_long(self, terminated: bool = True) -> Violation:
        size = self._skipped
        self._skipped = 0
        head, self._head = self._head, b""
        end = "" if terminated else ", and the connection closed before its \\n"
        v = Violation.of(
            Kind.FRAME_TOO_LONG,
            f"a frame of {size} bytes exceeds the harness limit of {self.max_frame} bytes"
            f" (it was skipped{end})",
            head,
        )
        return Violation(v.kind, v.message, v.data, size)
