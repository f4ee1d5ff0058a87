"""Mutants of the launch area: how a plugin can fail to come up the way Octa starts it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from mutant_base import ShellPlugin, every_check_except, mutant


@mutant(
    kills="launch.listens",
    # the plugin cannot be started: every other check is not run and counts as failed
    also=every_check_except(),
)
class LaunchExitsAtStart(ShellPlugin):
    """Exits with status 1 instead of listening (every launch fails at once)."""

    async def serve(self, socket_path: str) -> int:
        print("cannot start: missing configuration", file=sys.stderr)
        return 1


@mutant(kills="launch.socket-path-honoured")
class LaunchSpacesMangled(ShellPlugin):
    """Listens on the given path with spaces replaced by underscores."""

    async def serve(self, socket_path: str) -> int:
        return await super().serve(socket_path.replace(" ", "_"))


@mutant(kills="launch.quiet-before-hello")
class LaunchGreetsFirst(ShellPlugin):
    """Greets with a Hello frame when the host has said nothing for 0.2 s after connecting.

    (A host that speaks at once, as Octa does, never sees the greeting; the greeting is
    held back that long so that the defect shows in launch.quiet-before-hello alone.)
    """

    greet_after = 0.2

    def __init__(self) -> None:
        super().__init__()
        self.spoke: dict[int, asyncio.Event] = {}

    async def handle_line(self, session: Any, line: bytes) -> None:
        self.spoke.setdefault(session.number, asyncio.Event()).set()
        await super().handle_line(session, line)

    async def read_loop(self, session: Any) -> None:
        spoke = self.spoke.setdefault(session.number, asyncio.Event())

        async def greet() -> None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(spoke.wait(), self.greet_after)
                return
            hello = {"version": self.requirement, "features": list(self.features)}
            await self.send(session, "Hello", hello)

        greeter = asyncio.ensure_future(greet())
        try:
            await super().read_loop(session)
        finally:
            greeter.cancel()


@mutant(kills="launch.unknown-flag")
class LaunchRejectsUnknownFlags(ShellPlugin):
    """Exits with a usage error when given a flag it does not know (--log-dir)."""

    @staticmethod
    def check_argv(argv: list[str]) -> int | None:
        unknown = [a for a in argv if a.startswith("--") and a != "--socket-path"]
        if unknown:
            print(f"error: unrecognized arguments: {' '.join(unknown)}", file=sys.stderr)
            return 2
        return None
