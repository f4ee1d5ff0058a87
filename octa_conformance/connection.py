"""The host's end of one plugin connection: bytes in, bytes out, and the close.

A reader task hands every chunk the plugin sends to a callback as it arrives (the session
frames and judges it); writes wait for the plugin to take the bytes only when the socket
could not take them at once, and never longer than a deadline. Only public asyncio stream
API is used.

**Floods.** Every frame a plugin sends answers something the host wrote (a reply, or the
output of a command it started), and the bundled checks' commands print at most 2,000
lines. A plugin that sends more than ``flood_lines`` (``HarnessConfig.flood_lines``,
20,000 by default) lines since the host last wrote is flooding, and parsing a flood frame
by frame costs the host seconds per million frames.
Past that bound the connection *skims*: when the flood is ``Stdout``/``Stderr`` frames of
one id, which the lines' common beginning shows (e.g.
``{"type":"Stdout","payload":{"id":"x","line":"``), every further line that begins like
that is skipped unread, and every other line (the frames that end commands, answers to
the host) still reaches the session, so checks go on to their verdicts; the host's next
write ends the skim. A flood without such a beginning, or one that goes on for more than
``SKIM_LINES`` skipped lines, ends reading: the host ends the plugin rather than read on.
Either way the host is told (``on_flood``) in words for the transcript; skipped lines are
not counted as frames or violations of any kind, only as lines not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from octa_conformance.config import DEFAULT_FLOOD_LINES

__all__ = ["READ_CHUNK", "SKIM_LINES", "Flood", "StreamConnection"]

READ_CHUNK = 256 * 1024
SKIM_LINES = 2_000_000
"""Lines skipped unread in one skim before the connection stops reading altogether."""
_SAMPLE = 200  # lines whose common beginning names the flood
_LONG_LINE = 1024 * 1024  # a partial line this long is handed on (the session judges it)


@dataclass(frozen=True)
class Flood:
    """What the connection tells the host about a flood."""

    note: str  # in words, for the transcript
    ended: bool  # reading stopped: nothing more will be read


class StreamConnection:
    """Reads ``reader`` in a task of its own from construction on, until EOF or :meth:`close`.

    ``on_data(chunk)`` gets every chunk, ``on_eof()`` the end of the plugin's side (EOF or a
    broken connection), ``on_end()`` runs when reading stopped for any reason (also after
    :meth:`close` or an error).

    With ``on_flood``, more than ``flood_lines`` lines since the last :meth:`write` start a
    skim (module docstring); ``on_flood`` hears when one starts and ends and, if reading
    stops (``Flood.ended``), ``on_end()`` follows, not ``on_eof()``: the plugin did not
    close anything. Without ``on_flood`` every byte is read and handed on.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
        on_end: Callable[[], None],
        on_flood: Callable[[Flood], None] | None = None,
        flood_lines: int = DEFAULT_FLOOD_LINES,
        skim_lines: int = SKIM_LINES,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_data = on_data
        self._on_eof = on_eof
        self._on_end = on_end
        self._on_flood = on_flood
        self._flood_lines = flood_lines
        self._skim_lines = skim_lines
        self._lines = 0  # lines received since the last write
        self._skim: bytes | None = None  # the beginning of the lines being skipped
        self._skipped = 0  # lines skipped in this skim and noted
        self._pending = 0  # lines skipped since the last note
        self._tail = False  # in a skim: the line the session holds the start of goes on
        self._carry = b""  # in a skim: an incomplete line, not yet judged
        self.flooded = False  # reading stopped at a flood
        self._task = asyncio.ensure_future(self._read_loop())

    async def _read_loop(self) -> None:
        try:
            while True:
                try:
                    data = await self._reader.read(READ_CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                if not data:
                    self._end_skim()
                    self._on_eof()
                    return
                if self._skim is not None:
                    self._skim_chunk(data)
                    if self.flooded:
                        self._tell(
                            f"the host stopped reading: {self._skipped:,} lines beginning"
                            f" {_show(self._skim)} were skipped unread and the flood went"
                            " on; the host ended the plugin rather than read on",
                            ended=True,
                        )
                        return
                    continue
                self._on_data(data)
                if self._on_flood is None:
                    continue
                self._lines += data.count(b"\n")
                if self._lines > self._flood_lines and not self._start_skim(data):
                    return
        finally:
            self._on_end()

    def _tell(self, note: str, *, ended: bool) -> None:
        if self._on_flood is not None:
            self._on_flood(Flood(note, ended))

    def _start_skim(self, data: bytes) -> bool:
        """Skim from here on if the flood in ``data`` has a beginning of its own; else stop
        reading (``flooded``). Whether reading goes on."""
        lines = data.split(b"\n")
        prefix = flood_prefix(lines[-_SAMPLE - 1 : -1])
        head = (
            f"the plugin sent {self._lines:,} lines since the host last wrote (more than"
            f" {self._flood_lines:,}; no check's command prints more than 2,000): a flood"
        )
        if prefix is None:
            self.flooded = True
            self._tell(
                f"the host stopped reading: {head}, not of one command's output; the host"
                " ended the plugin rather than read on",
                ended=True,
            )
            return False
        self._skim, self._skipped, self._pending, self._carry = prefix, 0, 0, b""
        self._tail = lines[-1] != b""  # the session holds the start of that line
        self._tell(
            f"{head}; lines beginning {_show(prefix)} are skipped unread from here on,"
            " the others still read (until the host writes again)",
            ended=False,
        )
        return True

    def _skim_chunk(self, data: bytes) -> None:
        """Hand on ``data`` less the complete lines that begin like the flood; a line handed
        on after skipped ones is preceded by a note that says how many were skipped."""
        prefix = self._skim
        assert prefix is not None
        kept: list[bytes] = []
        if self._tail:  # the rest of a line the session has the start of
            end = data.find(b"\n")
            if end < 0:
                self._on_data(data)
                return
            kept.append(data[: end + 1])
            data = data[end + 1 :]
            self._tail = False
        buf = self._carry + data
        cut = buf.rfind(b"\n") + 1
        whole, self._carry = buf[:cut], buf[cut:]
        count = whole.count(b"\n")
        if count and whole.startswith(prefix) + whole.count(b"\n" + prefix) == count:
            lines = []  # every line is the flood's (the usual case): no line-by-line look
            if kept:
                self._on_data(b"".join(kept))
                kept.clear()
            self._pending += count
        else:
            lines = whole.split(b"\n")[:-1]
        for line in lines:
            if line.startswith(prefix):
                if kept:
                    self._on_data(b"".join(kept))
                    kept.clear()
                self._pending += 1
            else:
                self._report_skipped()
                kept.append(line + b"\n")
        carry = self._carry
        if len(carry) > _LONG_LINE or not carry.startswith(prefix[: len(carry)]):
            self._report_skipped()
            kept.append(carry)  # not (or not just) a flood line: the session judges it
            self._carry, self._tail = b"", True
        if kept:
            self._on_data(b"".join(kept))
        if self._skipped + self._pending > self._skim_lines:
            self._report_skipped()
            self.flooded = True

    def _report_skipped(self) -> None:
        """Note the lines skipped since the last note, if any."""
        if not self._pending or self._skim is None:
            return
        self._skipped += self._pending
        self._tell(
            f"{self._pending:,} lines beginning {_show(self._skim)} were skipped unread",
            ended=False,
        )
        self._pending = 0

    def _end_skim(self) -> None:
        """The flood is over for now (the host wrote, or the plugin's side ended)."""
        if self._skim is None:
            return
        self._report_skipped()
        carry = self._carry
        self._skim, self._skipped, self._carry, self._tail = None, 0, b"", False
        if carry:
            self._on_data(carry)

    async def write(self, data: bytes, timeout: float) -> None:
        """Write ``data``; if the socket could not take it all at once, wait up to
        ``timeout`` s for the plugin to read enough (``asyncio.TimeoutError`` after that).

        Raises ``ConnectionError``/``OSError`` if the connection is broken.
        """
        self._lines = 0
        self._end_skim()
        self._writer.write(data)
        if not self._nothing_buffered():  # else all is in the socket: nothing to drain
            await asyncio.wait_for(self._writer.drain(), timeout)

    def _nothing_buffered(self) -> bool:
        """Whether all bytes written so far went to the socket (so writing is not paused)."""
        transport = self._writer.transport
        try:
            return transport.get_write_buffer_size() == 0 and not transport.is_closing()
        except (AttributeError, NotImplementedError):
            return False

    async def close(self, timeout: float) -> None:
        """Close our side (the plugin sees EOF) and stop reading, each bounded by ``timeout``."""
        self._report_skipped()  # a skim in progress: how many lines went unread
        with contextlib.suppress(Exception):
            self._writer.close()
        self._task.cancel()
        # asyncio.wait, not await: the reader's own cancellation must not be taken for (and
        # swallow) a cancellation of the task that is closing the connection
        await asyncio.wait([self._task], timeout=timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), timeout)


def flood_prefix(lines: list[bytes]) -> bytes | None:
    """The beginning the flood's ``lines`` share, up to the value that varies, if it names
    one output frame type and one id (``{"type":"Stdout","payload":{"id":"x","line":"``);
    else None."""
    if len(lines) < 2:
        return None
    low, high = min(lines), max(lines)  # the common beginning of all is theirs
    size = 0
    while size < len(low) and low[size] == high[size]:
        size += 1
    prefix = low[: low.rfind(b'"', 0, size) + 1]
    try:
        frame = json.loads(lines[-1])
    except ValueError:
        return None
    if not isinstance(frame, dict):
        return None
    fields = frame.get("payload", frame)
    kind, ident = frame.get("type"), fields.get("id") if isinstance(fields, dict) else None
    if kind not in ("Stdout", "Stderr") or not isinstance(ident, str):
        return None
    named = (json.dumps(kind).encode(), json.dumps(ident).encode())
    return prefix if all(name in prefix for name in named) else None


def _show(prefix: bytes) -> str:
    return repr(prefix.decode("utf-8", "replace"))
