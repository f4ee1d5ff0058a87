"""Start, watch and stop one plugin process exactly the way Octa does (docs/protocol.md §1, §4).

A :class:`PluginProcess` launches ``<plugin> --socket-path <path> [args...]`` (``python3 <plugin>
...`` for a ``.py`` file) in a new process group with stdin on ``/dev/null``, drains its stdout
and stderr (:mod:`~octa_conformance.output_drain`), connects to its socket, tracks every
process it starts (:mod:`~octa_conformance.process_tree`), and kills the whole tree on
:meth:`PluginProcess.stop` / :meth:`PluginProcess.kill`. Until then it is registered with
:mod:`~octa_conformance.reaper`, whose :func:`kill_all` ends whatever is left when the
harness exits or is interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import psutil

from octa_conformance import interrupts, reaper
from octa_conformance.config import HarnessConfig
from octa_conformance.errors import LaunchError
from octa_conformance.launch_setup import (
    HARNESS_ONLY_VARS,
    check_plugin_file,
    check_socket_name,
    command_prefix,
    make_workdir,
    plugin_environment,
    process_group_kwargs,
)
from octa_conformance.output_drain import Drain, Ring, excerpt
from octa_conformance.process_tree import SESSION_ENV_VAR, ProcessTree, wait_until_gone
from octa_conformance.reaper import kill_all

__all__ = [
    "HARNESS_ONLY_VARS",
    "SESSION_ENV_VAR",
    "LaunchError",
    "PluginProcess",
    "describe_status",
    "kill_all",
]


def describe_status(returncode: int) -> str:
    """An exit status in words: ``status 1``, ``status -6 (killed by SIGABRT)``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"status {returncode} (killed by {name})"
    return f"status {returncode}"


def _describe_error(exc: BaseException | None) -> str:
    if exc is None:
        return "none"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) and not str(exc):
        return "connect() did not complete"
    return f"{type(exc).__name__}: {exc}"


_IGNORES_SIGTERM: set[tuple[str, ...]] = set()
"""Plugins (command less the socket path, and environment) a process of which outlived the
SIGTERM grace: their later processes get SIGKILL at once when stopped, not a grace of their
own."""


