"""``FakeOcta``: a scriptable asyncio host on top of the sans-IO session.

Example::

    async with launch("./my-plugin") as host:
        await host.handshake()
        run = await host.execute("echo hi", dir="/tmp")
        result = await run.result()
        assert result.exit_code == 0
        await host.shutdown()

Every wait is bounded by ``HarnessConfig.timeouts``; protocol violations are recorded
(``host.violations``, ``host.transcript``) rather than raised. ``host.violations`` is the
evidence: every violation, never silently capped; the transcript is for display and keeps
only the beginning and the end of a flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from octa_conformance.config import HarnessConfig
from octa_conformance.errors import OctaConformanceError
from octa_conformance.protocol import (
    Closed,
    Command,
    Dialect,
    ErrorReply,
    Event,
    ExecuteCommand,
    Execution,
    ExitStatus,
    HelloCommand,
    HelloReply,
    HostSession,
    RawLine,
    Received,
    Response,
    SchemaCommand,
    SchemaReply,
    ShutdownCommand,
    ShutdownReply,
    Started,
    Stderr,
    Stdout,
    Violation,
    ViolationLog,
)
from octa_conformance.supervisor import PluginProcess, describe_status
from octa_conformance.transcript import Transcript

READ_CHUNK = 256 * 1024
EVENT_BACKLOG = 100_000  # events kept for next_frame()/wait_for(); older ones are dropped


class HostError(OctaConformanceError):
    """The plugin did not behave as the host needed; the message says how."""


class ReplyTimeout(HostError):
    """Nothing (suitable) arrived before the deadline."""


class ConnectionClosed(HostError):
    """The plugin closed the connection while the host was waiting."""


class UnexpectedReply(HostError):
    """A command was answered by a frame of the wrong type."""

    def __init__(self, message: str, frame: Response) -> None:
        super().__init__(message)
        self.frame = frame


class MalformedReply(HostError):
    """A command was answered by a frame the host could not decode (Octa: parse error)."""

    def __init__(self, message: str, violation: Violation) -> None:
        super().__init__(message)
        self.violation = violation


class UndecodableTerminal(HostError):
    """A running command's terminal frame could not be decoded: Octa drops such a frame,
    so for Octa the command would never finish."""

    def __init__(self, message: str, violation: Violation) -> None:
        super().__init__(message)
        self.violation = violation


class PluginRefused(HostError):
    """A command was answered by an ``Error`` frame."""

    def __init__(self, message: str, error: ErrorReply) -> None:
        super().__init__(message)
        self.error = error


class _Latch:
    """A one-way flag whose waiters wake in the very iteration it is set.

    A future's done-callbacks run one event-loop iteration late; the host's Execute round
    trip is measured against a bare client (bench/run.py), so the hot waits use this.
    """

    __slots__ = ("_waiters", "is_set")

    def __init__(self) -> None:
        self.is_set = False
        self._waiters: list[asyncio.Future[None]] = []

    def set(self) -> None:
        if self.is_set:
            return
        self.is_set = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, timeout: float | None) -> bool:
        """Wait until set or ``timeout`` s pass; whether it is set."""
        if self.is_set:
            return True
        if timeout is not None and timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = None if timeout is None else loop.call_later(timeout, _release, waiter)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return self.is_set


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _settled(fut: asyncio.Future[Any], timeout: float | None) -> bool:
    """Wait until ``fut`` is done or ``timeout`` s pass; whether it is done. Never cancels it.

    What ``wait_for(shield(fut), timeout)`` does, without a task of its own.
    """
    if fut.done():
        return True
    latch = _Latch()

    def wake(_: object) -> None:
        latch.set()

    fut.add_done_callback(wake)
    try:
        await latch.wait(timeout)
    finally:
        fut.remove_done_callback(wake)
    return fut.done()


class _Tap(asyncio.Protocol):
    """Takes a stream connection's incoming bytes straight from the transport.

    Installed with ``transport.set_protocol``: bytes reach the sans-IO session in the
    transport's own callback, with no reader task to wake in between. Flow control and
    connection loss are passed on to the stream's protocol, so the ``StreamWriter``
    (``drain``, ``wait_closed``) keeps working.
    """

    def __init__(
        self,
        inner: asyncio.StreamReaderProtocol,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
    ) -> None:
        self.inner = inner
        self.on_data = on_data
        self.on_eof = on_eof

    @classmethod
    def attach(
        cls,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
    ) -> _Tap | None:
        """Take over ``reader``'s transport; None where it cannot be done safely."""
        transport = getattr(writer, "transport", None)
        get_protocol = getattr(transport, "get_protocol", None)
        inner = get_protocol() if get_protocol is not None else None
        buffered = getattr(reader, "_buffer", None)
        if (
            not isinstance(inner, asyncio.StreamReaderProtocol)
            or getattr(inner, "_stream_reader", None) is not reader
            or not isinstance(buffered, bytearray)
            or reader.exception() is not None
            or not hasattr(transport, "set_protocol")
        ):
            return None
        tap = cls(inner, on_data, on_eof)
        transport.set_protocol(tap)
        early = bytes(buffered)  # what arrived before the host was there
        buffered.clear()
        if early:
            on_data(early)
        if reader.at_eof():
            on_eof()
        elif isinstance(transport, asyncio.ReadTransport) and not transport.is_reading():
            with contextlib.suppress(Exception):
                transport.resume_reading()  # the reader paused it with a full buffer
        return tap

    def data_received(self, data: bytes) -> None:
        self.on_data(data)

    def eof_received(self) -> bool:
        self.on_eof()
        return True  # keep the transport: the host may still write (half-close)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_eof()
        self.inner.connection_lost(exc)


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
        self._started = _Latch()
        self._done = _Latch()
        self.closed_early = False

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
        self.closed_early = not self._done.is_set
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


