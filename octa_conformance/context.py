"""The per-check context handed to every check as the ``octa`` fixture.

It launches fresh plugin processes, keeps every host it opened (their transcripts go
into the failure message), renders probes, records figures, and stops everything it
started when the check ends.

**Spawn-ahead.** Starting a plugin costs what its runtime takes to start (50-130 ms for a
Python plugin), about a hundred times per run. So while a check runs, the next plugin
process is already started: one *spare*, spawned exactly as :meth:`CheckContext.spawn`
would spawn it (same plugin, configuration, arguments, environment and socket naming) but
not connected to. The next ``spawn()`` with those arguments takes it instead of starting a
process; every check still gets fresh processes that nothing has talked to, and stops them
when it ends. A spare that no longer matches (another environment), or that exited, is
killed and a process started as usual. Spares are registered for clean-up like every plugin
process, so ``kill_all()`` (run end, Ctrl-C, interpreter exit) kills the last one.
A spare is started only for a check that will take it: the pytest plugin tells, before each
check, whether that check takes one (:func:`plan_spares`: ``now``) and whether another check
that spawns a plugin follows it (``later``), so a one-check run starts no process it does not
need. ``OCTA_CONFORMANCE_SPAWN_AHEAD=0`` in the environment turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from octa_conformance import interrupts
from octa_conformance.config import HarnessConfig
from octa_conformance.host import FakeOcta, HostError
from octa_conformance.probes import ProbeMissing, ProbeSet, build_probes
from octa_conformance.protocol import Dialect, HelloReply, detect_dialect, parse_object
from octa_conformance.settings import RunOptions
from octa_conformance.supervisor import HARNESS_ONLY_VARS, PluginProcess

SPAWN_AHEAD_ENV = "OCTA_CONFORMANCE_SPAWN_AHEAD"
"""Set to ``0`` to start every plugin process when a check asks for it (no spares)."""

# Checks that time the plugin or its start-up: their spare is started only when they end,
# so that no start-up runs alongside their measurements.
_MEASURING = ("performance.", "launch.startup-time")
# Checks whose first spawn is ``fresh`` (they time the start-up themselves): a spare started
# for them would wait unused.
_STARTS_FRESH = frozenset({"launch.listens", "launch.startup-time"})


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
    """Handshake once (in the target dialect, else the one the plugin speaks).

    With spawn-ahead, the first check's plugin process is started alongside (if that check
    takes a spare: :func:`plan_spares`).
    """
    if spawn_ahead_enabled() and SPARE.wanted_now:
        config = options.harness_config()
        SPARE.fill(_spare_key(options.plugin, config, config.plugin_args), config)
    target = Dialect.for_octa_version(options.octa_version)
    info = asyncio.run(_handshake_once(options, target))
    if info.key is None and info.dialect not in (None, target):
        other = asyncio.run(_handshake_once(options, info.dialect))
        if other.key is not None:
            other.error = info.error
            info = other
    info.probes = build_probes(info.key, options.settings, options.probe_options)
    return info


def spawn_ahead_enabled() -> bool:
    """Whether spare plugin processes are started ahead of need (see the module docstring)."""
    return os.environ.get(SPAWN_AHEAD_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _plugin_environment() -> tuple[tuple[str, str], ...]:
    """The environment ``PluginProcess.spawn`` gives a plugin when none is passed."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k not in HARNESS_ONLY_VARS))


_SpareKey = tuple[str, HarnessConfig, tuple[str, ...], tuple[tuple[str, str], ...]]


def _spare_key(plugin: Path, config: HarnessConfig, args: tuple[str, ...]) -> _SpareKey:
    """What a spare must have been started with to stand in for a spawn of ``plugin``."""
    return (str(plugin), config, args, _plugin_environment())


