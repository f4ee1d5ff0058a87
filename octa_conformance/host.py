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
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from octa_conformance.async_waits import settled
from octa_conformance.config import HarnessConfig
from octa_conformance.connection import Flood, StreamConnection
from octa_conformance.errors import (
    ConnectionClosed,
    HostError,
    MalformedReply,
    PluginRefused,
    ReplyTimeout,
    UndecodableTerminal,
    UnexpectedReply,
)
from octa_conformance.event_backlog import EventBacklog
from octa_conformance.protocol import (
    Closed,
    Command,
    Dialect,
    ErrorReply,
    Event,
    ExecuteCommand,
    Execution,
    HelloCommand,
    HelloReply,
    HostSession,
    Received,
    SchemaCommand,
    SchemaReply,
    ShutdownCommand,
    ShutdownReply,
    Violation,
    ViolationLog,
)
from octa_conformance.protocol.session import CommandLost, ReplyFailed, Sent, Stage
from octa_conformance.runs import Run, RunResult
from octa_conformance.supervisor import PluginProcess, describe_status
from octa_conformance.transcript import Transcript
from octa_conformance.waiters import Waiters

__all__ = [
    "ConnectionClosed",
    "FakeOcta",
    "HostError",
    "MalformedReply",
    "PluginRefused",
    "ReplyTimeout",
    "Run",
    "RunResult",
    "UndecodableTerminal",
    "UnexpectedReply",
    "launch",
]


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
        self._waiters = Waiters()  # the answer of each command, each Execute's Run
        self._events = EventBacklog()
        self._closed = asyncio.get_running_loop().create_future()
        self._stopped = False  # close() was called: incoming bytes are ignored
        self._flooded: str | None = None  # why the host stopped reading a flood
        self._connection = StreamConnection(
            reader,
            writer,
            on_data=self._on_data,
            on_eof=self._on_eof,
            on_end=self._finish,
            # skimming floods is the host's choice: config.flood_lines None turns it off
            on_flood=self._on_flood if self.config.flood_lines is not None else None,
            flood_lines=self.config.flood_lines or 0,
        )

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
    def stage(self) -> Stage:
        """Where the session is (docs/protocol.md §4): the host's side of the protocol."""
        return self.session.stage

    @property
    def plugin_closed(self) -> bool:
        """The plugin closed its side of the connection."""
        return self._closed.done()

    @property
    def runs(self) -> list[Run]:
        """A handle on every ``Execute`` sent so far, in the order sent."""
        return list(self._waiters.runs)

    # --- sending ------------------------------------------------------------------

    async def send(self, command: Command) -> asyncio.Future[Received]:
        """Send a command (in any stage: one its stage does not expect goes out all the
        same); return a future for the frame that directly answers it (an ``Error``
        included). It fails with :class:`MalformedReply` when an undecodable frame took the
        answer's place, with :class:`ConnectionClosed` when the connection ended first."""
        return (await self._send(command))[1]

    async def _send(self, command: Command) -> tuple[Sent, asyncio.Future[Received]]:
        sent = self.session.send(command)
        run = None if sent.execution is None else Run(self, sent.execution)
        fut = self._waiters.expect(sent, run)
        self.transcript.sent(sent.data, command)
        await self._write(sent.data)
        return sent, fut

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (malformed frames, partial lines...).

        Each line they end waits for an ``Error`` answer, in order with the commands.
        """
        self.session.send_raw(data)
        self.transcript.sent(data)
        await self._write(data)

    async def _write(self, data: bytes) -> None:
        try:
            await self._connection.write(data, self.timeouts.reply)
        except asyncio.TimeoutError:
            raise ReplyTimeout(
                f"the plugin did not read {len(data)} bytes the host wrote within"
                f" {self.timeouts.reply:.1f} s"
            ) from None
        except (ConnectionError, OSError) as e:
            note = await self.exit_note()
            raise ConnectionClosed(f"writing to the plugin failed: {e}{note}") from None

    async def exit_note(self) -> str:
        """``"; the plugin process exited with status N (...)"`` if it has, else "".

        Waits a little for the exit: a crashing plugin's connection closes just before its
        process can be reaped, and "it crashed" is what the plugin author needs to read.
        """
        if self._flooded is not None:
            return f"; {self._flooded}"
        if self.process is None:
            return ""
        code = await self.process.wait_exit(self.timeouts.poll * 50)
        return "" if code is None else f"; the plugin process exited with {describe_status(code)}"

    async def _request(
        self, command: Command, want: type, timeout: float | None, default: float
    ) -> Any:
        """Send ``command``; its reply if of type ``want`` within ``timeout`` s (None:
        ``default``; 0: do not wait at all), else raise what went wrong."""
        timeout = default if timeout is None else timeout
        fut = await self.send(command)
        if not await settled(fut, timeout):
            raise ReplyTimeout(f"no reply to {command.TYPE} within {timeout:.1f} s")
        frame = fut.result().frame
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
        return await self._request(cmd, HelloReply, timeout, self.timeouts.reply)

    async def schema(self, timeout: float | None = None) -> SchemaReply:
        """Send ``Schema``; return the reply."""
        return await self._request(SchemaCommand(), SchemaReply, timeout, self.timeouts.reply)

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
        directory = dir or os.getcwd()
        sent, _ = await self._send(
            ExecuteCommand(params, tuple(args), directory, dict(envs or {}), dict(vars or {}), dry)
        )
        return self._waiters.runs[sent.execution.index]  # type: ignore[union-attr]

    async def run(self, params: str, timeout: float | None = None, **kw: Any) -> RunResult:
        """Execute and wait for the result (raises if refused or not finished in time)."""
        run = await self.execute(params, **kw)
        await run.started()
        return await run.result(timeout)

    async def shutdown(self, timeout: float | None = None) -> ShutdownReply:
        """Send ``Shutdown``; return the acknowledgement (5 s, as Octa waits)."""
        reply_bound = self.timeouts.shutdown_reply
        return await self._request(ShutdownCommand(), ShutdownReply, timeout, reply_bound)

    # --- receiving ----------------------------------------------------------------

    async def next_frame(self, timeout: float | None = None) -> Event:
        """The next event not yet taken by ``next_frame`` (frame, violation or close)."""
        return await self.wait_for(lambda ev: True, timeout, consume=True)

    def mark(self) -> int:
        """A position in the event stream, for ``wait_for(..., since=mark)``."""
        return self._events.mark()

    def events_since(self, mark: int) -> list[Event]:
        """The events at or after ``mark`` that are still in the backlog (the last
        ``EVENT_BACKLOG``: a flood pushes older ones out). For evidence of violations use
        ``violations``/``violation_log``, which lose none without saying so."""
        return self._events.since(mark)

    async def wait_for(
        self,
        predicate: Callable[[Event], bool],
        timeout: float | None = None,
        *,
        since: int | None = None,
        consume: bool = False,
        what: str = "a matching frame",
    ) -> Event:
        """Wait for the first event at or after ``since`` (default: the first not taken by
        ``next_frame``) that satisfies ``predicate``; ``consume``: take it and what came
        before. Raises :class:`ConnectionClosed` once the plugin closed the connection,
        :class:`ReplyTimeout` after ``timeout`` s (default ``timeouts.reply``)."""
        timeout = self.timeouts.reply if timeout is None else timeout
        return await self._events.wait_for(
            predicate, timeout, since=since, consume=consume, what=what
        )

    async def wait_plugin_close(self, timeout: float | None = None) -> bool:
        """Wait until the plugin closes the connection; False on timeout."""
        timeout = self.timeouts.reply if timeout is None else timeout
        return await settled(self._closed, timeout)

    def _on_data(self, data: bytes) -> None:
        if self._stopped or self._closed.done():
            return
        for ev in self.session.receive_data(data):
            self._dispatch(ev)
        self._events.notify()

    def _on_flood(self, flood: Flood) -> None:
        """The plugin floods the connection (connection.py): say so; if reading stopped,
        end the plugin rather than let it write on (the waits end as the connection does)."""
        self.transcript.note(flood.note)
        if flood.ended:
            self._flooded = flood.note
            if self.process is not None:
                self.process.send_signal(signal.SIGKILL)

    def _on_eof(self) -> None:
        if self._closed.done():
            return
        if not self._stopped:
            for ev in self.session.receive_eof():
                self._dispatch(ev)
        self._finish()

    def _dispatch(self, ev: Event) -> None:
        """Route a session event to the waiters, the event stream and the transcript."""
        if isinstance(ev, ReplyFailed):
            self._waiters.failed(ev)
            return
        if isinstance(ev, CommandLost):  # Octa would wait forever: the host does not wait
            self._waiters.lost(ev.execution)
            self.transcript.note(
                f"Execute #{ev.execution.index + 1} (id {ev.execution.id!r}) would never"
                " finish for Octa: its terminal frame could not be decoded"
            )
            return
        self._events.append(ev)
        if isinstance(ev, Received):
            self.transcript.received(ev.raw, ev.frame)
            self._waiters.received(ev)
        elif isinstance(ev, Violation):
            if ev.frame is None:
                self.transcript.received(ev.data)
            self.transcript.violation(ev)
        elif isinstance(ev, Closed):
            self.transcript.note("the plugin closed the connection")

    def _finish(self) -> None:
        """The connection ended (either side, or reading stopped): nothing more comes."""
        if not self._closed.done():
            self._closed.set_result(None)
        for ev in self.session.close():  # the commands still waiting (none after EOF)
            self._waiters.failed(ev)
        self._waiters.closed()
        self._events.end()

    # --- closing ------------------------------------------------------------------

    async def close(self) -> None:
        """Close the host's side (the plugin sees EOF) and stop reading. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.transcript.note("the host closed the connection")
        await self._connection.close(self.timeouts.poll * 20)
        self._finish()

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
