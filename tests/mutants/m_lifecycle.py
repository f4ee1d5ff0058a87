"""Mutants for the ``cancellation``, ``shutdown`` and ``robustness`` areas: one defect each.

Each is the conforming example plugin with one mistake a real plugin could make at the end
of a command's or a session's life, or when the host sends something unexpected.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

from mutant_base import ShellPlugin, example, mutant

HOST_COMMANDS = ("Hello", "Schema", "Execute", "Shutdown")
SLOW_EXIT_SECONDS = 2.5  # well past Octa's 1 s exit window, well within the 5 s the checks wait


def _replace_signal_handler(signum: int, handler: Any) -> None:
    """Make ``loop.add_signal_handler(signum, ...)`` install ``handler`` instead
    (``None``: install nothing, so the default action applies)."""
    loop = asyncio.get_running_loop()
    real = loop.add_signal_handler

    def add_signal_handler(sig: int, callback: Any, *args: Any) -> None:
        if sig != signum:
            real(sig, callback, *args)
        elif handler is not None:
            real(sig, handler)

    loop.add_signal_handler = add_signal_handler  # type: ignore[method-assign]


# --- cancellation -----------------------------------------------------------------------


@mutant(kills="cancellation.shutdown-cancels-running")
class LifecycleAckBeforeCancel(ShellPlugin):
    """Acknowledges Shutdown first and cancels the running commands afterwards, so their
    terminal frames follow the acknowledgement."""

    async def on_shutdown(self, session: Any, payload: dict[str, Any]) -> None:
        await self.send(session, "Shutdown", {"message": self.shutdown_message})
        await self.cancel_all(session)
        await self.end_session(session)
        self.request_stop()


@mutant(kills="cancellation.no-orphans", also={"cancellation.eof"})
class LifecycleNoKillOnCancel(ShellPlugin):
    """Reports a cancelled command as ended (-1) without killing its processes."""

    def signal_group(self, cmd: Any, signum: int) -> bool:
        return False


@mutant(kills="cancellation.sigint")
class LifecycleIgnoresSigint(ShellPlugin):
    """Ignores SIGINT (Ctrl-C): running commands go on and the plugin keeps running."""

    async def serve(self, socket_path: str) -> int:
        _replace_signal_handler(signal.SIGINT, lambda: None)
        return await super().serve(socket_path)


@mutant(kills="cancellation.sigterm")
class LifecycleDiesOnSigterm(ShellPlugin):
    """Installs no SIGTERM handler: dies at once, without terminal frames for its commands."""

    async def serve(self, socket_path: str) -> int:
        _replace_signal_handler(signal.SIGTERM, None)
        return await super().serve(socket_path)


@mutant(kills="cancellation.eof")
class LifecycleCrashOnEof(ShellPlugin):
    """Crashes (exit status 70) when the host hangs up while a command is running."""

    async def on_eof(self, session: Any) -> None:
        if session.commands:
            os._exit(70)
        await super().on_eof(session)


@mutant(
    kills="cancellation.abandoned-command",
    also={"concurrency.not-serialised"},
)
class LifecycleSerialised(ShellPlugin):
    """Runs one command at a time: an abandoned long command blocks every later one."""

    async def run_command(self, session: Any, cmd: Any) -> None:
        lock = self.__dict__.setdefault("_one_at_a_time", asyncio.Lock())
        async with lock:
            await super().run_command(session, cmd)


@mutant(kills="cancellation.exit-code")
class LifecycleCancelledExitZero(ShellPlugin):
    """Reports a command killed by cancellation as ExitStatus{code: 0} (a success)."""

    async def wait_command(self, session: Any, cmd: Any) -> int:
        code = await super().wait_command(session, cmd)
        return 0 if cmd.cancel_requested.is_set() else code


# --- shutdown ---------------------------------------------------------------------------


@mutant(
    kills="shutdown.acknowledged",
    also={
        "cancellation.shutdown-cancels-running",
        "shutdown.after-work",
        "shutdown.in-any-stage",
    },
)
class LifecycleNoShutdownReply(ShellPlugin):
    """Cancels, closes the connection and exits on Shutdown, but never acknowledges it."""

    async def on_shutdown(self, session: Any, payload: dict[str, Any]) -> None:
        await self.cancel_all(session)
        await self.end_session(session)
        self.request_stop()


@mutant(kills="shutdown.nothing-after", also={"shutdown.after-work"})
class LifecycleFrameAfterShutdown(ShellPlugin):
    """Writes a 'session closed' Error frame after its Shutdown acknowledgement."""

    async def on_shutdown(self, session: Any, payload: dict[str, Any]) -> None:
        await self.cancel_all(session)
        await self.send(session, "Shutdown", {"message": self.shutdown_message})
        await self.send(session, "Error", {"id": "protocol_error", "message": "session closed"})
        await self.end_session(session)
        self.request_stop()


@mutant(
    kills="shutdown.after-work",
    also={
        "cancellation.exit-code",
        "cancellation.no-orphans",
        "cancellation.shutdown-cancels-running",
    },
)
class LifecycleRefusesShutdownAfterWork(ShellPlugin):
    """Once it has run a command, answers Shutdown with an Error (its bookkeeping of finished
    commands is wrong) and keeps running."""

    async def on_execute(self, session: Any, payload: dict[str, Any]) -> None:
        self.worked = True
        await super().on_execute(session, payload)

    async def on_shutdown(self, session: Any, payload: dict[str, Any]) -> None:
        if getattr(self, "worked", False):
            await self.on_protocol_error(session, "cannot shut down: commands still registered")
            return
        await super().on_shutdown(session, payload)


@mutant(kills="shutdown.process-exits", also={"shutdown.in-any-stage"})
class LifecycleSlowExit(ShellPlugin):
    """Acknowledges Shutdown and closes the session, but exits only 2.5 s later."""

    async def on_shutdown(self, session: Any, payload: dict[str, Any]) -> None:
        await self.cancel_all(session)
        await self.send(session, "Shutdown", {"message": self.shutdown_message})
        await self.end_session(session)
        asyncio.get_running_loop().call_later(SLOW_EXIT_SECONDS, self.request_stop)


@mutant(kills="shutdown.exit-status", also={"cancellation.eof"})
class LifecycleExitStatusOne(ShellPlugin):
    """Exits with status 1 after a clean Shutdown."""

    async def serve(self, socket_path: str) -> int:
        await super().serve(socket_path)
        return 1


@mutant(kills="shutdown.in-any-stage")
class LifecycleRefusesShutdownInHandshake(ShellPlugin):
    """Like the SDK: before the handshake is complete, answers Shutdown with the Error of
    the stage ("Expected Hello command", "Expected Schema command"), moves on to the next
    stage and keeps running (Octa waits its 1 s exit window, then kills it)."""

    async def on_shutdown(self, session: Any, payload: dict[str, Any]) -> None:
        if session.stage == example.READY:
            await super().on_shutdown(session, payload)
            return
        expected = "Hello" if session.stage == example.EXPECT_HELLO else "Schema"
        await self.on_protocol_error(session, f"Expected {expected} command")
        session.stage = example.EXPECT_SCHEMA if expected == "Hello" else example.READY


@mutant(kills="shutdown.socket-removed")
class LifecycleKeepsSocket(ShellPlugin):
    """Never removes its socket file."""

    def remove_socket(self) -> None:
        pass

    async def close(self) -> None:
        self.server = None  # asyncio >= 3.13 would unlink the socket when the server closes
        await super().close()


# --- robustness -------------------------------------------------------------------------


@mutant(kills="robustness.malformed-json")
class RobustIgnoresMalformedJson(ShellPlugin):
    """Silently drops lines that are not JSON instead of answering them with an Error."""

    async def handle_line(self, session: Any, line: bytes) -> None:
        try:
            json.loads(line)
        except ValueError:  # also invalid UTF-8
            return
        await super().handle_line(session, line)


@mutant(kills="robustness.unknown-command")
class RobustIgnoresUnknownCommand(ShellPlugin):
    """Silently ignores commands of a type it does not know."""

    async def dispatch(self, session: Any, kind: str, payload: dict[str, Any]) -> None:
        if kind in HOST_COMMANDS:
            await super().dispatch(session, kind, payload)


@mutant(kills="robustness.missing-fields")
class RobustLenientExecute(ShellPlugin):
    """Runs an Execute that lacks 'dir' or 'envs', guessing its own directory and no envs."""

    def parse_execute(self, payload: dict[str, Any]) -> dict[str, Any]:
        return super().parse_execute({"dir": os.getcwd(), "envs": {}, **payload})


@mutant(kills="robustness.fuzz-execute")
class RobustCrashOnNestedVars(ShellPlugin):
    """Crashes (exit status 70) on an Execute whose ``vars`` hold nested arrays or objects."""

    async def on_execute(self, session: Any, payload: dict[str, Any]) -> None:
        if any(isinstance(v, (dict, list)) for v in payload.get("vars", {}).values()):
            os._exit(70)
        await super().on_execute(session, payload)


@mutant(kills="robustness.fuzz-lines")
class RobustCrashOnInvalidUtf8(ShellPlugin):
    """Crashes (exit status 70) on a line that is not valid UTF-8."""

    async def handle_line(self, session: Any, line: bytes) -> None:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            os._exit(70)
        await super().handle_line(session, line)
