"""The host's end of one plugin connection: bytes in, bytes out, and the close.

A reader task hands every chunk the plugin sends to a callback as it arrives (the session
frames and judges it); writes wait for the plugin to take the bytes only when the socket
could not take them at once, and never longer than a deadline. Only public asyncio stream
API is used.

**Floods.** Every frame a plugin sends answers something the host wrote (a reply, or the
output of a command it started), and the bundled checks' commands print at most 2,000
lines. A plugin that sends more than ``FLOOD_LINES`` lines since the host last wrote is
flooding: whatever check is running has all the evidence it can use (the session counts
every frame it read), and parsing the rest frame by frame would cost seconds per million
frames. So the connection stops reading there and tells the host (``on_flood``), which
ends the connection; the lines not read are not counted as anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["FLOOD_LINES", "READ_CHUNK", "StreamConnection", "flood_note"]

READ_CHUNK = 256 * 1024
FLOOD_LINES = 50_000
"""Lines the plugin may send since the host last wrote before the host stops reading: 25
times the most any bundled check asks for (the ``lines`` probe's 2,000)."""


class StreamConnection:
    """Reads ``reader`` in a task of its own from construction on, until EOF or :meth:`close`.

    ``on_data(chunk)`` gets every chunk, ``on_eof()`` the end of the plugin's side (EOF or a
    broken connection), ``on_end()`` runs when reading stopped for any reason (also after
    :meth:`close` or an error).

    With ``on_flood``, reading stops once more than ``flood_lines`` lines arrived since the
    last :meth:`write` (module docstring): the chunk that crossed the bound is still handed
    to ``on_data``, then ``on_flood(lines)`` is told how many lines were read since that
    write, and ``on_end()`` follows (not ``on_eof()``: the plugin did not close anything).
    Without ``on_flood`` every byte is read.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
        on_end: Callable[[], None],
        on_flood: Callable[[int], None] | None = None,
        flood_lines: int = FLOOD_LINES,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_data = on_data
        self._on_eof = on_eof
        self._on_end = on_end
        self._on_flood = on_flood
        self._flood_lines = flood_lines
        self._lines = 0  # lines received since the last write
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
                    self._on_eof()
                    return
                self._on_data(data)
                if self._on_flood is not None:
                    self._lines += data.count(b"\n")
                    if self._lines > self._flood_lines:
                        self.flooded = True
                        self._on_flood(self._lines)
                        return
        finally:
            self._on_end()

    async def write(self, data: bytes, timeout: float) -> None:
        """Write ``data``; if the socket could not take it all at once, wait up to
        ``timeout`` s for the plugin to read enough (``asyncio.TimeoutError`` after that).

        Raises ``ConnectionError``/``OSError`` if the connection is broken.
        """
        self._lines = 0
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
        with contextlib.suppress(Exception):
            self._writer.close()
        self._task.cancel()
        # asyncio.wait, not await: the reader's own cancellation must not be taken for (and
        # swallow) a cancellation of the task that is closing the connection
        await asyncio.wait([self._task], timeout=timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), timeout)


def flood_note(lines: int, *, killed: bool, bound: int = FLOOD_LINES) -> str:
    """Why the host stopped reading, for the transcript (``killed``: and ended the plugin)."""
    text = (
        f"the host stopped reading: the plugin sent {lines:,} lines since the host last wrote"
        f" (more than {bound:,}; no check's command prints more than 2,000): a flood"
    )
    if killed:
        text += "; the host killed the plugin process (SIGKILL) rather than read on"
    return text