def _close_fds(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


class PluginProcess:
    """One running plugin process and everything it started. Create with :meth:`spawn`."""

    argv: list[str]
    pid: int
    pgid: int
    socket_path: Path
    workdir: Path
    config: HarnessConfig
    session_token: str
    startup_seconds: float | None
    tree: ProcessTree

    def __init__(
        self,
        *,
        argv: list[str],
        proc: subprocess.Popen[bytes],
        workdir: Path,
        socket_path: Path,
        session_token: str,
        config: HarnessConfig,
        spawned_at: float,
        stdout_fd: int,
        stderr_fd: int,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = argv
        self.tree = ProcessTree(proc, session_token, config.timeouts.poll)
        self.pid = self.tree.pid
        self.pgid = self.tree.pgid  # process_group=0 / setpgrp(): the plugin leads its group
        self.socket_path = socket_path
        self.workdir = workdir
        self.config = config
        self.session_token = session_token
        self.startup_seconds = None
        self._proc = proc
        socket_at = argv.index("--socket-path") if "--socket-path" in argv else len(argv)
        # the same plugin: the same command (less the socket path) and environment (less the
        # session token); a mutant differs from its siblings by its environment alone
        environment = sorted((k, v) for k, v in (env or {}).items() if k != SESSION_ENV_VAR)
        self._plugin_key = (*argv[:socket_at], *argv[socket_at + 2 :], repr(environment))
        self._spawned_at = spawned_at
        self._lock = threading.Lock()
        self._closed = False
        self._stdout = Ring(config.output_buffer)
        self._stderr = Ring(config.output_buffer)
        self._drain = Drain(
            {stdout_fd: self._stdout, stderr_fd: self._stderr}, name=f"octa-drain-{proc.pid}"
        )
        self._drain.start()

    # ---- launch ----------------------------------------------------------------------

    @classmethod
    def spawn(
        cls,
        plugin: str | os.PathLike[str],
        *,
        config: HarnessConfig | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        socket_name: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> PluginProcess:
        """Launch ``plugin`` as Octa does and start draining its output.

        argv is ``[plugin, "--socket-path", P, *extra_args]``, prefixed with ``python3``
        (from the environment's PATH, else ``sys.executable``) when the path ends in ``.py``;
        ``config.plugin_args`` is *not* added implicitly (callers pass it as ``extra_args``).
        The plugin path is made absolute. ``P`` is ``socket_name`` (default
        ``octa.<pid>.<16 hex>.sock``) inside a fresh 0700 temp dir, :attr:`workdir`. ``env``
        defaults to ``os.environ`` less :data:`HARNESS_ONLY_VARS`; :data:`SESSION_ENV_VAR` is
        always added.

        Raises :class:`LaunchError` if the file is missing or not executable or exec fails,
        ``ValueError`` if ``socket_name`` is not a plain file name.
        """
        config = HarnessConfig() if config is None else config
        plugin_path = os.path.abspath(os.fspath(plugin))
        check_plugin_file(plugin_path)
        if socket_name is not None:
            check_socket_name(socket_name)
        name = socket_name or f"octa.{os.getpid()}.{secrets.token_hex(8)}.sock"
        child_env = plugin_environment(env)
        token = secrets.token_hex(16)
        child_env[SESSION_ENV_VAR] = token
        prefix = command_prefix(plugin_path, child_env)

        # from here until the process is registered for clean-up, an interrupt waits:
        # cut in half, this would leak a process, a pipe or the temp dir
        with interrupts.deferred():
            workdir = make_workdir(name)
            socket_path = workdir / name
            argv = [*prefix, "--socket-path", str(socket_path), *extra_args]
            reaper.become_subreaper()

            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            try:
                spawned_at = time.monotonic()
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out_w,
                    stderr=err_w,
                    env=child_env,
                    cwd=cwd,
                    close_fds=True,
                    **process_group_kwargs(),
                )
            except (OSError, subprocess.SubprocessError) as exc:
                _close_fds(out_r, err_r)
                shutil.rmtree(workdir, ignore_errors=True)
                raise LaunchError(f"cannot start plugin {plugin_path}: {exc}") from exc
            finally:
                _close_fds(out_w, err_w)

            try:
                supervisor = cls(
                    argv=argv,
                    proc=proc,
                    workdir=workdir,
                    socket_path=socket_path,
                    session_token=token,
                    config=config,
                    spawned_at=spawned_at,
                    stdout_fd=out_r,
                    stderr_fd=err_r,
                    env=child_env,
                )
            except BaseException:
                proc.kill()
                proc.wait()
                _close_fds(out_r, err_r)
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            reaper.register(supervisor)
        return supervisor

    # ---- state -----------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        """Exit status of the plugin (negative: killed by that signal), None while running."""
        return self._proc.poll()

    @property
    def closed(self) -> bool:
        """True once :meth:`stop` / :meth:`kill` has cleaned up."""
        return self._closed

    @property
    def stdout_total(self) -> int:
        """Bytes the plugin has written to stdout so far (not only those kept)."""
        return self._stdout.total

    def stdout_tail(self) -> bytes:
        """The last ``config.output_buffer`` bytes of stdout."""
        return self._stdout.tail()

    def stderr_tail(self) -> bytes:
        """The last ``config.output_buffer`` bytes of stderr."""
        return self._stderr.tail()

    def output_excerpt(self, max_bytes: int = 2000) -> str:
        """The end of stderr, then of stdout, within ``max_bytes``, for failure messages.

        Each part has a ``--- plugin stderr ---`` style header; "" if there was no output.
        """
        return excerpt(self._stderr, self._stdout, max_bytes)

    def _failure_output(self) -> str:
        return self.output_excerpt() or "(the plugin wrote nothing to stdout or stderr)"

    def rss_bytes(self) -> int | None:
        """Resident set size of the plugin process in bytes, None once it has exited."""
        if self._proc.poll() is not None:
            return None
        try:
            return int(self.tree.main.memory_info().rss)
        except psutil.Error:
            return None

    def descendants(self) -> list[psutil.Process]:
        """Live (non-zombie) processes started by the plugin, wherever they moved since.

        Includes processes that called ``setsid()`` and orphans; excludes the plugin. After
        the plugin has exited these are true orphans; while it runs, checks such as
        ``cancellation.no-orphans`` use this to find leftovers of a finished command.
        """
        return self.tree.descendants()

    # ---- talking to it ---------------------------------------------------------------
    async def connect(
        self, timeout: float | None = None, *, limit: int | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to the plugin's socket, retrying every ``timeouts.poll`` s.

        Gives up after ``timeout`` (default ``timeouts.connect``) or as soon as the plugin
        exits, with a :class:`LaunchError` carrying an output excerpt. The first success
        sets :attr:`startup_seconds`. May be called again for further connections.
        ``limit`` is the StreamReader buffer limit (default ``max_frame + 2``, room for a
        maximal frame and its ``\\r\\n``).
        """
        timeouts = self.config.timeouts
        bound = timeouts.connect if timeout is None else timeout
        limit = self.config.max_frame + 2 if limit is None else limit
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        path = str(self.socket_path)
        last_error: BaseException | None = None
        while True:
            attempt = max(deadline - loop.time(), timeouts.poll)
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(path, limit=limit), timeout=attempt
                )
            except (OSError, asyncio.TimeoutError) as exc:
                last_error = exc
            else:
                if self.startup_seconds is None:
                    self.startup_seconds = time.monotonic() - self._spawned_at
                return reader, writer
            returncode = self._proc.poll()
            if returncode is not None:
                await self._drain.settle(timeouts.exit, timeouts.poll)
                status = describe_status(returncode)
                headline = (
                    f"plugin exited with {status} before listening"
                    if self.startup_seconds is None
                    else f"plugin exited with {status}; cannot connect to {path} again"
                )
                raise LaunchError(headline, output=self._failure_output())
            if loop.time() >= deadline:
                raise LaunchError(
                    f"plugin did not accept a connection on {path} within {bound:.1f} s "
                    f"(last error: {_describe_error(last_error)})",
                    output=self._failure_output(),
                )
            # A plain sleep: the next round sees an exit anyway (``poll()`` above), and a
            # pidfd wait per round costs ~0.3 ms of CPU, ~30 rounds per launch.
            await asyncio.sleep(min(timeouts.poll, max(0.0, deadline - loop.time())))

    async def wait_exit(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for the plugin to exit; its status, or None on timeout.

        Event-driven through a pidfd where available, otherwise polls every ``timeouts.poll``.
        """

        def running() -> list[psutil.Process]:
            return [] if self._proc.poll() is not None else [self.tree.main]

        await wait_until_gone(running, time.monotonic() + timeout, self.config.timeouts.poll)
        return self._proc.poll()

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the plugin process only (no-op once it has been reaped)."""
        self._proc.send_signal(sig)

    # ---- stopping --------------------------------------------------------------------

    @interrupts.deferred()  # once closed, kill_all() skips it: finish the job
    def _finish(self, settle: float) -> None:
        """Reap, stop draining, remove the temp dir and unregister; runs once.

        The drain first gets up to ``settle`` s to reach EOF, so the last output is kept.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        grace = self.config.timeouts.kill_grace
        try:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=grace)
            self.tree.reap()  # zombies re-parented to us
            self._drain.finished.wait(settle)
            self._drain.stop(grace)
            shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            reaper.unregister(self)

    @interrupts.deferred()  # a second Ctrl-C must not cut the clean-up short
    def kill(self, grace: float | None = None) -> None:
        """Synchronously end the whole tree and clean up; idempotent.

        SIGTERM to the plugin's group and every descendant (and their groups); once the
        plugin has exited, or ``grace`` s (default ``timeouts.kill_grace``; 0 = SIGKILL at
        once) have passed, SIGKILL to whatever of the tree is left; reap, close the pipes
        and remove :attr:`workdir` (socket included).

        Only the plugin itself gets the grace: it may stop its commands its own way. A
        descendant still alive once the plugin has exited (an escapee that ignores SIGTERM,
        say) gets SIGKILL without a grace period of its own.
        """
        if self._closed:
            return
        kill_grace = self.config.timeouts.kill_grace
        grace = kill_grace if grace is None else grace
        if self._plugin_key in _IGNORES_SIGTERM:
            grace = 0
        try:
            if grace > 0:
                self.tree.signal(signal.SIGTERM)  # the one scan for marked processes
                if not self.tree.block_until_main_gone(time.monotonic() + grace):
                    _IGNORES_SIGTERM.add(self._plugin_key)
            self.tree.signal(signal.SIGKILL, rescan=grace <= 0)
            self.tree.block_until_gone(time.monotonic() + kill_grace)
        finally:
            self._finish(settle=kill_grace)

    async def stop(self) -> None:
        """Async :meth:`kill` with the default grace; idempotent and cancellation-safe.

        If cancelled or interrupted part-way, it finishes synchronously with SIGKILL. A
        process of a plugin that has outlived the grace before (it ignores SIGTERM) gets
        SIGKILL at once: the grace would only be waited out again.
        """
        if self._closed:
            return
        timeouts = self.config.timeouts
        if self._plugin_key in _IGNORES_SIGTERM:
            self.kill(grace=0)
            return
        try:
            self.tree.signal(signal.SIGTERM)  # the one scan for marked processes
            deadline = time.monotonic() + timeouts.kill_grace
            if not await self.tree.wait_until_main_gone(deadline):
                _IGNORES_SIGTERM.add(self._plugin_key)
            self.tree.signal(signal.SIGKILL, rescan=False)
            await self.tree.wait_until_gone(time.monotonic() + timeouts.kill_grace)
            await self._drain.settle(timeouts.kill_grace, timeouts.poll)
        except BaseException:
            self.kill(grace=0)
            raise
        self._finish(settle=0)

    async def __aenter__(self) -> PluginProcess:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __enter__(self) -> PluginProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"returncode={self._proc.returncode}"
        return f"<PluginProcess pid={self.pid} {self.argv[0]!r} {state}>"
