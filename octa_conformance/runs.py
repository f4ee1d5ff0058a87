"""Handles on one ``Execute``: :class:`Run` while it runs, :class:`RunResult` once it ended.

A ``Run`` follows its command's :class:`~octa_conformance.protocol.Execution` (the session
records every frame); the host tells it when a frame, the connection's end or an
undecodable terminal frame arrived, so its waits wake at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from octa_conformance.async_waits import Latch
from octa_conformance.errors import (
    ConnectionClosed,
    PluginRefused,
    ReplyTimeout,
    UndecodableTerminal,
)
from octa_conformance.protocol import (
    ErrorReply,
    Execution,
    ExitStatus,
    Response,
    Started,
    Stderr,
    Stdout,
    Violation,
)

if TYPE_CHECKING:
    from octa_conformance.host import FakeOcta

__all__ = ["Run", "RunResult"]


@dataclass
class RunResult:
    """What one ``Execute`` produced once it ended."""

    id: str | None
    stdout_lines: list[str] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)
    exit_code: int | None = None
    error: str | None = None  # the message of a terminal Error or of a refusal
    refused: bool = False  # answered by Error instead of Started
    # no terminal frame, but one that could not be decoded (Octa would wait forever): what
    # was wrong with it
    lost: str | None = None
    dropped: int = 0  # output frames not kept (a flood beyond MAX_KEPT_FRAMES): not in *_lines

    @staticmethod
    def _join(lines: list[str]) -> str:
        return "\n".join(ln[:-1] if ln.endswith("\n") else ln for ln in lines)

    @property
    def stdout(self) -> str:
        """Stdout lines joined with one ``\\n`` each (trailing newlines removed)."""
        return self._join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return self._join(self.stderr_lines)


class Run:
    """Handle on one ``Execute``: its id, its frames, its result."""

    def __init__(self, host: FakeOcta, execution: Execution) -> None:
        self.host = host
        self.execution = execution
        self._arrived = asyncio.Event()
        self._started = Latch()
        self._done = Latch()

    @property
    def index(self) -> int:
        return self.execution.index

    @property
    def id(self) -> str | None:
        return self.execution.id

    @property
    def done(self) -> bool:
        """Whether waiting for this command is over: its terminal frame or refusal arrived,
        the connection closed, or its terminal frame came but could not be decoded
        (``lost``). Only ``execution.done`` says that it really ended."""
        return self._done.is_set

    @property
    def lost(self) -> Violation | None:
        """The undecodable terminal frame that ended the wait, if no good one came."""
        ex = self.execution
        return ex.lost if not ex.done else None

    def _on_lost(self) -> None:
        self._arrived.set()
        self._done.set()

    def _lost_error(self) -> UndecodableTerminal:
        v = self.execution.lost
        assert v is not None
        return UndecodableTerminal(f"Execute #{self.index + 1}: {v}", v)

    def _on_frame(self, frame: Response) -> None:
        self._arrived.set()
        if isinstance(frame, Started):
            self._started.set()
        if self.execution.done:
            self._started.set()  # refused: no Started will come
            self._done.set()

    def _on_closed(self) -> None:
        self._arrived.set()
        self._started.set()
        self._done.set()

    async def started(self, timeout: float | None = None) -> str:
        """Wait for ``Started``; return the id. Raises on refusal, close or timeout."""
        timeout = self.host.timeouts.reply if timeout is None else timeout
        if not await self._started.wait(timeout):
            raise ReplyTimeout(f"no Started for Execute #{self.index + 1} within {timeout:.1f} s")
        if self.execution.refused is not None:
            err = self.execution.refused
            raise PluginRefused(
                f"Execute #{self.index + 1} was answered by Error{{id: {err.id!r},"
                f" message: {err.message!r}}} instead of Started",
                err,
            )
        if self.execution.id is None:
            raise ConnectionClosed(
                f"the plugin closed the connection before Started for Execute #{self.index + 1}"
                + await self.host.exit_note()
            )
        return self.execution.id

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for the terminal frame (or refusal). Raises on close or timeout."""
        timeout = self.host.timeouts.command if timeout is None else timeout
        if not await self._done.wait(timeout):
            raise ReplyTimeout(
                f"Execute #{self.index + 1} (id {self.id!r}) got no ExitStatus or Error"
                f" within {timeout:.1f} s"
            )
        if self.lost is not None:
            raise self._lost_error()
        if not self.execution.done:
            raise ConnectionClosed(
                f"the plugin closed the connection before the terminal frame of Execute"
                f" #{self.index + 1} (id {self.id!r})" + await self.host.exit_note()
            )

    async def result(self, timeout: float | None = None) -> RunResult:
        """Wait for the end of the execution and collect its output."""
        await self.wait(timeout)
        return self.snapshot()

    def snapshot(self) -> RunResult:
        """The output gathered so far, without waiting."""
        ex = self.execution
        res = RunResult(ex.id, refused=ex.refused is not None, dropped=ex.dropped)
        if ex.lost is not None and not ex.done:
            res.lost = ex.lost.message
        for f in ex.frames:
            if isinstance(f, Stdout):
                res.stdout_lines.append(f.line)
            elif isinstance(f, Stderr):
                res.stderr_lines.append(f.line)
            elif isinstance(f, ExitStatus):
                res.exit_code = f.code
            elif isinstance(f, ErrorReply):
                res.error = f.message
        return res

    def __aiter__(self) -> AsyncIterator[Response]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Response]:
        pos = 0
        while True:
            frames = self.execution.frames
            if pos < len(frames):
                pos += 1
                yield frames[pos - 1]
                continue
            if self._done.is_set:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), self.host.timeouts.command)
            except asyncio.TimeoutError:
                raise ReplyTimeout(f"no frame for Execute #{self.index + 1} in time") from None
