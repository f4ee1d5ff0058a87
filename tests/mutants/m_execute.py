"""Mutants for the ``execute`` and ``concurrency`` areas: one defect each."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from typing import Any

from mutant_base import ShellPlugin, example, mutant

Command = example.Command
READY = example.READY

# --- execute ----------------------------------------------------------------------------


@mutant(
    kills="execute.started-first",
    also={
        "concurrency.output-attributed",
        "handshake.repeated-hello-refused",
        "robustness.fuzz-execute",
    },
)
class ExecuteOutputBeforeStarted(ShellPlugin):
    """Announces each accepted command on stderr (with its id) before writing Started."""

    async def send(self, session: Any, type_: str, payload: dict[str, Any] | None = None) -> None:
        if type_ == "Started" and payload is not None:
            await super().send(session, "Stderr", {"id": payload["id"], "line": "accepted\n"})
        await super().send(session, type_, payload)


@mutant(
    kills="execute.one-terminal-frame",
    also={
        "concurrency.output-attributed",
        "execute.nothing-after-terminal",
        "robustness.fuzz-execute",
    },
)
class ExecuteDoubleExitStatus(ShellPlugin):
    """Writes every ExitStatus twice (once by the waiter, once by the clean-up path)."""

    async def finish(self, session: Any, cmd: Any, type_: str, **fields: Any) -> None:
        first = not cmd.finished
        await super().finish(session, cmd, type_, **fields)
        if first and type_ == "ExitStatus":
            await self.send(session, "ExitStatus", {"id": cmd.id, **fields})


@mutant(
    kills="execute.nothing-after-terminal",
    also={
        "concurrency.output-attributed",
        "robustness.fuzz-execute",
    },
)
class ExecuteStderrAfterExit(ShellPlugin):
    """Writes a '[done]' Stderr line for the command after its terminal frame."""

    async def finish(self, session: Any, cmd: Any, type_: str, **fields: Any) -> None:
        first = not cmd.finished
        await super().finish(session, cmd, type_, **fields)
        if first:
            await self.send(session, "Stderr", {"id": cmd.id, "line": "[done]\n"})


@mutant(
    kills="execute.stdout-delivered",
    also={
        "cancellation.abandoned-command",
        "concurrency.output-attributed",
        "concurrency.started-in-order",
        "execute.dir-honoured",
        "execute.envs-honoured",
        "execute.large-frame",
        "execute.output-order",
        "execute.unicode-roundtrip",
        "handshake.repeated-hello-refused",
        "robustness.fuzz-execute",
        "robustness.fuzz-lines",
        "robustness.malformed-json",
        "robustness.missing-fields",
        "robustness.unknown-command",
        "shutdown.after-work",
        "version.compatible-host-accepted",
    },
)
class ExecuteStdoutAsStderr(ShellPlugin):
    """Forwards the command's stdout as Stderr frames (every stdout-based check fails)."""

    async def pump_output(self, session: Any, cmd: Any, stream: Any, kind: str) -> None:
        await super().pump_output(session, cmd, stream, "Stderr")


@mutant(kills="execute.stderr-delivered")
class ExecuteDropsStderr(ShellPlugin):
    """Reads the command's stderr and throws it away."""

    async def pump_output(self, session: Any, cmd: Any, stream: Any, kind: str) -> None:
        if kind == "Stderr":
            while await stream.read(self.read_chunk):
                pass
            return
        await super().pump_output(session, cmd, stream, kind)


@mutant(kills="execute.exit-code")
class ExecuteExitCodeCollapsed(ShellPlugin):
    """Reports every non-zero exit status as 1."""

    @staticmethod
    def exit_code(returncode: int | None) -> int:
        code = ShellPlugin.exit_code(returncode)
        return 1 if code > 0 else code


@mutant(kills="execute.output-order")
class ExecuteDropsLinesAfter1000(ShellPlugin):
    """A bounded output buffer: stdout lines after the 1,000th of a command are lost."""

    async def send(self, session: Any, type_: str, payload: dict[str, Any] | None = None) -> None:
        if type_ == "Stdout" and payload is not None:
            counts = session.__dict__.setdefault("stdout_counts", {})
            counts[payload["id"]] = counts.get(payload["id"], 0) + 1
            if counts[payload["id"]] > 1000:
                return
        await super().send(session, type_, payload)


@mutant(kills="execute.unicode-roundtrip")
class ExecuteLatin1Output(ShellPlugin):
    """Decodes command output as Latin-1 instead of UTF-8 (mojibake for non-ASCII)."""

    async def send(self, session: Any, type_: str, payload: dict[str, Any] | None = None) -> None:
        if type_ in ("Stdout", "Stderr") and payload is not None:
            line = payload["line"].encode("utf-8", "replace").decode("latin-1")
            payload = {**payload, "line": line}
        await super().send(session, type_, payload)


@mutant(kills="execute.large-frame")
class ExecuteLineLimit128K(ShellPlugin):
    """Reads host lines of at most 128 KiB: a longer Execute frame is refused as a
    parse_error (Octa sets no limit)."""

    max_line_bytes = 128 * 1024


@mutant(kills="execute.large-frame")
class ExecuteTruncatesLongLines(ShellPlugin):
    """Cuts output lines after 64 KiB (a fixed-size line buffer): the rest is lost."""

    limit = 64 * 1024

    async def send(self, session: Any, type_: str, payload: dict[str, Any] | None = None) -> None:
        if type_ in ("Stdout", "Stderr") and payload is not None:
            line = payload["line"]
            if len(line) > self.limit:
                payload = {**payload, "line": line[: self.limit] + "\n"}
        await super().send(session, type_, payload)


