"""Mutants of the handshake (docs/protocol.md §3, §4.1) and of version handling (§5).

Each one is the conforming example plugin with one defect a real plugin could have.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

from mutant_base import ShellPlugin, every_check_except, example, mutant

# The example's requirement is ">=0.2.1, <0.3.0": the mutants below that misbehave with a
# host version "they do not know" use this range (mutants run without octa_conformance).
OWN_RANGE = ((0, 2, 1), (0, 3, 0))


def known_host(version: Any) -> bool:
    """Whether the host version is a release inside the example's own requirement."""
    try:
        triple = tuple(int(p) for p in str(version).split("."))
    except ValueError:
        return False
    return len(triple) == 3 and OWN_RANGE[0] <= triple < OWN_RANGE[1]


def protocol_error_frame(plugin: ShellPlugin, message: str) -> bytes:
    return plugin.encode(
        {"type": "Error", "payload": {"id": example.PROTOCOL_ERROR, "message": message}}
    )


# --- handshake ---------------------------------------------------------------------------


@mutant(
    kills="handshake.hello-reply",
    also=every_check_except(
        "handshake.execute-before-hello-refused",
        "handshake.execute-before-schema-refused",
        "handshake.features-tolerated",
        "handshake.key-usable",
        "handshake.repeated-hello-refused",
        "handshake.requirement-matches-target",
        "handshake.requirement-parses",
        "handshake.schema-reply",
        "launch.listens",
        "launch.quiet-before-hello",
        "launch.socket-path-honoured",
        "shutdown.in-any-stage",
        "version.compatible-host-accepted",
        "version.incompatible-host-rejected",
        "version.no-wildcard",
    ),
)
class HandshakeOldDialect(ShellPlugin):
    """Built on the 0.2.0 SDK: every response is internally tagged (fields beside "type")."""

    async def send(self, session, type_, payload=None):
        await self.write(session, self.encode({"type": type_, **(payload or {})}))


@mutant(
    kills="handshake.hello-reply",
    also=every_check_except(
        "cancellation.abandoned-command",
        "cancellation.eof",
        "cancellation.exit-code",
        "cancellation.no-orphans",
        "cancellation.shutdown-cancels-running",
        "cancellation.sigint",
        "cancellation.sigterm",
        "handshake.execute-before-hello-refused",
        "handshake.execute-before-schema-refused",
        "launch.listens",
        "launch.quiet-before-hello",
        "launch.socket-path-honoured",
        "version.compatible-host-accepted",
        "version.incompatible-host-rejected",
        "version.no-wildcard",
    ),
)
class HandshakeFeaturesNull(ShellPlugin):
    """Answers Hello with "features": null: Octa cannot parse the Hello, nothing loads.

    (No key is learned at start-up either, so the probe checks are skipped.)
    """

    features = None


@mutant(kills="handshake.requirement-parses", also={"handshake.requirement-matches-target"})
class HandshakeUnparsableRequirement(ShellPlugin):
    """Declares the requirement "0.2.1 or newer", which Octa 0.2.1 panics on."""

    requirement = "0.2.1 or newer"


@mutant(kills="handshake.requirement-matches-target")
class HandshakeRequirementExcludesTarget(ShellPlugin):
    """Declares "0.1" (Cargo: ^0.1 = >=0.1.0, <0.2.0), which excludes Octa 0.2.1."""

    requirement = "0.1"


@mutant(kills="handshake.schema-reply", also={"handshake.key-usable"})
class HandshakeEmptyKey(ShellPlugin):
    """Answers Schema with an empty key."""

    key = ""


@mutant(kills="handshake.key-usable")
class HandshakeBuiltinKey(ShellPlugin):
    """Serves the key "env", which is a built-in task attribute: Octa never routes to it."""

    key = "env"


@mutant(kills={"handshake.execute-before-hello-refused", "handshake.execute-before-schema-refused"})
class HandshakeExecutesAnytime(ShellPlugin):
    """Accepts and runs Execute in any stage, before the handshake is complete."""

    async def on_execute(self, session, payload):
        cmd = example.Command(id=self.make_id(), **payload)
        session.commands[cmd.id] = cmd
        await self.send(session, "Started", {"id": cmd.id})
        cmd.task = asyncio.create_task(self.run_command(session, cmd))


