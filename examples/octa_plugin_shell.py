#!/usr/bin/env python3
"""A fully conforming Octa 0.2.1 ``shell`` plugin, in standard-library Python.

This is the known-good peer of ``octa_conformance``: every check in the catalogue passes
against it. It is also a worked example of what a good plugin does, and the base class that
the deliberately broken "mutant" plugins of the test suite subclass, so every behaviour
lives in a small method that can be overridden.

Protocol summary (see ``docs/protocol.md`` in the conformance project):

* Octa starts ``octa_plugin_shell.py --socket-path PATH``; the plugin is the socket *server*.
* Every message is one JSON object on one ``\\n``-terminated UTF-8 line, adjacently tagged:
  ``{"type": NAME, "payload": {...}}``.
* Per connection: ``Hello`` -> ``Hello``, ``Schema`` -> ``Schema{key}``, then any number of
  ``Execute`` (each answered by ``Started{id}``, output frames, one terminal frame), and
  finally ``Shutdown`` -> ``Shutdown{message}``, after which the process exits.

Run ``octa_plugin_shell.py --help`` for the command line. Requires Python >= 3.10.
"""

# No ``from __future__ import annotations``: with string annotations, ``dataclasses`` looks the
# module up in ``sys.modules``, which fails when this file is loaded by path (as mutants are).

import argparse
import asyncio
import codecs
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("octa_plugin_shell")

# Stages of one connection's state machine.
EXPECT_HELLO = "expect-hello"
EXPECT_SCHEMA = "expect-schema"
READY = "ready"

# Special ids of session-level Error frames, as used by the Octa SDK.
PROTOCOL_ERROR = "protocol_error"
PARSE_ERROR = "parse_error"


class BadLine(ValueError):
    """An input line that is not a well-formed host command."""


@dataclass(eq=False)
class Command:
    """One accepted ``Execute``: its id, its request and its running state."""

    id: str
    params: str
    dir: str
    envs: dict[str, str]
    args: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    dry: bool = False
    proc: asyncio.subprocess.Process | None = None
    task: asyncio.Task[None] | None = None
    script_path: str | None = None  # temp file holding a script too long for ``sh -c``
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)
    finished: bool = False


@dataclass(eq=False)
class Session:
    """One host connection, with its own handshake state and running commands."""

    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    stage: str = EXPECT_HELLO
    commands: dict[str, Command] = field(default_factory=dict)
    leftover_groups: set[int] = field(default_factory=set)
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False