@mutant(kills="execute.dry-run")
class ExecuteIgnoresDry(ShellPlugin):
    """Runs the command even when ``dry`` is true."""

    async def run_command(self, session: Any, cmd: Any) -> None:
        cmd.dry = False
        await super().run_command(session, cmd)


@mutant(kills="execute.dir-honoured")
class ExecuteIgnoresDir(ShellPlugin):
    """Runs every command in the plugin's own working directory."""

    async def run_command(self, session: Any, cmd: Any) -> None:
        cmd.dir = os.getcwd()
        await super().run_command(session, cmd)


@mutant(kills="execute.envs-honoured")
class ExecuteIgnoresEnvs(ShellPlugin):
    """Gives commands only the plugin's own environment, ignoring ``envs``."""

    def build_env(self, cmd: Any) -> dict[str, str]:
        return dict(os.environ)


@mutant(
    kills="execute.frames-well-formed",
    also={
        "handshake.repeated-hello-refused",
        "robustness.fuzz-execute",
    },
)
class ExecuteProgressFrames(ShellPlugin):
    """Writes a made-up ``Progress`` frame before the terminal frame of each command that
    ends on its own (an unknown type; cancelled commands are left alone, so that the defect
    does not race with Shutdown)."""

    async def finish(self, session: Any, cmd: Any, type_: str, **fields: Any) -> None:
        if not cmd.finished and not cmd.cancel_requested.is_set():
            await self.send(session, "Progress", {"id": cmd.id, "percent": 100})
        await super().finish(session, cmd, type_, **fields)


# --- concurrency --------------------------------------------------------------------------


@mutant(kills="concurrency.distinct-ids", also={"concurrency.ids-unique-session"})
class ConcurrencyIdFromCommand(ShellPlugin):
    """Derives the id from the command text, so the same command twice shares an id."""

    async def on_execute(self, session: Any, payload: dict[str, Any]) -> None:
        self._text = f"{payload.get('params')}\0{payload.get('dir')}"
        await super().on_execute(session, payload)

    def make_id(self) -> str:
        return hashlib.sha1(self._text.encode("utf-8", "replace")).hexdigest()[:16]


@mutant(kills={"concurrency.distinct-ids", "concurrency.ids-unique-session"})
class ConcurrencyConstantId(ShellPlugin):
    """Names every command ``test-execution-id`` (as the Octa repo's own test plugin does),
    under a schema key with no built-in probes: the id checks must catch it with no probe
    configured."""

    key = "key"

    def make_id(self) -> str:
        return "test-execution-id"


@mutant(kills="concurrency.started-in-order", also={"concurrency.output-attributed"})
class ConcurrencyStartedSwapped(ShellPlugin):
    """An Execute arriving while other commands run has its Started held back and written
    after the next Execute's Started (or 50 ms later): Started frames come out of order."""

    hold_for = 0.05

    async def on_execute(self, session: Any, payload: dict[str, Any]) -> None:
        if session.stage != READY:
            await super().on_execute(session, payload)
            return
        cmd = Command(id=self.make_id(), **payload)
        session.commands[cmd.id] = cmd
        held = session.__dict__.get("held")
        if held is None and len(session.commands) > 1:
            session.held = cmd
            loop = asyncio.get_running_loop()
            loop.call_later(
                self.hold_for, lambda: asyncio.ensure_future(self._release(session, cmd))
            )
            return
        await self._start(session, cmd)
        if held is not None:
            await self._release(session, held)

    async def _start(self, session: Any, cmd: Any) -> None:
        await self.send(session, "Started", {"id": cmd.id})
        cmd.task = asyncio.create_task(self.run_command(session, cmd))

    async def _release(self, session: Any, cmd: Any) -> None:
        if session.__dict__.get("held") is cmd:
            session.held = None
            await self._start(session, cmd)


@mutant(kills="concurrency.output-attributed")
class ConcurrencyOutputCrossed(ShellPlugin):
    """Stdout lines after the 100th of a command carry the id of the command accepted just
    before it (a shared line buffer keyed by the wrong command)."""

    def make_id(self) -> str:
        ident = super().make_id()
        self.__dict__.setdefault("accepted", []).append(ident)  # one session per process here
        return ident

    async def send(self, session: Any, type_: str, payload: dict[str, Any] | None = None) -> None:
        if type_ == "Stdout" and payload is not None:
            counts = session.__dict__.setdefault("stdout_counts", {})
            ident = payload["id"]
            counts[ident] = counts.get(ident, 0) + 1
            order = self.__dict__.get("accepted", [])
            k = order.index(ident) if ident in order else 0
            if counts[ident] > 100 and k > 0:
                payload = {**payload, "id": order[k - 1]}
        await super().send(session, type_, payload)


@mutant(
    kills="concurrency.not-serialised",
    also={"cancellation.abandoned-command"},
)
class ConcurrencySerialised(ShellPlugin):
    """Runs one command at a time: the others queue behind it."""

    async def run_command(self, session: Any, cmd: Any) -> None:
        lock = self.__dict__.setdefault("one_at_a_time", asyncio.Lock())
        async with lock:
            await super().run_command(session, cmd)


@mutant(kills="concurrency.ids-unique-session")
class ConcurrencyIdsWrapAround(ShellPlugin):
    """Takes ids from a ring of 100 UUIDs: the 101st command of a session reuses the 1st id."""

    ring_size = 100

    def make_id(self) -> str:
        ring = self.__dict__.setdefault("ring", [str(uuid.uuid4()) for _ in range(self.ring_size)])
        n = self.__dict__.get("issued", 0)
        self.issued = n + 1
        return ring[n % self.ring_size]