@mutant(kills={"handshake.execute-before-hello-refused", "handshake.execute-before-schema-refused"})
class HandshakeRefusesButRuns(ShellPlugin):
    """Answers an Execute in the wrong stage with Error, but only after running it."""

    async def on_execute(self, session, payload):
        if session.stage != example.READY:
            proc = await asyncio.create_subprocess_exec(
                self.shell,
                "-c",
                payload["params"],
                cwd=payload["dir"],
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await proc.wait()
        await super().on_execute(session, payload)


@mutant(kills="handshake.repeated-hello-refused")
class HandshakeRepeatsHandshake(ShellPlugin):
    """Answers every Hello with Hello, also a second one after the handshake."""

    async def on_hello(self, session, payload):
        if session.stage == example.READY:
            await self.send(
                session, "Hello", {"version": self.requirement, "features": self.features}
            )
            return
        await super().on_hello(session, payload)


@mutant(kills="handshake.repeated-hello-refused")
class HandshakeErrorWithoutNewline(ShellPlugin):
    """The SDK bug: the protocol_error for a second Hello is written without its newline."""

    async def on_hello(self, session, payload):
        if session.stage == example.READY:
            frame = protocol_error_frame(self, "Unexpected Hello command")
            await self.write(session, frame.rstrip(b"\n"))
            return
        await super().on_hello(session, payload)


@mutant(kills="handshake.features-tolerated")
class HandshakeStrictHello(ShellPlugin):
    """Refuses a Hello carrying features or fields it does not know."""

    async def on_hello(self, session, payload):
        unknown = sorted(set(payload) - {"version", "features"})
        if session.stage == example.EXPECT_HELLO and (payload.get("features") or unknown):
            await self.on_protocol_error(
                session, f"Unsupported Hello: features {payload.get('features')}, fields {unknown}"
            )
            return
        await super().on_hello(session, payload)


# --- version -----------------------------------------------------------------------------


@mutant(kills="version.incompatible-host-rejected")
class VersionClaimsAnyHost(ShellPlugin):
    """Tells a host it does not know that it requires exactly that host's version."""

    async def on_hello(self, session, payload):
        version = payload.get("version")
        if session.stage == example.EXPECT_HELLO and not known_host(version):
            await self.send(session, "Hello", {"version": f"={version}", "features": []})
            session.stage = example.EXPECT_SCHEMA
            return
        await super().on_hello(session, payload)


@mutant(kills="version.incompatible-host-rejected")
class VersionRefusesUnknownHost(ShellPlugin):
    """Decides compatibility itself: answers Error to a Hello from a host it does not know."""

    async def on_hello(self, session, payload):
        version = payload.get("version")
        if session.stage == example.EXPECT_HELLO and not known_host(version):
            await self.on_protocol_error(session, f"Octa {version} is not supported")
            return
        await super().on_hello(session, payload)


@mutant(kills="version.incompatible-host-rejected")
class VersionCrashesOnUnknownHost(ShellPlugin):
    """Answers Hello, then dies (status 3) when the host's version is unknown to it."""

    async def on_hello(self, session, payload):
        await super().on_hello(session, payload)
        if not known_host(payload.get("version")):
            os._exit(3)


@mutant(kills="version.incompatible-host-rejected")
class VersionLeaksHelperOnUnknownHost(ShellPlugin):
    """Starts a detached helper (an "update checker") for an unknown host and forgets it."""

    async def on_hello(self, session, payload):
        if session.stage == example.EXPECT_HELLO and not known_host(payload.get("version")):
            subprocess.Popen(
                ["sleep", "60"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        await super().on_hello(session, payload)


@mutant(kills="version.compatible-host-accepted")
class VersionSchemaOnlyForBuildHost(ShellPlugin):
    """Its Schema fails for any host but exactly 0.2.1, although it declares >=0.2.1, <0.3.0."""

    async def on_hello(self, session, payload):
        session.host_version = payload.get("version")
        await super().on_hello(session, payload)

    async def on_schema(self, session, payload):
        version = getattr(session, "host_version", None)
        if session.stage == example.EXPECT_SCHEMA and version != "0.2.1":
            await self.on_protocol_error(session, f"no schema known for Octa {version}")
            return
        await super().on_schema(session, payload)


@mutant(kills="version.no-wildcard")
class VersionUnboundedRequirement(ShellPlugin):
    """Declares ">=0.2.1": claims compatibility with every future Octa."""

    requirement = ">=0.2.1"
