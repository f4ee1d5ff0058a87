"""Mutants of the launch area: how a plugin can fail to come up the way Octa starts it."""

from __future__ import annotations

import sys
from typing import Any

from mutant_base import ShellPlugin, mutant


@mutant(
    kills="launch.listens",
    also={"launch.socket-path-honoured", "launch.quiet-before-hello", "launch.unknown-flag"},
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
    """Writes its Hello reply as soon as a connection opens, before the host's Hello."""

    async def handle_connection(self, reader: Any, writer: Any) -> None:
        hello = {"version": self.requirement, "features": list(self.features)}
        writer.write(self.encode({"type": "Hello", "payload": hello}))
        await super().handle_connection(reader, writer)


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
