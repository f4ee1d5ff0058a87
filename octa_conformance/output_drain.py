"""The plugin's stdout and stderr, read until EOF into bounded buffers, never blocking it.

Octa drains a plugin's pipes so a chatty plugin never stalls on a full pipe; so does the
harness, and it keeps the end of each stream for failure messages (:func:`excerpt`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import threading
import time

__all__ = ["Drain", "Ring", "excerpt"]

_READ_CHUNK = 64 * 1024


class Ring:
    """The last ``capacity`` bytes of a stream, plus the total byte count."""

    def __init__(self, capacity: int) -> None:
        self._capacity = max(0, capacity)
        self._buf = bytearray()
        self._lock = threading.Lock()
        self.total = 0

    def feed(self, data: bytes) -> None:
        with self._lock:
            self.total += len(data)
            if len(data) >= self._capacity:
                self._buf[:] = data[len(data) - self._capacity :]
                return
            self._buf += data
            excess = len(self._buf) - self._capacity
            if excess > 0:
                del self._buf[:excess]

    def tail(self) -> bytes:
        with self._lock:
            return bytes(self._buf)


class Drain:
    """A daemon thread reading pipes (read end -> ring) until EOF or :meth:`stop`.

    The thread owns the read ends and closes them itself, so stopping it never races a
    blocked ``read()``; a self-pipe wakes it up when the harness gives up waiting for EOF
    (e.g. an escaped grandchild still holds the pipe).
    """

    def __init__(self, streams: dict[int, Ring], name: str) -> None:
        self._streams = streams
        self._wake_r, self._wake_w = os.pipe()
        for fd in (*streams, self._wake_r):
            os.set_blocking(fd, False)
        self._lock = threading.Lock()
        self._stopped = False
        self.finished = threading.Event()  # all pipes at EOF, or stopped
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def settle(self, timeout: float, poll: float) -> bool:
        """Give the thread up to ``timeout`` s to reach EOF on every pipe (polled every
        ``poll`` s, the loop runs meanwhile); whether it did."""
        deadline = time.monotonic() + timeout
        while not self.finished.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(poll)
        return self.finished.is_set()

    def _read(self, fd: int, budget: int) -> bool:
        """Read up to ``budget`` bytes that are available now; False at EOF."""
        while budget > 0:
            try:
                chunk = os.read(fd, min(_READ_CHUNK, budget))
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self._streams[fd].feed(chunk)
            budget -= len(chunk)
        return True

    def _run(self) -> None:
        open_fds = set(self._streams)
        sel = selectors.DefaultSelector()
        try:
            for fd in open_fds:
                sel.register(fd, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while open_fds:
                for key, _ in sel.select():
                    if key.fd == self._wake_r:  # stop(): keep what is already buffered, quit
                        for fd in open_fds:
                            self._read(fd, 4 * _READ_CHUNK)
                        return
                    if not self._read(key.fd, _READ_CHUNK):
                        sel.unregister(key.fd)
                        os.close(key.fd)
                        open_fds.discard(key.fd)
        finally:
            sel.close()
            for fd in open_fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            os.close(self._wake_r)
            self.finished.set()

    def stop(self, timeout: float) -> None:
        """Make the thread quit (after the data already buffered) and join it, bounded."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"\0")
            os.close(self._wake_w)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)


def excerpt(stderr: Ring, stdout: Ring, max_bytes: int) -> str:
    """The end of stderr, then of stdout, within ``max_bytes``, for failure messages.

    Each stream gets half the budget, and what one does not need goes to the other. Each
    part has a ``--- plugin stderr ---`` style header that says how much was cut; "" if
    there was no output.
    """
    streams = [("stderr", stderr), ("stdout", stdout)]
    tails = {label: ring.tail() for label, ring in streams}
    if not any(tails.values()):
        return ""
    shares = {label: max_bytes // 2 for label, _ in streams}
    for label, other in (("stderr", "stdout"), ("stdout", "stderr")):
        spare = shares[label] - len(tails[label])
        if spare > 0:
            shares[other] += spare
    parts = []
    for label, ring in streams:
        data = tails[label]
        if not data:
            continue
        shown = data[-shares[label] :] if shares[label] > 0 else b""
        note = f"last {len(shown)} of {ring.total} bytes" if len(shown) < ring.total else ""
        header = f"--- plugin {label}" + (f" ({note})" if note else "") + " ---"
        parts.append(header + "\n" + shown.decode("utf-8", "replace").rstrip("\n"))
    return "\n".join(parts)