class FakeOcta:
    """A fake Octa host speaking to one plugin connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        config: HarnessConfig | None = None,
        process: PluginProcess | None = None,
        dialect: Dialect | None = None,
        label: str = "",
    ) -> None:
        self.config = config or HarnessConfig()
        self.timeouts = self.config.timeouts
        self.dialect = dialect or Dialect.for_octa_version(self.config.octa_version)
        self.process = process
        self.session = HostSession(self.dialect, self.config.max_frame)
        self.transcript = Transcript(label=label)
        self._reader = reader
        self._writer = writer
        self._replies: dict[int, asyncio.Future[Received]] = {}
        self._runs: dict[int, Run] = {}
        self._events: deque[Event] = deque(maxlen=EVENT_BACKLOG)
        self._consumed = 0  # index into all events ever received, for next_frame()
        self._total = 0
        self._changed = asyncio.Event()
        self._closed = asyncio.get_running_loop().create_future()
        self._stopped = False  # close() was called: incoming bytes are ignored
        self._reader_task: asyncio.Task[None] | None = None
        if _Tap.attach(reader, writer, self._on_data, self._on_eof) is None:
            self._reader_task = asyncio.ensure_future(self._read_loop())

    # --- construction -------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        process: PluginProcess,
        *,
        config: HarnessConfig | None = None,
        dialect: Dialect | None = None,
        timeout: float | None = None,
        label: str = "",
    ) -> FakeOcta:
        """Connect to a launched plugin's socket (polling until the deadline)."""
        reader, writer = await process.connect(timeout)
        return cls(
            reader,
            writer,
            config=config or process.config,
            process=process,
            dialect=dialect,
            label=label,
        )

    # --- state --------------------------------------------------------------------

    @property
    def violations(self) -> list[Violation]:
        """Every protocol violation so far, in order (a fresh list).

        Nothing is dropped silently: of each kind the first ``KEEP_FIRST`` and the last
        ``KEEP_LAST`` are listed, and the ones a flood put in between are listed as one
        :class:`~octa_conformance.protocol.NotKept` of that kind, which says how many. To see
        what came after a point, use ``violation_log.mark()`` and ``violation_log.since()``.
        """
        return self.session.violations.since()

    @property
    def violation_log(self) -> ViolationLog:
        """The violation store itself: exact counts per kind, marks, listings since a mark."""
        return self.session.violations

    @property
    def executions(self) -> tuple[Execution, ...]:
        """Every ``Execute`` sent so far, in the order sent, with what the plugin said about
        it (``id``, ``frames``, ``terminal``, ``refused``)."""
        return tuple(self.session.executions)

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id the plugin named in a ``Started`` so far, in order (repeats included)."""
        return tuple(self.session.ids)

    @property
    def plugin_closed(self) -> bool:
        """The plugin closed its side of the connection."""
        return self._closed.done()

    @property
    def runs(self) -> list[Run]:
        return [self._runs[i] for i in sorted(self._runs)]

    # --- sending ------------------------------------------------------------------

    async def send(self, command: Command) -> asyncio.Future[Received]:
        """Send a command; return a future for the frame that directly answers it."""
        data = self.session.send(command)
        pending = self.session.pending[-1]
        fut: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._replies[pending.seq] = fut
        if pending.execution is not None:
            self._runs[pending.execution.index] = Run(self, pending.execution)
        self.transcript.sent(data, command)
        await self._write(data)
        return fut

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (malformed frames, partial lines...).

        Each line they end waits for an ``Error`` answer, in order with the commands.
        """
        self.session.send_raw(data)
        self.transcript.sent(data)
        await self._write(data)

    async def _write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            if not self._nothing_buffered():  # else all is in the socket: nothing to drain
                await asyncio.wait_for(self._writer.drain(), self.timeouts.reply)
        except asyncio.TimeoutError:
            raise ReplyTimeout(
                f"the plugin did not read {len(data)} bytes the host wrote within"
                f" {self.timeouts.reply:.1f} s"
            ) from None
        except (ConnectionError, OSError) as e:
            note = await self.exit_note()
            raise ConnectionClosed(f"writing to the plugin failed: {e}{note}") from None

    def _nothing_buffered(self) -> bool:
        """Whether all bytes written so far went to the socket (so writing is not paused)."""
        transport = self._writer.transport
        try:
            return transport.get_write_buffer_size() == 0 and not transport.is_closing()
        except (AttributeError, NotImplementedError):
            return False

    async def exit_note(self) -> str:
        """``"; the plugin process exited with status N (...)"`` if it has, else "".

        Waits a little for the exit: a crashing plugin's connection closes just before its
        process can be reaped, and "it crashed" is what the plugin author needs to read.
        """
        if self.process is None:
            return ""
        code = await self.process.wait_exit(self.timeouts.poll * 50)
        return "" if code is None else f"; the plugin process exited with {describe_status(code)}"

    async def _reply(self, fut: asyncio.Future[Received], what: str, timeout: float) -> Received:
        if not await _settled(fut, timeout):
            raise ReplyTimeout(f"no reply to {what} within {timeout:.1f} s")
        return fut.result()

    async def _request(self, command: Command, want: type, timeout: float) -> Any:
        fut = await self.send(command)
        got = await self._reply(fut, command.TYPE, timeout)
        frame = got.frame
        if isinstance(frame, want):
            return frame
        if isinstance(frame, ErrorReply):
            raise PluginRefused(
                f"{command.TYPE} was answered by Error{{id: {frame.id!r}, message:"
                f" {frame.message!r}}}",
                frame,
            )
        raise UnexpectedReply(
            f"{command.TYPE} was answered by a {frame.TYPE} frame, expected {want.TYPE}", frame
        )

    # --- the protocol -------------------------------------------------------------

    @staticmethod
    def _or_default(timeout: float | None, default: float) -> float:
        """``timeout`` unless it is None (0 means: do not wait at all)."""
        return default if timeout is None else timeout

    async def hello(
        self,
        version: str | None = None,
        features: Sequence[str] = (),
        extra: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> HelloReply:
        """Send ``Hello`` with the target (or given) Octa version; return the reply."""
        version = self.config.octa_version if version is None else version
        cmd = HelloCommand(version, tuple(features), dict(extra or {}))
        return await self._request(cmd, HelloReply, self._or_default(timeout, self.timeouts.reply))

    async def schema(self, timeout: float | None = None) -> SchemaReply:
        """Send ``Schema``; return the reply."""
        timeout = self._or_default(timeout, self.timeouts.reply)
        return await self._request(SchemaCommand(), SchemaReply, timeout)

    async def handshake(self, version: str | None = None) -> tuple[HelloReply, SchemaReply]:
        """``Hello`` then ``Schema``, as Octa does at start-up."""
        hello = await self.hello(version)
        return hello, await self.schema()

    async def execute(
        self,
        params: str,
        *,
        args: Sequence[str] = (),
        dir: str | None = None,
        envs: Mapping[str, str] | None = None,
        vars: Mapping[str, Any] | None = None,
        dry: bool = False,
    ) -> Run:
        """Send ``Execute``; return its handle at once (await ``run.started()`` for the id)."""
        cmd = ExecuteCommand(
            params,
            tuple(args),
            dir or os.getcwd(),
            dict(envs or {}),
            dict(vars or {}),
            dry,
        )
        await self.send(cmd)
        return self._runs[self.session.executions[-1].index]

    async def run(self, params: str, timeout: float | None = None, **kw: Any) -> RunResult:
        """Execute and wait for the result (raises if refused or not finished in time)."""
        run = await self.execute(params, **kw)
        await run.started()
        return await run.result(timeout)

    async def shutdown(self, timeout: float | None = None) -> ShutdownReply:
        """Send ``Shutdown``; return the acknowledgement (5 s, as Octa waits)."""
        timeout = self._or_default(timeout, self.timeouts.shutdown_reply)
        return await self._request(ShutdownCommand(), ShutdownReply, timeout)

    # --- receiving ----------------------------------------------------------------

    async def next_frame(self, timeout: float | None = None) -> Event:
        """The next event not yet taken by ``next_frame`` (frame, violation or close)."""
        return await self.wait_for(lambda ev: True, timeout, consume=True)

    def mark(self) -> int:
        """A position in the event stream, for ``wait_for(..., since=mark)``."""
        return self._total

    def events_since(self, mark: int) -> list[Event]:
        """The events at or after ``mark`` that are still in the backlog (the last
        ``EVENT_BACKLOG``: a flood pushes older ones out). For evidence of violations use
        ``violations``/``violation_log``, which lose none without saying so."""
        first = self._total - len(self._events)
        return list(self._events)[max(0, mark - first) :]

    async def wait_for(
        self,
        predicate: Callable[[Event], bool],
        timeout: float | None = None,
        *,
        since: int | None = None,
        consume: bool = False,
        what: str = "a matching frame",
    ) -> Event:
        """Wait for the first event at or after ``since`` that satisfies ``predicate``."""
        timeout = self.timeouts.reply if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pos = self._consumed if since is None else since
        while True:
            first = self._total - len(self._events)
            pos = max(pos, first)
            while pos < self._total:
                ev = self._events[pos - first]
                pos += 1
                if consume:
                    self._consumed = pos
                if predicate(ev):
                    return ev
            if self._closed.done():
                raise ConnectionClosed(f"the plugin closed the connection before {what}")
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ReplyTimeout(f"no {what} within {timeout:.1f} s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_plugin_close(self, timeout: float | None = None) -> bool:
        """Wait until the plugin closes the connection; False on timeout."""
        timeout = self.timeouts.reply if timeout is None else timeout
        return await _settled(self._closed, timeout)

    def _on_data(self, data: bytes) -> None:
        if self._stopped or self._closed.done():
            return
        for ev in self.session.receive_data(data):
            self._dispatch(ev)
        self._changed.set()

    def _on_eof(self) -> None:
        if self._closed.done():
            return
        if not self._stopped:
            for ev in self.session.receive_eof():
                self._dispatch(ev)
        self._finish()

    async def _read_loop(self) -> None:
        """Where the transport cannot be tapped (foreign streams): read in a task."""
        try:
            while not self._closed.done():
                try:
                    data = await self._reader.read(READ_CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                if data:
                    self._on_data(data)
                else:
                    self._on_eof()
        finally:
            self._finish()

    def _dispatch(self, ev: Event) -> None:
        self._events.append(ev)
        self._total += 1
        if isinstance(ev, Received):
            self.transcript.received(ev.raw, ev.frame)
            if ev.answers is not None:
                fut = self._replies.pop(ev.answers.seq, None)
                if fut is not None and not fut.done():
                    fut.set_result(ev)
            if ev.execution is not None:
                run = self._runs.get(ev.execution.index)
                if run is not None:
                    run._on_frame(ev.frame)
        elif isinstance(ev, Violation):
            if ev.frame is None:
                self.transcript.received(ev.data)
                self._fail_waiting_request(ev)
            self.transcript.violation(ev)
            if ev.id is not None:
                self._end_lost(ev)
        elif isinstance(ev, Closed):
            self.transcript.note("the plugin closed the connection")

    def _fail_waiting_request(self, violation: Violation) -> None:
        """Like Octa, take an undecodable frame as the (failed) answer to a waiting
        Hello, Schema or Shutdown; an Execute keeps waiting for its Started."""
        pending = self.session.pending
        if not pending or isinstance(pending[0].command, ExecuteCommand):
            return
        head = pending.popleft()
        if isinstance(head.command, RawLine):
            return  # a broken answer to a broken line
        fut = self._replies.pop(head.seq, None)
        if fut is not None and not fut.done():
            fut.set_exception(
                MalformedReply(
                    f"{head.command.TYPE} was answered by a malformed frame: {violation}",
                    violation,
                )
            )
            fut.exception()  # retrieved by whoever awaits it; none may

    def _end_lost(self, violation: Violation) -> None:
        """End the wait of the command whose terminal frame ``violation`` is (if it is one):
        Octa would wait for that command forever, so the host does not wait at all."""
        ex = self.session.execution_for(violation.id)  # type: ignore[arg-type]
        if ex is not None and ex.lost is violation:
            run = self._runs.get(ex.index)
            if run is not None:
                run._on_lost()
            self.transcript.note(
                f"Execute #{ex.index + 1} (id {ex.id!r}) would never finish for Octa: its"
                " terminal frame could not be decoded"
            )

    def _finish(self) -> None:
        if not self._closed.done():
            self._closed.set_result(None)
        for fut in self._replies.values():
            if not fut.done():
                fut.set_exception(ConnectionClosed("the plugin closed the connection"))
                fut.exception()  # mark retrieved: nobody may be waiting
        self._replies.clear()
        for run in self._runs.values():
            run._on_closed()
        self._changed.set()

    # --- closing ------------------------------------------------------------------

    async def close(self) -> None:
        """Close the host's side (the plugin sees EOF) and stop reading. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.transcript.note("the host closed the connection")
        with contextlib.suppress(Exception):
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            # asyncio.wait, not await: the reader's own cancellation must not be taken
            # for (and swallow) a cancellation of the task that is closing the host
            await asyncio.wait([self._reader_task], timeout=self.timeouts.poll * 20)
        self._finish()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), self.timeouts.poll * 20)

    async def half_close(self) -> None:
        """Send EOF to the plugin but keep reading what it still says."""
        self.transcript.note("the host closed its writing side (EOF)")
        with contextlib.suppress(Exception):
            self._writer.write_eof()

    async def __aenter__(self) -> FakeOcta:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def launch(
    plugin: str | os.PathLike[str],
    *,
    config: HarnessConfig | None = None,
    extra_args: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    socket_name: str | None = None,
    dialect: Dialect | None = None,
) -> AsyncIterator[FakeOcta]:
    """Start ``plugin``, connect to it, yield the host; stop everything on the way out."""
    config = config or HarnessConfig()
    args = config.plugin_args if extra_args is None else tuple(extra_args)
    process = PluginProcess.spawn(
        plugin, config=config, extra_args=args, env=env, socket_name=socket_name
    )
    try:
        host = await FakeOcta.connect(process, config=config, dialect=dialect)
        try:
            yield host
        finally:
            await host.close()
    finally:
        await process.stop()
