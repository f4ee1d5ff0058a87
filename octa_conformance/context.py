"""The per-check context handed to every check as the ``octa`` fixture.

It launches fresh plugin processes, keeps every host it opened (their transcripts go
into the failure message), renders probes, records figures, and stops everything it
started when the check ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from octa_conformance.config import HarnessConfig
from octa_conformance.host import FakeOcta, HostError
from octa_conformance.probes import ProbeMissing, ProbeSet, build_probes
from octa_conformance.protocol import Dialect, HelloReply, detect_dialect, parse_object
from octa_conformance.settings import RunOptions
from octa_conformance.supervisor import PluginProcess


@dataclass
class PluginInfo:
    """Facts learned once per run from one handshake with the plugin."""

    hello: HelloReply | None = None
    key: str | None = None
    dialect: Dialect | None = None  # the dialect its Hello reply was written in
    error: str | None = None
    probes: ProbeSet = field(default_factory=ProbeSet)

    @property
    def requirement(self) -> str | None:
        return self.hello.version if self.hello else None


async def _handshake_once(options: RunOptions, dialect: Dialect | None) -> PluginInfo:
    config = options.harness_config()
    info = PluginInfo()
    process = PluginProcess.spawn(options.plugin, config=config, extra_args=config.plugin_args)
    try:
        host = await FakeOcta.connect(process, config=config, dialect=dialect)
        try:
            try:
                info.hello = await host.hello()
                info.key = (await host.schema()).key
                await host.shutdown()
            except HostError as e:
                info.error = str(e)
            first = next((e for e in host.transcript.entries if e.direction == "plugin"), None)
            if first is not None:
                obj = parse_object(first.raw)
                if isinstance(obj, dict):
                    info.dialect = detect_dialect(obj)
        finally:
            await host.close()
    except Exception as e:  # a plugin that cannot even start: the checks will say why
        info.error = str(e)
    finally:
        await process.stop()
    return info


def gather_info(options: RunOptions) -> PluginInfo:
    """Handshake once (in the target dialect, else the one the plugin speaks)."""
    target = Dialect.for_octa_version(options.octa_version)
    info = asyncio.run(_handshake_once(options, target))
    if info.key is None and info.dialect not in (None, target):
        other = asyncio.run(_handshake_once(options, info.dialect))
        if other.key is not None:
            other.error = info.error
            info = other
    info.probes = build_probes(info.key, options.settings, options.probe_options)
    return info


class CheckContext:
    """What a check uses to drive the plugin under test."""

    def __init__(self, options: RunOptions, info: PluginInfo, check_id: str = "") -> None:
        self.options = options
        self.info = info
        self.check_id = check_id
        self.config: HarnessConfig = options.harness_config()
        self.timeouts = self.config.timeouts
        self.dialect = Dialect.for_octa_version(options.octa_version)
        self.hosts: list[FakeOcta] = []
        self.processes: list[PluginProcess] = []
        self.figures: dict[str, Any] = {}
        self.notes: list[str] = []
        self.missing_probes: list[str] = []  # probes whose absence skipped this check
        self._scratch: list[tempfile.TemporaryDirectory[str]] = []

    @property
    def plugin(self) -> Path:
        return self.options.plugin

    @property
    def target(self) -> str:
        return self.options.octa_version

    # --- processes and hosts --------------------------------------------------------

    def spawn(
        self,
        *,
        extra_args: Sequence[str] | None = None,
        socket_name: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> PluginProcess:
        """Start a fresh plugin process (not connected)."""
        args = self.config.plugin_args if extra_args is None else tuple(extra_args)
        process = PluginProcess.spawn(
            self.plugin, config=self.config, extra_args=args, socket_name=socket_name, env=env
        )
        self.processes.append(process)
        return process

    async def connect(
        self, process: PluginProcess, *, dialect: Dialect | None = None, label: str = ""
    ) -> FakeOcta:
        """Open a (further) connection to ``process``."""
        host = await FakeOcta.connect(
            process,
            config=self.config,
            dialect=dialect or self.dialect,
            label=label or f"connection {len(self.hosts) + 1}",
        )
        self.hosts.append(host)
        return host

    async def launch(self, **spawn_kw: Any) -> FakeOcta:
        """A fresh plugin process and a connection to it (no handshake yet)."""
        return await self.connect(self.spawn(**spawn_kw))

    async def ready(self, **spawn_kw: Any) -> FakeOcta:
        """A fresh plugin process, connected and handshaken (Hello, Schema)."""
        host = await self.launch(**spawn_kw)
        await host.handshake()
        return host

    # --- probes, files, figures -----------------------------------------------------

    def has_probe(self, name: str) -> bool:
        return self.info.probes.has(name)

    def probe(self, name: str, /, **values: Any) -> str:  # `/`: the env probe's {name}
        """The ``params`` for probe ``name``; skips the check if it is not configured."""
        try:
            return self.info.probes.render(name, **values)
        except ProbeMissing as e:
            self.missing_probes.append(name)
            if self.info.key is None and self.info.error:
                first = self.info.error.splitlines()[0]
                pytest.skip(
                    f"probe '{name}' unavailable: the plugin's schema key (which selects the"
                    f" built-in probes) is unknown because the handshake failed ({first})"
                )
            pytest.skip(str(e))

    def opaque(self) -> str:
        """``params`` for a command whose effect the check does not look at.

        The ``noop`` probe if configured, else an empty string: protocol checks (ids,
        ``Started`` first, one terminal frame...) need no probe, and accept any terminal
        frame (``ExitStatus`` with any code, or ``Error``) for it (CHECKS.md).
        """
        return self.info.probes.render("noop") if self.has_probe("noop") else ""

    def scratch(self) -> Path:
        """A fresh, empty, canonical temp directory removed after the check."""
        tmp = tempfile.TemporaryDirectory(prefix="octa-conform-scratch-")
        self._scratch.append(tmp)
        return Path(tmp.name).resolve()

    def figure(self, **values: Any) -> None:
        """Record measurements for the report (INFO checks)."""
        self.figures.update(values)

    def note(self, text: str) -> None:
        self.notes.append(text)

    # --- reporting and cleanup ------------------------------------------------------

    def transcripts(self, last: int = 40) -> str:
        parts = [h.transcript.format(last=last) for h in self.hosts]
        for p in self.processes:
            excerpt = p.output_excerpt(1500)
            if excerpt.strip():
                parts.append(f"plugin output (pid {p.pid}):\n{excerpt}")
        return "\n\n".join(parts)

    async def aclose(self) -> None:
        for host in self.hosts:
            with contextlib.suppress(Exception):
                await host.close()
        for process in self.processes:
            with contextlib.suppress(Exception):
                await process.stop()
        for tmp in self._scratch:
            with contextlib.suppress(Exception):
                tmp.cleanup()
