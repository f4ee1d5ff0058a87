"""The host's end of one plugin connection: bytes in, bytes out, and the close.

A reader task hands every chunk the plugin sends to a callback as it arrives (the session
frames and judges it); writes wait for the plugin to take the bytes only when the socket
could not take them at once, and never longer than a deadline. Only public asyncio stream
API is used.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["READ_CHUNK", "StreamConnection"]

READ_CHUNK = 256 * 1024


class StreamConnection:
    """Reads ``reader`` in a task of its own from construction on, until EOF or :meth:`close`.

    ``on_data(chunk)`` gets every chunk, ``on_eof()`` the end of the plugin's side (EOF or a
    broken connection), ``on_end()`` runs when reading stopped for any reason (also after
    :meth:`close` or an error).
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
        on_end: Callable[[], None],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_data = on_data
        self._on_eof = on_eof
        self._on_end = on_end
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
        finally:
            self._on_end()

    async def write(self, data: bytes, timeout: float) -> None:
        """Write ``data``; if the socket could not take it all at once, wait up to
        ``timeout`` s for the plugin to read enough (``asyncio.TimeoutError`` after that).

        Raises ``ConnectionError``/``OSError`` if the connection is broken.
        """
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
