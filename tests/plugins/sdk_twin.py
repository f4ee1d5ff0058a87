#!/usr/bin/env python3
"""A twin of the official Octa 0.2.1 SDK's ``octa_plugin_shell``, in standard-library Python.

It reproduces the SDK's *observable* behaviour (``crates/octa-plugin`` + ``octa_plugin_shell``,
0.2.1), quirks included, so that the test suite can pin what ``octa_conformance`` says about a
plugin that the real Octa host works with. It was written from the facts below, not translated
from the SDK's code. Started by the harness as ``python3 sdk_twin.py --socket-path P``.

Facts taken from ``docs/protocol.md`` §4 and §7 (measured on the real binaries):

* dialect 0.2.1 (adjacently tagged); ``Hello`` is answered with the plugin's own version
  ``{"version": "0.2.1", "features": []}`` whatever the host says; ``Schema`` with key ``shell``;
* the Hello stage and the Schema stage advance on a wrong command: it gets a newline-terminated
  ``Error{id:"protocol_error", message:"Expected Hello command"}`` (``"Expected Schema
  command"``); an unparsable line there gets ``Error{id:"parse_error"}``; the stage advances
  anyway, so ``Shutdown`` before the handshake is complete is such a wrong command;
* in the execute stage an unparsable line gets a newline-terminated ``Error{id:"parse_error",
  message:"Invalid command format: ..."}`` and the session goes on; a second ``Hello`` or
  ``Schema`` gets ``Error{id:"protocol_error", message:"Unexpected Hello command"}``
  (``"Unexpected Schema command"``) written WITHOUT the terminating newline;
* ``Execute``: ``Started{id}`` (random UUID v4) written at once, in arrival order; the command
  then runs as its own task: ``sh -c PARAMS`` (so params over Linux's 128 KiB per-argument limit
  get ``Error{id, "Command execution error: Argument list too long (os error 7)"}``), stdout
  lines as ``Stdout{id, line}`` keeping their trailing ``\\n``, stderr lines as ``Stderr``, then
  ``ExitStatus{id, code}``; an error of the command handler becomes ``Error{id, "Command
  execution error: ..."}``; ``dry: true`` gives ``ExitStatus{code:0}`` and runs nothing;
* params are rewritten before running: ``$VAR``/``~`` expansion (from ``envs``, then the
  plugin's environment) and Tera rendering with ``vars`` as context;
* ``Shutdown`` (and SIGINT) cancels every running command: SIGTERM to its process group,
  100 ms, kill, ``ExitStatus{code:-1}``; their terminal frames come before
  ``Shutdown{message:"Plugin shutting down"}``; then the plugin stops listening, removes its
  socket file and exits (status 0) about 100 ms later;
* SIGTERM is not handled: the process dies at once, its commands' process groups live on;
* invalid UTF-8 on the connection in the execute stage ends the read loop: an unsolicited
  ``Shutdown{message}`` is written and the connection closed;
* at EOF the plugin stops reading, waits for running commands to finish WITHOUT cancelling
  them, then tries to write ``Shutdown``;
* the listener keeps accepting further connections, each with its own handshake;
* ``--log-dir DIR`` is accepted (log file ``DIR/<name>.log``).

Facts taken from reading the SDK's source (``OctaHive/octa``: ``crates/octa-plugin/src/lib.rs``,
``logger.rs``, the shell and tpl plugins' ``main.rs`` of the 0.2.x line; the exact 0.2.1 files
were not all available, so the revisions around it were read) and the documentation of the
crates it uses (clap, shellexpand):

* the command line is a clap ``derive(Parser)`` with ``--log-dir`` (optional) and
  ``--socket-path`` (required) and clap's defaults: ``--help``/``--version`` exist and any
  other argument is refused (usage error, exit status 2), so this twin refuses unknown flags;
* the ``Shutdown`` command and SIGINT cancel one token shared by the whole process: every
  connection's read loop stops, every command of every connection is cancelled, each
  connection writes its ``Shutdown`` frame, the accept loop stops; a connection still in the
  Hello or Schema stage does not watch that token, so it delays the exit until its peer speaks
  or closes;
* the cancel path of a command signals SIGTERM to its process group (the command runs in a
  process group of its own), sleeps 100 ms and then kills the shell process itself (SIGKILL to
  that one process, not to the group); output not yet read when the cancellation arrives is
  dropped; the exit status is read only after both output pipes reached EOF; a command killed
  by a signal reports ``-1``;
* output lines that are not valid UTF-8 end the forwarding of that stream (its pipe is closed);
* an I/O error while reading the connection (invalid UTF-8 included) in the Hello or Schema
  stage drops the connection without a frame; EOF there lets the stages pass with nothing
  read, and the execute loop then ends at once (so the ``Shutdown`` frame is still tried);
* the command's environment is the plugin's environment plus ``envs``; its stdin is inherited;
* tpl-style expansion: ``shellexpand`` (3.x, "full", "no errors" semantics): unknown
  variables are left as written; ``$NAME`` (alphanumerics and ``_``), ``${NAME}`` and
  ``${NAME:-default}``; ``~`` only at the very start of the text (not one a variable's value
  starts with); then Tera renders the result (autoescape off);
* log lines are ``[YYYY-mm-dd HH:MM:SS.mmm] message``; without ``--log-dir`` nothing is logged;
* binding a socket path that exists fails (address in use): a message on stderr, exit 1.

What this twin simplifies (documented, harmless for the checks): serde's error texts are
imitated without their ``line/column`` positions; the Tera subset is ``{{ path }}`` (dotted
names, ``[0]``/``["key"]`` indexing, literals) with ``{{-``/``-}}`` trimming and ``{# #}``
comments; any ``{% ... %}`` statement is refused as "Failed to parse template" (real Tera runs
them); an undefined variable fails with "Failed to render template: Context { data: ... }";
environment names Python's ``exec`` refuses (``=`` in the name) fail the command with an
``Error`` where Rust would pass them through.
"""