class ShellPlugin:
    """The ``shell`` plugin: runs ``Execute.params`` with ``/bin/sh -c``.

    Override the class attributes or the hook methods to change one behaviour at a time.
    """

    name = "shell"  # plugin name: the log file is <log-dir>/<name>.log
    key = "shell"  # the task attribute this plugin serves (Schema reply)
    requirement = ">=0.2.1, <0.3.0"  # Cargo semver requirement on Octa's version
    features: list[str] = []  # reserved by the protocol; Octa 0.2.1 sends and expects none
    shutdown_message = "Plugin shutting down"

    max_line_bytes = 64 * 1024 * 1024  # longest host line accepted; longer ones are refused
    read_chunk = 64 * 1024  # bytes read at a time from the socket and from command pipes
    max_output_line = 1024 * 1024  # longer output lines are sent in pieces of this many chars
    kill_grace = 0.1  # seconds between SIGTERM and SIGKILL when cancelling a command
    shell = "/bin/sh"
    max_inline_script = 64 * 1024  # bytes; Linux refuses exec arguments over 128 KiB

    def __init__(self) -> None:
        self.sessions: set[Session] = set()
        self.server: asyncio.AbstractServer | None = None
        self.socket_path: str | None = None
        self._numbers = itertools.count(1)
        self._stop_requested: asyncio.Event | None = None

    # ------------------------------------------------------------------ serving

    async def serve(self, socket_path: str) -> int:
        """Listen on ``socket_path`` until Shutdown or SIGINT/SIGTERM; return the exit status."""
        self._stop_requested = asyncio.Event()
        self.socket_path = socket_path
        self.server = await asyncio.start_unix_server(self.handle_connection, path=socket_path)
        log.info("listening on %s (pid %d)", socket_path, os.getpid())
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_stop)
        try:
            await self._stop_requested.wait()
        finally:
            await self.close()
        return 0

    def request_stop(self) -> None:
        """Ask :meth:`serve` to cancel everything and return (Shutdown, SIGINT, SIGTERM)."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def close(self) -> None:
        """Stop listening, remove the socket file, cancel and close every session."""
        if self.server is not None:
            self.server.close()
        self.remove_socket()
        await asyncio.gather(
            *(self.end_session(s) for s in list(self.sessions)), return_exceptions=True
        )
        log.info("stopped")

    def remove_socket(self) -> None:
        """Delete the socket file (Octa would otherwise leave it behind)."""
        if self.socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)

    async def handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Run one session: read lines until EOF or Shutdown."""
        session = Session(number=next(self._numbers), reader=reader, writer=writer)
        self.sessions.add(session)
        log.info("session %d: connected", session.number)
        try:
            await self.read_loop(session)
            if not session.closed:
                await self.on_eof(session)
        except Exception:
            log.exception("session %d: crashed", session.number)
            await self.end_session(session)
        finally:
            self.sessions.discard(session)
            self.kill_now(session)  # safety net if the task was cancelled mid-way

    async def read_loop(self, session: Session) -> None:
        """Split the byte stream into lines (bounded by ``max_line_bytes``) and handle each."""
        buf = bytearray()
        scanned = 0  # bytes of buf already known to contain no newline
        discarding = False  # inside an over-long line: drop bytes up to the next newline
        while not session.closed:
            try:
                chunk = await session.reader.read(self.read_chunk)
            except ConnectionError:
                chunk = b""
            if not chunk:
                return
            buf += chunk
            start = 0
            while not session.closed:
                newline = buf.find(b"\n", scanned)
                if newline < 0:
                    break
                line = bytes(buf[start:newline])
                start = scanned = newline + 1
                if discarding:  # the tail of an over-long line: resynchronised now
                    discarding = False
                elif len(line) > self.max_line_bytes:
                    await self.on_bad_line(session, self.too_long_reason())
                else:
                    await self.handle_line(session, line)
            del buf[:start]
            scanned = len(buf)
            if len(buf) > self.max_line_bytes:
                buf.clear()
                scanned = 0
                if not discarding:
                    discarding = True
                    await self.on_bad_line(session, self.too_long_reason())

    def too_long_reason(self) -> str:
        """The parse_error reason for a line over ``max_line_bytes``."""
        return f"line longer than {self.max_line_bytes} bytes"

    async def handle_line(self, session: Session, line: bytes) -> None:
        """Parse one line and dispatch it; never lets an error escape."""
        try:
            kind, payload = self.parse_command(line)
        except BadLine as exc:
            await self.on_bad_line(session, str(exc))
            return
        try:
            await self.dispatch(session, kind, payload)
        except Exception as exc:
            log.exception("session %d: handler for %s failed", session.number, kind)
            await self.on_protocol_error(session, f"Internal plugin error: {exc}")

    # ------------------------------------------------------------------ parsing

    def parse_command(self, line: bytes) -> tuple[str, dict[str, Any]]:
        """Decode one host line into ``(type, payload)``; raise :class:`BadLine` if malformed."""
        try:
            obj = json.loads(line.strip().decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # bad UTF-8, bad JSON, too deep, too big
            raise BadLine(str(exc)) from None
        if not isinstance(obj, dict):
            raise BadLine("expected a JSON object")
        kind = obj.get("type")
        if not isinstance(kind, str):
            raise BadLine("missing field `type` (a string)")
        payload = obj.get("payload")
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise BadLine("`payload` must be an object")
        if kind == "Hello":
            self.require(payload, "version", str, "a string")
            self.require(payload, "features", list, "an array")
        elif kind == "Execute":
            payload = self.parse_execute(payload)
        return kind, payload

    def parse_execute(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Check an Execute payload (dialect 0.2.1, or 0.2.0's ``command``); fill defaults."""
        name = "params" if "params" in payload or "command" not in payload else "command"
        params = self.require(payload, name, str, "a string")
        cwd = self.require(payload, "dir", str, "a string")
        envs = self.require(payload, "envs", dict, "an object")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in envs.items()):
            raise BadLine("invalid type: `envs` must map strings to strings")
        args = payload.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise BadLine("invalid type: `args` must be an array of strings")
        variables = payload.get("vars", {})
        if not isinstance(variables, dict):
            raise BadLine("invalid type: `vars` must be an object")
        dry = payload.get("dry", False)
        if not isinstance(dry, bool):
            raise BadLine("invalid type: `dry` must be a boolean")
        return {
            "params": params,
            "dir": cwd,
            "envs": envs,
            "args": args,
            "vars": variables,
            "dry": dry,
        }

    @staticmethod
    def require(payload: dict[str, Any], name: str, typ: type, what: str) -> Any:
        """Return ``payload[name]`` if present and of type ``typ``, else raise BadLine."""
        if name not in payload:
            raise BadLine(f"missing field `{name}`")
        value = payload[name]
        if not isinstance(value, typ):
            raise BadLine(f"invalid type: `{name}` must be {what}")
        return value

    # ------------------------------------------------------------------ writing

    def make_id(self) -> str:
        """A fresh command id, unique within the session (the SDK uses a UUID v4)."""
        return str(uuid.uuid4())

    def encode(self, frame: dict[str, Any]) -> bytes:
        """One frame as one compact UTF-8 JSON line, newline-terminated."""
        text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", "replace") + b"\n"  # "replace": lone surrogates -> "?"

    async def send(
        self, session: Session, type_: str, payload: dict[str, Any] | None = None
    ) -> None:
        """Send one adjacently tagged response frame."""
        frame: dict[str, Any] = {"type": type_}
        if payload is not None:
            frame["payload"] = payload
        await self.write(session, self.encode(frame))

    async def write(self, session: Session, data: bytes) -> None:
        """The single writer: whole lines, one at a time, so concurrent frames never mix."""
        async with session.write_lock:
            if session.closed or session.writer.is_closing():
                return
            try:
                session.writer.write(data)
                await session.writer.drain()
            except (ConnectionError, OSError) as exc:
                log.info("session %d: write failed: %s", session.number, exc)

    # ------------------------------------------------------------------ handlers

    async def dispatch(self, session: Session, kind: str, payload: dict[str, Any]) -> None:
        """Route a parsed command to its handler."""
        handlers = {
            "Hello": self.on_hello,
            "Schema": self.on_schema,
            "Execute": self.on_execute,
            "Shutdown": self.on_shutdown,
        }
        handler = handlers.get(kind)
        if handler is None:
            await self.on_protocol_error(session, f"Unknown command type `{kind}`")
        else:
            await handler(session, payload)

    async def on_hello(self, session: Session, payload: dict[str, Any]) -> None:
        """Answer the handshake with our version requirement (Octa decides compatibility)."""
        if session.stage != EXPECT_HELLO:
            await self.on_protocol_error(session, "Unexpected Hello command")
            return
        log.info("session %d: host version %r", session.number, payload.get("version"))
        await self.send(session, "Hello", {"version": self.requirement, "features": self.features})
        session.stage = EXPECT_SCHEMA

    async def on_schema(self, session: Session, payload: dict[str, Any]) -> None:
        """Name the task attribute this plugin serves."""
        if session.stage != EXPECT_SCHEMA:
            expected = "Hello" if session.stage == EXPECT_HELLO else "Execute or Shutdown"
            await self.on_protocol_error(session, f"Expected {expected} command")
            return
        await self.send(session, "Schema", {"key": self.key})
        session.stage = READY

    async def on_execute(self, session: Session, payload: dict[str, Any]) -> None:
        """Accept a command: ``Started`` now (in arrival order), the run in its own task."""
        if session.stage != READY:
            expected = "Hello" if session.stage == EXPECT_HELLO else "Schema"
            await self.on_protocol_error(session, f"Expected {expected} command")
            return
        cmd = Command(id=self.make_id(), **payload)
        session.commands[cmd.id] = cmd
        log.info("session %d: %s started: %r", session.number, cmd.id, cmd.params[:200])
        await self.send(session, "Started", {"id": cmd.id})
        cmd.task = asyncio.create_task(self.run_command(session, cmd))

    async def on_shutdown(self, session: Session, payload: dict[str, Any]) -> None:
        """Cancel running commands, acknowledge, close, and stop the whole plugin."""
        await self.cancel_all(session)
        await self.send(session, "Shutdown", {"message": self.shutdown_message})
        await self.end_session(session)
        self.request_stop()

    async def on_eof(self, session: Session) -> None:
        """The host hung up: cancel its commands (no orphans) and keep listening."""
        log.info("session %d: EOF with %d running", session.number, len(session.commands))
        await self.end_session(session)

    async def on_bad_line(self, session: Session, reason: str) -> None:
        """Refuse a line that is not a well-formed command; the session goes on."""
        log.info("session %d: bad line: %s", session.number, reason)
        await self.send(
            session, "Error", {"id": PARSE_ERROR, "message": f"Invalid command format: {reason}"}
        )

    async def on_protocol_error(self, session: Session, message: str) -> None:
        """Refuse a command sent in the wrong stage; the session goes on."""
        log.info("session %d: protocol error: %s", session.number, message)
        await self.send(session, "Error", {"id": PROTOCOL_ERROR, "message": message})

    # ------------------------------------------------------------------ commands

    async def run_command(self, session: Session, cmd: Command) -> None:
        """Run one command and report its output and exactly one terminal frame."""
        try:
            if cmd.dry or cmd.cancel_requested.is_set():
                await self.finish(session, cmd, "ExitStatus", code=0 if cmd.dry else -1)
                return
            try:
                cmd.proc = await self.spawn(cmd)
            except Exception as exc:  # bad dir, NUL bytes, odd env names, fd exhaustion...
                await self.finish(session, cmd, "Error", message=f"Command execution error: {exc}")
                return
            code = await self.wait_command(session, cmd)
            await self.finish(session, cmd, "ExitStatus", code=code)
        except Exception as exc:
            log.exception("session %d: %s failed", session.number, cmd.id)
            await self.finish(session, cmd, "Error", message=f"Command execution error: {exc}")
        finally:
            if cmd.proc is not None and cmd.proc.returncode is None:
                self.signal_group(cmd, signal.SIGKILL)  # crashed or torn down: no orphans
            self.remove_script(cmd)

    async def spawn(self, cmd: Command) -> asyncio.subprocess.Process:
        """Start the shell in ``dir`` as the leader of a new process group."""
        return await asyncio.create_subprocess_exec(
            *self.shell_argv(cmd),
            cwd=cmd.dir,
            env=self.build_env(cmd),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # own process group: cancellation kills grandchildren too
        )

    def shell_argv(self, cmd: Command) -> list[str]:
        """``sh -c PARAMS sh ARGS...``, or ``sh FILE ARGS...`` for a very long script."""
        if len(cmd.params.encode("utf-8", "replace")) <= self.max_inline_script:
            return [self.shell, "-c", cmd.params, "sh", *cmd.args]
        fd, cmd.script_path = tempfile.mkstemp(prefix="octa-shell-", suffix=".sh")
        with os.fdopen(fd, "w", encoding="utf-8") as script:
            script.write(cmd.params)
        return [self.shell, cmd.script_path, *cmd.args]

    def remove_script(self, cmd: Command) -> None:
        """Delete the command's temporary script file, if it has one."""
        if cmd.script_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(cmd.script_path)
            cmd.script_path = None

    def build_env(self, cmd: Command) -> dict[str, str]:
        """The plugin's own environment, overridden by the task's ``envs``."""
        return {**os.environ, **cmd.envs}

    async def wait_command(self, session: Session, cmd: Command) -> int:
        """Stream output until the command ends or is cancelled; return the exit code."""
        proc = cmd.proc
        assert proc is not None and proc.stdout is not None and proc.stderr is not None
        done = asyncio.gather(
            self.pump_output(session, cmd, proc.stdout, "Stdout"),
            self.pump_output(session, cmd, proc.stderr, "Stderr"),
            proc.wait(),
        )
        cancelled = asyncio.ensure_future(cmd.cancel_requested.wait())
        try:
            await asyncio.wait({done, cancelled}, return_when=asyncio.FIRST_COMPLETED)
            if done.done():
                done.result()  # re-raise a failure of the output pumps
                self.note_leftovers(session, cmd)
                return self.exit_code(proc.returncode)
            await self.terminate(cmd)
            # Output ends once the group is dead; a process that left the group may hold the
            # pipes open, so do not wait for it for long.
            await asyncio.wait({done}, timeout=self.kill_grace)
            return -1
        finally:
            cancelled.cancel()
            if not done.done():
                done.cancel()
                await asyncio.wait({done})  # no Stdout/Stderr after the terminal frame
            elif not done.cancelled():
                done.exception()  # retrieved, so asyncio does not warn about it

    @staticmethod
    def exit_code(returncode: int | None) -> int:
        """The code to report: the exit status, or -1 if a signal killed the shell."""
        return -1 if returncode is None or returncode < 0 else returncode

    async def pump_output(
        self, session: Session, cmd: Command, stream: asyncio.StreamReader, kind: str
    ) -> None:
        """Forward one output stream as ``Stdout``/``Stderr`` frames, one line each.

        Lines keep their trailing newline; a last line without one is sent as is. Bytes are
        decoded as UTF-8 with replacement, so any output yields valid frames.
        """
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        while True:
            chunk = await stream.read(self.read_chunk)
            pending += decoder.decode(chunk, final=not chunk)
            start = 0
            while (newline := pending.find("\n", start)) >= 0 or (
                len(pending) - start >= self.max_output_line
            ):
                end = newline + 1 if newline >= 0 else start + self.max_output_line
                await self.send(session, kind, {"id": cmd.id, "line": pending[start:end]})
                start = end
            pending = pending[start:]
            if not chunk:
                if pending:
                    await self.send(session, kind, {"id": cmd.id, "line": pending})
                return

    async def finish(self, session: Session, cmd: Command, type_: str, **fields: Any) -> None:
        """Send the command's terminal frame (``ExitStatus`` or ``Error``), at most once."""
        if cmd.finished:
            return
        cmd.finished = True
        session.commands.pop(cmd.id, None)
        self.remove_script(cmd)
        log.info("session %d: %s %s %s", session.number, cmd.id, type_, fields)
        await self.send(session, type_, {"id": cmd.id, **fields})

    async def cancel_command(self, session: Session, cmd: Command) -> None:
        """Ask a command to stop and wait until its terminal frame has been written."""
        cmd.cancel_requested.set()
        if cmd.task is not None:
            await asyncio.wait({cmd.task})

    async def cancel_all(self, session: Session) -> None:
        """Cancel every running command of the session, concurrently."""
        commands = list(session.commands.values())
        await asyncio.gather(*(self.cancel_command(session, c) for c in commands))

    async def terminate(self, cmd: Command) -> None:
        """SIGTERM the command's process group, wait ``kill_grace``, then SIGKILL the group."""
        assert cmd.proc is not None
        self.signal_group(cmd, signal.SIGTERM)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(cmd.proc.wait(), self.kill_grace)
        self.signal_group(cmd, signal.SIGKILL)  # the shell may be gone, its children not

    def signal_group(self, cmd: Command, signum: int) -> bool:
        """Send ``signum`` to the command's process group; False if it no longer exists."""
        if cmd.proc is None:
            return False
        try:
            os.killpg(cmd.proc.pid, signum)  # the shell leads its own group: pgid == pid
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def note_leftovers(self, session: Session, cmd: Command) -> None:
        """Remember a finished command's group if background processes remain in it.

        They are killed when the session ends: a task runner owns what its tasks start.
        """
        session.leftover_groups = {g for g in session.leftover_groups if self.group_alive(g)}
        if cmd.proc is not None and self.group_alive(cmd.proc.pid):
            session.leftover_groups.add(cmd.proc.pid)

    @staticmethod
    def group_alive(pgid: int) -> bool:
        """Whether the process group still has members."""
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    # ------------------------------------------------------------------ session end

    async def end_session(self, session: Session) -> None:
        """Cancel the session's commands, kill leftover processes, close the connection."""
        if session.closed:
            return
        await self.cancel_all(session)
        session.closed = True
        self.kill_now(session)
        writer = session.writer
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except asyncio.TimeoutError:
            writer.transport.abort()  # the host stopped reading: drop what is buffered
        except (ConnectionError, OSError):
            pass
        log.info("session %d: closed", session.number)

    def kill_now(self, session: Session) -> None:
        """SIGKILL, synchronously, every process group the session still owns."""
        groups = set(session.leftover_groups)
        groups.update(c.proc.pid for c in session.commands.values() if c.proc is not None)
        session.leftover_groups.clear()
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)


# ---------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    """The plugin's command line; unknown flags are tolerated by :func:`main`."""
    parser = argparse.ArgumentParser(description="Octa shell plugin.", allow_abbrev=False)
    parser.add_argument("--socket-path", required=True, help="Unix socket path to listen on")
    parser.add_argument("--log-dir", help="append a log to DIR/<plugin name>.log")
    return parser


def setup_logging(log_dir: str | None, name: str) -> None:
    """Log to ``<log_dir>/<name>.log`` if asked to, else nowhere (Octa pipes our stderr)."""
    log.handlers.clear()
    log.propagate = False
    handler: logging.Handler = logging.NullHandler()
    if log_dir:
        try:
            os.makedirs(log_dir, exist_ok=True)
            handler = logging.FileHandler(os.path.join(log_dir, f"{name}.log"), encoding="utf-8")
        except OSError as exc:
            print(f"octa_plugin_{name}: cannot open log: {exc}", file=sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def main(argv: list[str] | None = None, plugin_cls: type[ShellPlugin] = ShellPlugin) -> int:
    """Parse the command line, serve until shut down, and return the exit status."""
    args, _unknown = build_parser().parse_known_args(argv)
    setup_logging(args.log_dir, plugin_cls.name)
    try:
        return asyncio.run(plugin_cls().serve(args.socket_path))
    except KeyboardInterrupt:  # SIGINT before the signal handlers were installed
        return 0
    except OSError as exc:  # cannot bind: bad directory, path too long, ...
        print(f"octa_plugin_{plugin_cls.name}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