class _SpareSlot:
    """At most one plugin process started ahead of need, for the whole harness process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: PluginProcess | None = None
        self._key: _SpareKey | None = None
        self.stats = {"spawned": 0, "taken": 0, "discarded": 0}
        self.wanted_now = True  # the running check's first spawn may take a spare
        self.wanted_later = True  # another check that spawns a plugin follows the running one

    @property
    def process(self) -> PluginProcess | None:
        return self._process

    def take(self, key: _SpareKey) -> PluginProcess | None:
        """The spare if it was started with ``key`` and still runs; else None (a spare that
        does not fit is killed)."""
        with self._lock:
            process, spare_key = self._process, self._key
            self._process = self._key = None
        if process is None:
            return None
        if spare_key == key and process.returncode is None and not process.closed:
            self.stats["taken"] += 1
            return process
        self._discard(process)
        return None

    def fill(self, key: _SpareKey, config: HarnessConfig) -> None:
        """Start a spare for ``key`` unless there is one (a failed start leaves none: the
        check's own spawn will report why)."""
        with self._lock:
            if self._process is not None:
                return
        plugin, _, args, _ = key
        try:
            process = PluginProcess.spawn(plugin, config=config, extra_args=args)
        except Exception:
            return
        with self._lock:
            if self._process is None:
                self._process, self._key = process, key
                self.stats["spawned"] += 1
                return
        self._discard(process)

    def discard(self) -> None:
        """Kill the spare, if any (it never did any work: SIGKILL at once)."""
        with self._lock:
            process = self._process
            self._process = self._key = None
        if process is not None:
            self._discard(process)

    def _discard(self, process: PluginProcess) -> None:
        self.stats["discarded"] += 1
        with contextlib.suppress(Exception):
            process.kill(grace=0)


SPARE = _SpareSlot()


def discard_spare() -> None:
    """Kill the spare plugin process, if any (e.g. when the last check has run)."""
    SPARE.discard()


def takes_spare(check_id: str) -> bool:
    """Whether check ``check_id`` ("" for a test that is not a check) may take a spare for
    its first spawn: all but those that start their processes fresh."""
    return check_id not in _STARTS_FRESH


def plan_spares(*, now: bool = True, later: bool = True) -> None:
    """Say which spares the run will use (the pytest plugin does, before each check).

    ``now``: the check about to run may take a spare (the run's first handshake starts one
    alongside only then); ``later``: another check that spawns a plugin follows it (only then
    does this check start one for it). Both default to True: outside a planned run (a
    ``CheckContext`` made directly) a spare is always started.
    """
    SPARE.wanted_now, SPARE.wanted_later = now, later


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
        self._spawn_ahead = spawn_ahead_enabled()

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
        fresh: bool = False,
    ) -> PluginProcess:
        """A fresh plugin process (not connected).

        With the default socket naming and environment, the spare started ahead of need
        (module docstring) is used if it was started with these arguments; ``fresh=True``
        starts a new process now instead (for checks that time the start-up).
        """
        args = self.config.plugin_args if extra_args is None else tuple(extra_args)
        process = None
        default = socket_name is None and env is None and args == self.config.plugin_args
        if default and not fresh and self._spawn_ahead:
            process = SPARE.take(self._spare_key(args))
        if process is None:
            process = PluginProcess.spawn(
                self.plugin, config=self.config, extra_args=args, socket_name=socket_name, env=env
            )
        self.processes.append(process)
        return process

    def _spare_key(self, args: tuple[str, ...]) -> _SpareKey:
        return _spare_key(self.plugin, self.config, args)

    def _prepare_spare(self) -> None:
        """Start the next check's plugin process now, if there is no spare yet and a later
        check will spawn one (:func:`plan_spares`)."""
        if (
            self._spawn_ahead
            and SPARE.wanted_later
            and SPARE.process is None
            and not interrupts.received()
        ):
            SPARE.fill(self._spare_key(self.config.plugin_args), self.config)

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
        if not self.check_id.startswith(_MEASURING):
            self._prepare_spare()  # the plugin under test has started: start the next one
        return host

    async def reconnect(
        self, process: PluginProcess, *, timeout: float | None = None, label: str = ""
    ) -> FakeOcta:
        """A further connection to an already running ``process`` (e.g. after the first one
        closed), joined to this check's hosts so that its transcript reaches the report.

        ``timeout`` defaults to ``timeouts.exit``: a plugin that still listens accepts at
        once. Raises :class:`~octa_conformance.errors.LaunchError` if it does not accept.
        """
        host = await FakeOcta.connect(
            process,
            config=self.config,
            dialect=self.dialect,
            timeout=self.timeouts.exit if timeout is None else timeout,
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
        frame (``ExitStatus`` with any code, or ``Error``) for it.
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
        """Close every host, stop every process (all at once: each waits for its own tree),
        remove the scratch dirs, and start the next check's spare."""
        for host in self.hosts:
            with contextlib.suppress(Exception):
                await host.close()
        # stop() never raises for a plugin's sake; return_exceptions keeps one failure from
        # leaving the others running (each finishes synchronously if interrupted)
        await asyncio.gather(*(p.stop() for p in self.processes), return_exceptions=True)
        for tmp in self._scratch:
            with contextlib.suppress(Exception):
                tmp.cleanup()
        self._prepare_spare()