import asyncio
import contextlib
import datetime
import errno
import json
import os
import re
import signal
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

VERSION = "0.2.1"  # the plugin's own version, sent as its Hello requirement
KEY = "shell"
SHUTDOWN_MESSAGE = "Plugin shutting down"
KILL_DELAY = 0.1  # seconds between SIGTERM to the group and killing the shell
EXIT_DELAY = 0.1  # seconds between the last connection ending and the process exiting
READ_CHUNK = 64 * 1024
SERDE_DEPTH_LIMIT = 128  # serde_json's recursion limit


class ParseError(ValueError):
    """A line that does not decode as a host command (serde would refuse it)."""


class CommandError(Exception):
    """The command handler failed: becomes ``Error{id, "Command execution error: ..."}``."""


# --------------------------------------------------------------------------- logging


class Logger:
    """``[timestamp] message`` lines in ``<log_dir>/<name>.log``; silent without a log dir."""

    def __init__(self, name: str, log_dir: str | None) -> None:
        self.file = None
        if log_dir is not None:
            os.makedirs(log_dir, exist_ok=True)
            self.file = open(os.path.join(log_dir, f"{name}.log"), "a", encoding="utf-8")  # noqa: SIM115

    def log(self, message: str) -> None:
        if self.file is None:
            return
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        with contextlib.suppress(OSError, ValueError):
            self.file.write(f"[{stamp}] {message}\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


# --------------------------------------------------------------------------- decoding


def _check_json(value: Any, depth: int = 0) -> None:
    """Refuse what serde_json refuses but Python's json accepts (lone surrogates, deep nesting)."""
    if depth > SERDE_DEPTH_LIMIT:
        raise ParseError("recursion limit exceeded")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError("lone leading surrogate in hex escape") from None
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_json(name, depth + 1)
            _check_json(item, depth + 1)


def _type_name(value: Any) -> str:
    """serde's words for a JSON value in an ``invalid type`` message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


def _field(payload: dict[str, Any], name: str, check: Any, expected: str) -> Any:
    if name not in payload:
        raise ParseError(f"missing field `{name}`")
    value = payload[name]
    if not check(value):
        raise ParseError(f"invalid type: {_type_name(value)}, expected {expected}")
    return value


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


VARIANTS = ("Hello", "Schema", "Execute", "Shutdown")


def parse_command(text: str) -> tuple[str, dict[str, Any]]:
    """Decode one line as the SDK's adjacently tagged ``OctaCommand`` (dialect 0.2.1)."""

    def no_constant(name: str) -> Any:
        raise ParseError(f"expected value ({name} is not JSON)")

    try:
        obj = json.loads(text, parse_constant=no_constant)
    except RecursionError:
        raise ParseError("recursion limit exceeded") from None
    except json.JSONDecodeError as exc:
        if not text.strip():
            raise ParseError("EOF while parsing a value") from None
        raise ParseError(exc.msg.lower()) from None
    _check_json(obj)
    if not isinstance(obj, dict):
        raise ParseError(
            f"invalid type: {_type_name(obj)}, expected adjacently tagged enum OctaCommand"
        )
    if "type" not in obj:
        raise ParseError("missing field `type`")
    kind = obj["type"]
    if not isinstance(kind, str) or kind not in VARIANTS:
        shown = kind if isinstance(kind, str) else _type_name(kind)
        raise ParseError(
            f"unknown variant `{shown}`, expected one of " + ", ".join(f"`{v}`" for v in VARIANTS)
        )
    payload = obj.get("payload")
    if kind in ("Schema", "Shutdown"):
        if payload is not None:
            raise ParseError(f"invalid type: {_type_name(payload)}, expected unit")
        return kind, {}
    if "payload" not in obj:
        raise ParseError("missing field `payload`")
    if not isinstance(payload, dict):
        raise ParseError(f"invalid type: {_type_name(payload)}, expected struct variant")
    if kind == "Hello":
        _field(payload, "version", lambda v: isinstance(v, str), "a string")
        _field(payload, "features", _is_str_list, "a sequence of strings")
        return kind, payload
    return kind, {
        "params": _field(payload, "params", lambda v: isinstance(v, str), "a string"),
        "args": _field(payload, "args", _is_str_list, "a sequence of strings"),
        "dir": _field(payload, "dir", lambda v: isinstance(v, str), "path string"),
        "envs": _field(payload, "envs", _is_str_map, "a map of strings"),
        "vars": _field(payload, "vars", lambda v: isinstance(v, dict), "a map"),
        "dry": _field(payload, "dry", lambda v: isinstance(v, bool), "a boolean"),
    }


def encode(type_: str, payload: dict[str, Any] | None) -> bytes:
    """One response, adjacently tagged, compact like serde_json (without the newline)."""
    frame: dict[str, Any] = {"type": type_}
    if payload is not None:
        frame["payload"] = payload
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------- params rewriting


def shell_expand(text: str, envs: dict[str, str]) -> str:
    """A leading ``~`` (alone or before ``/``) becomes the home directory; ``$NAME`` and
    ``${NAME}`` (``${NAME:-default}`` too) come from ``envs``, then from the plugin's
    environment; unknown ones stay as written. A ``~`` that a variable's value starts with is
    not expanded."""
    if text == "~" or text.startswith("~/"):
        home = os.path.expanduser("~")
        if home != "~":
            return home + _expand_vars(text[1:], envs)
    return _expand_vars(text, envs)


def _expand_vars(text: str, envs: dict[str, str]) -> str:
    def lookup(name: str) -> str | None:
        return envs[name] if name in envs else os.environ.get(name)

    out: list[str] = []
    i = 0
    while i < len(text):
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        if text.startswith("${", j):
            close = text.find("}", j + 2)
            if close < 0:
                out.append(text[j:])
                break
            name, has_default, default = text[j + 2 : close].partition(":-")
            value = lookup(name)
            if value is None and has_default:
                value = default
            out.append(text[j : close + 1] if value is None else value)
            i = close + 1
            continue
        k = j + 1
        while k < len(text) and (text[k].isalnum() or text[k] == "_"):
            k += 1
        if k == j + 1:
            out.append("$")
            i = j + 1
            continue
        value = lookup(text[j + 1 : k])
        out.append(text[j:k] if value is None else value)
        i = k
    return "".join(out)


_TAG = re.compile(r"\{\{|\{%|\{#")
_PATH = re.compile(
    r"""[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+|\[\s*(?:\d+|"[^"]*"|'[^']*')\s*\])*\Z"""
)
_STEP = re.compile(r"""\.([A-Za-z0-9_]+)|\[\s*(\d+|"[^"]*"|'[^']*')\s*\]""")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?\Z")
_MISSING = object()


def _rust_debug(value: Any) -> str:
    """serde_json ``Value``'s Debug form, as Tera's ``Context`` prints it."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return f"Bool({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"Number({value})"
    if isinstance(value, str):
        return f"String({json.dumps(value, ensure_ascii=False)})"
    if isinstance(value, list):
        return "Array [" + ", ".join(_rust_debug(v) for v in value) + "]"
    items = ", ".join(
        f"{json.dumps(k, ensure_ascii=False)}: {_rust_debug(v)}" for k, v in sorted(value.items())
    )
    return "Object {" + items + "}"


def _render_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_render_value(v) for v in value) + "]"
    return "[object]"


def _lookup(path: str, context: dict[str, Any]) -> Any:
    head = re.match(r"[A-Za-z_][A-Za-z0-9_]*", path)
    assert head is not None
    value: Any = context.get(head.group(0), _MISSING)
    for step in _STEP.finditer(path, head.end()):
        if value is _MISSING:
            break
        name, index = step.group(1), step.group(2)
        key: Any = name if name is not None else index
        if index is not None and index[0] in "\"'":
            key = index[1:-1]
        if isinstance(value, list):
            try:
                value = value[int(key)]
            except (ValueError, IndexError):
                value = _MISSING
        elif isinstance(value, dict):
            value = value.get(str(key), _MISSING)
        else:
            value = _MISSING
    return value


def render_template(text: str, context: dict[str, Any]) -> str:
    """The Tera subset described in the module docstring."""
    pieces: list[str] = []
    pos = 0
    trim_next = False
    while True:
        match = _TAG.search(text, pos)
        literal = text[pos : match.start() if match else len(text)]
        if trim_next:
            literal = literal.lstrip()
        if match is None:
            pieces.append(literal)
            return "".join(pieces)
        opener = match.group(0)
        closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[opener]
        end = text.find(closer, match.end())
        if end < 0 or opener == "{%":
            raise CommandError("Failed to parse template")
        inner = text[match.end() : end]
        trim_next = False
        if opener == "{{":
            if inner.startswith("-"):
                literal = literal.rstrip()
                inner = inner[1:]
            if inner.endswith("-"):
                trim_next = True
                inner = inner[:-1]
        pieces.append(literal)
        pos = end + 2
        if opener == "{#":
            continue
        expr = inner.strip()
        if len(expr) >= 2 and expr[0] == expr[-1] and expr[0] in "\"'`":
            pieces.append(expr[1:-1])
        elif expr in ("true", "false") or _NUMBER.match(expr):
            pieces.append(expr)
        elif _PATH.match(expr):
            value = _lookup(expr, context)
            if value is _MISSING:
                data = ", ".join(
                    f"{json.dumps(k, ensure_ascii=False)}: {_rust_debug(v)}"
                    for k, v in sorted(context.items())
                )
                raise CommandError(f"Failed to render template: Context {{ data: {{{data}}} }}")
            pieces.append(_render_value(value))
        else:
            raise CommandError("Failed to parse template")


# --------------------------------------------------------------------------- the plugin


class LineReader:
    """Lines of a byte stream, any length, each with its ``\\n``; the rest at EOF."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream
        self.buf = bytearray()
        self.eof = False

    async def read_line(self) -> bytes:
        """The next line (``b""`` at EOF)."""
        scanned = 0
        while True:
            newline = self.buf.find(b"\n", scanned)
            if newline >= 0:
                line = bytes(self.buf[: newline + 1])
                del self.buf[: newline + 1]
                return line
            if self.eof:
                line = bytes(self.buf)
                self.buf.clear()
                return line
            scanned = len(self.buf)
            chunk = await self.stream.read(READ_CHUNK)
            if chunk:
                self.buf += chunk
            else:
                self.eof = True

    async def read_text(self) -> str | None:
        """The next line as text (``None`` at EOF); invalid UTF-8 raises UnicodeDecodeError."""
        line = await self.read_line()
        if not line:
            return None
        return line.decode("utf-8")


class Connection:
    """One host connection: its reader, its writer and the commands it started."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.lines = LineReader(reader)
        self.writer = writer
        self.commands: list[asyncio.Task[None]] = []

    async def send(self, type_: str, payload: dict[str, Any] | None, newline: bool = True) -> None:
        """Write one frame (the SDK forgets the newline after two of its errors)."""
        self.writer.write(encode(type_, payload) + (b"\n" if newline else b""))
        await self.writer.drain()


class SdkTwin:
    """The process: one listener, any number of connections, one shared cancel token."""

    def __init__(self, name: str, logger: Logger) -> None:
        self.name = name
        self.logger = logger
        self.cancelled = asyncio.Event()
        self.connections: list[asyncio.Task[None]] = []

    def cancel(self) -> None:
        """The token that ``Shutdown`` and SIGINT cancel."""
        self.logger.log("Shutting down server...")
        self.cancelled.set()

    # ----------------------------------------------------------------- listener

    async def serve(self, socket_path: str) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self.cancel)  # SIGTERM keeps its default
        self.logger.log(f"Plugin {self.name} starting with version: {VERSION}")
        self.logger.log(f"Connect to socket {socket_path}")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(socket_path)
        except OSError as exc:
            listener.close()
            if exc.errno == errno.EADDRINUSE:
                msg = (
                    f"Error: could not start {self.name} plugin because the socket file is "
                    f"occupied.\n      Please check if {socket_path} is in use by another "
                    "process and try again."
                )
                self.logger.log(msg)
                print(msg, file=sys.stderr)
            print(f"Error: {exc.strerror} (os error {exc.errno})", file=sys.stderr)
            return 1
        try:
            listener.listen(128)
            listener.setblocking(False)
            stop = asyncio.ensure_future(self.cancelled.wait())
            while True:
                accept = asyncio.ensure_future(loop.sock_accept(listener))
                await asyncio.wait({accept, stop}, return_when=asyncio.FIRST_COMPLETED)
                if stop.done():
                    accept.cancel()
                    with contextlib.suppress(BaseException):
                        conn, _ = await accept
                        conn.close()
                    self.logger.log("Received shutdown signal")
                    break
                try:
                    conn, _ = accept.result()
                except OSError as exc:
                    self.logger.log(f"There was an error with an incoming connection: {exc}")
                    continue
                self.connections.append(asyncio.create_task(self.handle_conn(conn)))
            self.logger.log("Shutting down plugin...")
            for task in self.connections:
                with contextlib.suppress(Exception):
                    await task
            self.logger.log("Plugin shutdown complete")
            await asyncio.sleep(EXIT_DELAY)
        finally:
            listener.close()
            with contextlib.suppress(OSError):
                os.unlink(socket_path)  # the listener removes its file when dropped
        return 0

    # ----------------------------------------------------------------- one connection

    async def handle_conn(self, sock: socket.socket) -> None:
        reader, writer = await asyncio.open_connection(sock=sock)
        conn = Connection(reader, writer)
        try:
            await self.process_hello(conn)
            await self.process_schema(conn)
            await self.execute_loop(conn)
        except Exception as exc:  # the SDK prints these and drops the connection
            print(f"Error while handling connection: {exc}", file=sys.stderr)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _handshake_stage(self, conn: Connection, wanted: str) -> dict[str, Any] | None:
        """Read one line; answer a wrong one with an Error; the stage advances anyway."""
        text = await conn.lines.read_text()  # invalid UTF-8 raises: the connection is dropped
        if text is None:
            return None
        try:
            kind, payload = parse_command(text)
        except ParseError as exc:
            await conn.send(
                "Error", {"id": "parse_error", "message": f"Invalid command format: {exc}"}
            )
            self.logger.log("Failed to deserialize received command")
            return None
        if kind != wanted:
            await conn.send(
                "Error", {"id": "protocol_error", "message": f"Expected {wanted} command"}
            )
            self.logger.log(f"Waiting for {wanted} command but received {kind}")
            return None
        return payload

    async def process_hello(self, conn: Connection) -> None:
        payload = await self._handshake_stage(conn, "Hello")
        if payload is not None:
            self.logger.log(f"Client connected with version: {payload['version']}")
            await conn.send("Hello", {"version": VERSION, "features": []})

    async def process_schema(self, conn: Connection) -> None:
        if await self._handshake_stage(conn, "Schema") is not None:
            await conn.send("Schema", {"key": KEY})

    async def execute_loop(self, conn: Connection) -> None:
        stop = asyncio.ensure_future(self.cancelled.wait())
        try:
            while True:
                read = asyncio.ensure_future(conn.lines.read_text())
                await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    read.cancel()
                    self.logger.log("Connection received shutdown signal")
                    break
                try:
                    text = read.result()
                except (OSError, UnicodeDecodeError) as exc:
                    self.logger.log(f"Error reading from connection: {exc}")
                    break
                if text is None:
                    break  # EOF
                try:
                    kind, payload = parse_command(text)
                except ParseError as exc:
                    await conn.send(
                        "Error",
                        {"id": "parse_error", "message": f"Invalid command format: {exc}"},
                    )
                    continue
                try:
                    await self.handle_command(conn, kind, payload)
                except OSError as exc:
                    self.logger.log(f"Error handling command: {exc}")
                    break
        finally:
            stop.cancel()
        # Graceful end of the connection: wait for the commands (cancelled only if the token
        # was), then say goodbye even if nobody asked.
        for task in conn.commands:
            with contextlib.suppress(Exception):
                await task
        await conn.send("Shutdown", {"message": SHUTDOWN_MESSAGE})

    async def handle_command(self, conn: Connection, kind: str, payload: dict[str, Any]) -> None:
        if kind == "Execute":
            command_id = str(uuid.uuid4())
            self.logger.log(f"Received execute command {payload['params']!r}")
            await conn.send("Started", {"id": command_id})
            conn.commands.append(asyncio.create_task(self.run_command(conn, command_id, payload)))
        elif kind in ("Hello", "Schema"):
            message = f"Unexpected {kind} command"
            await conn.send("Error", {"id": "protocol_error", "message": message}, newline=False)
            self.logger.log(f"Received unexpected {kind} command")
        else:  # Shutdown
            self.logger.log("Receiving shutdown command")
            self.cancel()

    # ----------------------------------------------------------------- one command

    async def run_command(self, conn: Connection, command_id: str, payload: dict[str, Any]) -> None:
        try:
            await self.execute_command(conn, command_id, payload)
        except CommandError as exc:
            with contextlib.suppress(Exception):
                message = f"Command execution error: {exc}"
                await conn.send("Error", {"id": command_id, "message": message})

    async def execute_command(
        self, conn: Connection, command_id: str, payload: dict[str, Any]
    ) -> None:
        envs: dict[str, str] = payload["envs"]
        script = render_template(shell_expand(payload["params"], envs), payload["vars"])
        if payload["dry"]:
            self.logger.log(f"Run command in dry mode: {script}")
            with contextlib.suppress(Exception):
                await conn.send("ExitStatus", {"id": command_id, "code": 0})
            return
        loop = asyncio.get_running_loop()
        pipes = [os.pipe(), os.pipe()]
        group: dict[str, Any] = (
            {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                "sh",
                "-c",
                script,
                cwd=payload["dir"],
                env={**os.environ, **envs},
                stdout=pipes[0][1],
                stderr=pipes[1][1],
                **group,
            )
        except (OSError, ValueError) as exc:
            for read_end, _ in pipes:
                os.close(read_end)
            if isinstance(exc, OSError):
                message = f"{os.strerror(exc.errno or 0)} (os error {exc.errno})"
            else:  # Python's words for what Rust calls a nul byte in the arguments or env
                message = "nul byte found in provided data" if "null" in str(exc) else str(exc)
            raise CommandError(message) from None
        finally:
            for _, write_end in pipes:
                os.close(write_end)
        forwarders = []
        for (read_end, _), kind in zip(pipes, ("Stdout", "Stderr"), strict=True):
            stream = asyncio.StreamReader(limit=2**31)
            transport, _ = await loop.connect_read_pipe(
                lambda s=stream: asyncio.StreamReaderProtocol(s), os.fdopen(read_end, "rb", 0)
            )
            forwarders.append(
                asyncio.create_task(self.forward(conn, command_id, kind, stream, transport))
            )
        await asyncio.gather(*forwarders)
        waiter = asyncio.ensure_future(proc.wait())
        stop = asyncio.ensure_future(self.cancelled.wait())
        await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if waiter.done():
            code = waiter.result()
            code = code if code >= 0 else -1
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            await asyncio.sleep(KILL_DELAY)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()  # the shell only: the rest of its group is on its own
            await waiter
            code = -1
        with contextlib.suppress(Exception):
            await conn.send("ExitStatus", {"id": command_id, "code": code})

    async def forward(
        self,
        conn: Connection,
        command_id: str,
        kind: str,
        stream: asyncio.StreamReader,
        transport: asyncio.BaseTransport,
    ) -> None:
        """Each line of one output stream as a frame, until EOF, bad UTF-8 or cancellation."""
        lines = LineReader(stream)
        stop = asyncio.ensure_future(self.cancelled.wait())
        try:
            while True:
                read = asyncio.ensure_future(lines.read_text())
                await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    read.cancel()
                    break
                try:
                    line = read.result()
                except (OSError, UnicodeDecodeError):
                    break
                if line is None:
                    break
                with contextlib.suppress(Exception):
                    await conn.send(kind, {"id": command_id, "line": line})
        finally:
            stop.cancel()
            transport.close()


# --------------------------------------------------------------------------- command line

USAGE = "Usage: {prog} [OPTIONS] --socket-path <SOCKET_PATH>"
HELP = """Usage: {prog} [OPTIONS] --socket-path <SOCKET_PATH>

Options:
      --log-dir <LOG_DIR>          Logging directory
      --socket-path <SOCKET_PATH>  Path to the socket
  -h, --help                       Print help
  -V, --version                    Print version
"""
OPTIONS = {"--log-dir": "--log-dir <LOG_DIR>", "--socket-path": "--socket-path <SOCKET_PATH>"}


def usage_error(prog: str, message: str) -> int:
    """clap's usage error: the message, the usage line, exit status 2."""
    print(f"error: {message}\n\n{USAGE.format(prog=prog)}\n\nFor more information, try '--help'.",
          file=sys.stderr)  # fmt: skip
    return 2


def parse_args(prog: str, argv: list[str]) -> dict[str, str] | int:
    """clap's defaults for ``--log-dir`` and ``--socket-path``: the values, or an exit status."""
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(HELP.format(prog=prog), end="")
            return 0
        if arg in ("-V", "--version"):
            print(f"{prog} {VERSION}")
            return 0
        name, eq, value = arg.partition("=")
        if name not in OPTIONS:
            return usage_error(prog, f"unexpected argument '{arg}' found")
        if not eq:
            if i + 1 >= len(argv):
                return usage_error(
                    prog, f"a value is required for '{OPTIONS[name]}' but none was supplied"
                )
            i += 1
            value = argv[i]
        if name in values:
            return usage_error(
                prog, f"the argument '{OPTIONS[name]}' cannot be used multiple times"
            )
        values[name] = value
        i += 1
    if "--socket-path" not in values:
        return usage_error(
            prog,
            "the following required arguments were not provided:\n  --socket-path <SOCKET_PATH>",
        )
    return values


def main(argv: list[str] | None = None) -> int:
    """Parse the command line like clap, serve until shut down, return the exit status."""
    stem = Path(sys.argv[0]).stem
    prog = stem
    name = stem.removeprefix("octa_plugin_")
    parsed = parse_args(prog, sys.argv[1:] if argv is None else argv)
    if isinstance(parsed, int):
        return parsed
    try:
        logger = Logger(name, parsed.get("--log-dir"))
    except OSError as exc:
        print(f"Error: {exc.strerror} (os error {exc.errno})", file=sys.stderr)
        return 1

    async def run() -> int:
        return await SdkTwin(name, logger).serve(parsed["--socket-path"])

    try:
        return asyncio.run(run())
    finally:
        logger.close()


if __name__ == "__main__":
    sys.exit(main())
