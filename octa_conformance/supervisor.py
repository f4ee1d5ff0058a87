"""Start, watch and stop one plugin process exactly the way Octa does (PROTOCOL.md §1, §4).

A :class:`PluginProcess` launches ``<plugin> --socket-path <path> [args...]`` (``python3 <plugin>
...`` for a ``.py`` file) in a new process group with stdin on ``/dev/null``, drains its stdout
and stderr into bounded ring buffers, connects to its socket, tracks every process it starts
(also those that called ``setsid()`` or were orphaned), and kills the whole tree on
:meth:`PluginProcess.stop` / :meth:`PluginProcess.kill`.

Descendants are found three ways: walking the process tree from the plugin and every process
seen before; scanning process environments for the marker variable
``OCTA_CONFORMANCE_SESSION`` (a random per-launch token: it only tags processes, it is **not**
a secret); and, on Linux, by making the harness a child subreaper so orphans re-parent to it
instead of to init. Zombies re-parented to the harness are reaped.

Every live supervisor is kept in a module registry. :func:`kill_all` kills all of them
synchronously; it runs at interpreter exit (``atexit``), and front ends (the CLI, the pytest
plugin) should also call it when the run is interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from octa_conformance import interrupts
from octa_conformance.config import HarnessConfig
from octa_conformance.errors import LaunchError

__all__ = ["SESSION_ENV_VAR", "LaunchError", "PluginProcess", "describe_status", "kill_all"]

SESSION_ENV_VAR = "OCTA_CONFORMANCE_SESSION"
"""Marker variable added to the plugin's environment; its value is a per-launch token."""

HARNESS_ONLY_VARS = frozenset(
    {
        "PYTEST_CURRENT_TEST",
        "PYTEST_VERSION",
        "PYTEST_XDIST_WORKER",
        "PYTEST_XDIST_WORKER_COUNT",
        "PYTEST_XDIST_TESTRUNUID",
    }
)
"""Variables pytest (and xdist) set in the harness process for their own bookkeeping.

They describe the harness's test run, not the user's environment, so a plugin never sees
them (Octa would not pass them; libraries that detect pytest through them would behave
differently under the harness).
"""

SUN_PATH_MAX = 107  # usable bytes of sockaddr_un.sun_path (108 including the NUL)
_SOCKET_PATH_BUDGET = 100  # above this, fall back from $TMPDIR to /tmp
_WORKDIR_PREFIX = "octa-conform-"
_READ_CHUNK = 64 * 1024
_PR_SET_CHILD_SUBREAPER = 36


# --------------------------------------------------------------------------------------
# process-wide helpers


_subreaper_lock = threading.Lock()
_subreaper_tried = False


def _become_subreaper() -> None:
    """Make this process a child subreaper (Linux), once; failure is ignored."""
    global _subreaper_tried
    with _subreaper_lock:
        if _subreaper_tried:
            return
        _subreaper_tried = True
        if not sys.platform.startswith("linux"):
            return
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            one, zero = ctypes.c_ulong(1), ctypes.c_ulong(0)
            libc.prctl(ctypes.c_int(_PR_SET_CHILD_SUBREAPER), one, zero, zero, zero)


_registry_lock = threading.Lock()
_registry: set[PluginProcess] = set()


@interrupts.deferred()  # a second Ctrl-C must not cut the clean-up short
def kill_all() -> None:
    """Synchronously kill every plugin process tree that is still running, then clean up.

    Idempotent and safe to call from an interrupt handler; registered with ``atexit``.
    All trees get SIGTERM at once, then share one ``kill_grace`` before SIGKILL.
    """
    with _registry_lock:
        live = [p for p in _registry if not p.closed]
    if not live:
        return
    for proc in live:
        with contextlib.suppress(Exception):
            proc._signal_everything(signal.SIGTERM)
    deadline = time.monotonic() + max(p.config.timeouts.kill_grace for p in live)
    for proc in live:
        with contextlib.suppress(Exception):
            proc._wait_dead_sync(deadline)
    for proc in live:
        with contextlib.suppress(Exception):
            proc.kill(grace=0)


atexit.register(kill_all)


def _open_pidfd(proc: psutil.Process) -> int | None:
    """A pidfd for ``proc``; -1 if it is already gone; None if pidfds are unavailable."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(proc.pid)
    except ProcessLookupError:
        return -1
    except OSError:
        return None
    if not proc.is_running():  # the pid was reused since we saw it
        os.close(fd)
        return -1
    return fd


def _open_pidfds(procs: Sequence[psutil.Process]) -> tuple[list[int], bool] | None:
    """Pidfds for ``procs``, and whether some process cannot be watched by one.

    None if one of them is already gone (there is nothing to wait for); the caller closes
    the pidfds returned.
    """
    fds: list[int] = []
    unwatched = False
    try:
        for proc in procs:
            fd = _open_pidfd(proc)
            if fd == -1:
                _close_fds(*fds)
                return None
            if fd is None:
                unwatched = True
            else:
                fds.append(fd)
    except BaseException:
        _close_fds(*fds)
        raise
    return fds, unwatched


async def _await_any_exit(procs: Sequence[psutil.Process], timeout: float, poll: float) -> None:
    """Return when one of ``procs`` ends (pidfd event) or after ``timeout``.

    Where a process cannot be watched by a pidfd, wait at most ``poll`` so the caller re-checks.
    """
    opened = _open_pidfds(procs)
    if opened is None:
        return
    fds, unwatched = opened
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    watched: list[int] = []

    def fire() -> None:
        if not done.done():
            done.set_result(None)

    try:
        for fd in fds:
            try:
                loop.add_reader(fd, fire)
            except (NotImplementedError, OSError, ValueError, RuntimeError):
                unwatched = True
                continue
            watched.append(fd)
        wait = min(timeout, poll) if unwatched else timeout
        if watched:
            await asyncio.wait([done], timeout=wait)
        else:
            await asyncio.sleep(wait)
    finally:
        for fd in watched:
            loop.remove_reader(fd)
        _close_fds(*fds)


def _block_until_any_exit(procs: Sequence[psutil.Process], timeout: float, poll: float) -> None:
    """Synchronous twin of :func:`_await_any_exit`."""
    opened = _open_pidfds(procs)
    if opened is None:
        return
    fds, unwatched = opened
    sel = selectors.DefaultSelector()
    try:
        for fd in fds:
            sel.register(fd, selectors.EVENT_READ)
        wait = min(timeout, poll) if unwatched else timeout
        if fds:
            sel.select(wait)
        else:
            time.sleep(wait)
    finally:
        sel.close()
        _close_fds(*fds)


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


# --------------------------------------------------------------------------------------
# output draining


class _Ring:
    """The last ``capacity`` bytes of a stream, plus the total byte count."""

    def __init__(self, capacity: int) -> None:
        self._capacity = max(0, capacity)
        self._buf = bytearray()
        self._lock = threading.Lock()
        self.total = 0

    def feed(self, data: bytes) -> None:
        with self._lock:
            self.total += len(data)
            if len(data) >= self._capacity:
                self._buf[:] = data[len(data) - self._capacity :]
                return
            self._buf += data
            excess = len(self._buf) - self._capacity
            if excess > 0:
                del self._buf[:excess]

    def tail(self) -> bytes:
        with self._lock:
            return bytes(self._buf)


class _Drain:
    """A daemon thread reading the plugin's pipes into rings until EOF or :meth:`stop`.

    The thread owns the read ends and closes them itself, so stopping it never races a
    blocked ``read()``; a self-pipe wakes it up when the harness gives up waiting for EOF
    (e.g. an escaped grandchild still holds the pipe).
    """

    def __init__(self, streams: dict[int, _Ring], name: str) -> None:
        self._streams = streams
        self._wake_r, self._wake_w = os.pipe()
        for fd in (*streams, self._wake_r):
            os.set_blocking(fd, False)
        self._lock = threading.Lock()
        self._stopped = False
        self.finished = threading.Event()  # all pipes at EOF, or stopped
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self, fd: int, budget: int) -> bool:
        """Read up to ``budget`` bytes that are available now; False at EOF."""
        while budget > 0:
            try:
                chunk = os.read(fd, min(_READ_CHUNK, budget))
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self._streams[fd].feed(chunk)
            budget -= len(chunk)
        return True

    def _run(self) -> None:
        open_fds = set(self._streams)
        sel = selectors.DefaultSelector()
        try:
            for fd in open_fds:
                sel.register(fd, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while open_fds:
                for key, _ in sel.select():
                    if key.fd == self._wake_r:  # stop(): keep what is already buffered, quit
                        for fd in open_fds:
                            self._read(fd, 4 * _READ_CHUNK)
                        return
                    if not self._read(key.fd, _READ_CHUNK):
                        sel.unregister(key.fd)
                        os.close(key.fd)
                        open_fds.discard(key.fd)
        finally:
            sel.close()
            for fd in open_fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            os.close(self._wake_r)
            self.finished.set()

    def stop(self, timeout: float) -> None:
        """Make the thread quit (after the data already buffered) and join it, bounded."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"\0")
            os.close(self._wake_w)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)


# --------------------------------------------------------------------------------------
# launch helpers


def _check_plugin_file(path: str) -> None:
    if not os.path.lexists(path):
        raise LaunchError(f"plugin not found: {path}")
    if not os.path.exists(path):
        raise LaunchError(f"plugin is a dangling symlink: {path}")
    if os.path.isdir(path):
        raise LaunchError(f"plugin path is a directory, not a file: {path}")
    if path.endswith(".py"):
        if not os.access(path, os.R_OK):
            raise LaunchError(f"plugin is not readable: {path}")
    elif not os.access(path, os.X_OK):
        raise LaunchError(f"plugin is not executable: {path} (chmod +x it?)")


def _check_socket_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"socket_name must be a plain file name, got {name!r}")


def _make_workdir(socket_name: str) -> Path:
    """A fresh private (0700) directory whose ``socket_name`` entry fits in ``sun_path``."""

    def socket_length(base: str) -> int:
        sample = os.path.join(base, _WORKDIR_PREFIX + "x" * 8, socket_name)
        return len(os.fsencode(sample))

    base = tempfile.gettempdir()
    if socket_length(base) > _SOCKET_PATH_BUDGET and os.path.isdir("/tmp"):
        base = "/tmp"
    length = socket_length(base)
    if length > SUN_PATH_MAX:
        raise LaunchError(
            f"socket path would be {length} bytes, over the {SUN_PATH_MAX}-byte limit "
            f"of a Unix socket address (socket name {socket_name!r})"
        )
    return Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX, dir=base))


def _process_group_kwargs() -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"preexec_fn": os.setpgrp}  # pragma: no cover - Python 3.10 only


def _close_fds(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


# --------------------------------------------------------------------------------------
# the supervisor


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

    def __init__(
        self,
        *,
        argv: list[str],
        proc: subprocess.Popen[bytes],
        main: psutil.Process,
        workdir: Path,
        socket_path: Path,
        session_token: str,
        config: HarnessConfig,
        spawned_at: float,
        stdout_fd: int,
        stderr_fd: int,
    ) -> None:
        self.argv = argv
        self.pid = proc.pid
        self.pgid = proc.pid  # process_group=0 / setpgrp(): the plugin leads its own group
        self.socket_path = socket_path
        self.workdir = workdir
        self.config = config
        self.session_token = session_token
        self.startup_seconds = None
        self._proc = proc
        self._main = main
        self._main_create_time = main.create_time()
        self._spawned_at = spawned_at
        self._lock = threading.RLock()
        self._tracked: dict[int, psutil.Process] = {}
        self._closed = False
        self._stdout = _Ring(config.output_buffer)
        self._stderr = _Ring(config.output_buffer)
        self._drain = _Drain(
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
        _check_plugin_file(plugin_path)
        if socket_name is not None:
            _check_socket_name(socket_name)
        name = socket_name or f"octa.{os.getpid()}.{secrets.token_hex(8)}.sock"

        if env is None:
            env = {k: v for k, v in os.environ.items() if k not in HARNESS_ONLY_VARS}
        child_env = dict(env)
        token = secrets.token_hex(16)
        child_env[SESSION_ENV_VAR] = token
        if plugin_path.endswith(".py"):
            python = shutil.which("python3", path=child_env.get("PATH")) or sys.executable
            prefix = [python, plugin_path]
        else:
            prefix = [plugin_path]

        # from here until the process is registered for clean-up, an interrupt waits:
        # cut in half, this would leak a process, a pipe or the temp dir
        with interrupts.deferred():
            workdir = _make_workdir(name)
            socket_path = workdir / name
            argv = [*prefix, "--socket-path", str(socket_path), *extra_args]
            _become_subreaper()

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
                    **_process_group_kwargs(),
                )
            except (OSError, subprocess.SubprocessError) as exc:
                _close_fds(out_r, err_r)
                shutil.rmtree(workdir, ignore_errors=True)
                raise LaunchError(f"cannot start plugin {plugin_path}: {exc}") from exc
            finally:
                _close_fds(out_w, err_w)

            try:
                main = psutil.Process(proc.pid)  # not reaped yet, so this is our process
                supervisor = cls(
                    argv=argv,
                    proc=proc,
                    main=main,
                    workdir=workdir,
                    socket_path=socket_path,
                    session_token=token,
                    config=config,
                    spawned_at=spawned_at,
                    stdout_fd=out_r,
                    stderr_fd=err_r,
                )
            except BaseException:
                proc.kill()
                proc.wait()
                _close_fds(out_r, err_r)
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            with _registry_lock:
                _registry.add(supervisor)
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

    @property
    def stderr_total(self) -> int:
        """Bytes the plugin has written to stderr so far (not only those kept)."""
        return self._stderr.total

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
        streams = [("stderr", self._stderr), ("stdout", self._stdout)]
        tails = {label: ring.tail() for label, ring in streams}
        if not any(tails.values()):
            return ""
        shares = {label: max_bytes // 2 for label, _ in streams}
        for label, other in (("stderr", "stdout"), ("stdout", "stderr")):
            spare = shares[label] - len(tails[label])
            if spare > 0:
                shares[other] += spare
        parts = []
        for label, ring in streams:
            data = tails[label]
            if not data:
                continue
            shown = data[-shares[label] :] if shares[label] > 0 else b""
            note = f"last {len(shown)} of {ring.total} bytes" if len(shown) < ring.total else ""
            header = f"--- plugin {label}" + (f" ({note})" if note else "") + " ---"
            parts.append(header + "\n" + shown.decode("utf-8", "replace").rstrip("\n"))
        return "\n".join(parts)

    def _failure_output(self) -> str:
        return self.output_excerpt() or "(the plugin wrote nothing to stdout or stderr)"

    def scratch_dir(self) -> Path:
        """``workdir / "scratch"``, created on first use; removed with the workdir."""
        path = self.workdir / "scratch"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def rss_bytes(self) -> int | None:
        """Resident set size of the plugin process in bytes, None once it has exited."""
        if self._proc.poll() is not None:
            return None
        try:
            return int(self._main.memory_info().rss)
        except psutil.Error:
            return None

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
                await self._settle_output(timeouts.exit)
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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            returncode = self._proc.poll()
            if returncode is not None:
                return returncode
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await _await_any_exit([self._main], remaining, self.config.timeouts.poll)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the plugin process only (no-op once it has been reaped)."""
        self._proc.send_signal(sig)

    # ---- the process tree ------------------------------------------------------------

    def _track(self, proc: psutil.Process) -> None:
        if proc.pid in (self.pid, os.getpid()):
            return
        known = self._tracked.get(proc.pid)
        if known is None or not known.is_running():
            self._tracked[proc.pid] = proc

    def _discover(self, *, full: bool) -> None:
        """Add newly started descendants to the tracked set (``full``: also scan all envs)."""
        roots = list(self._tracked.values())
        if self._proc.returncode is None:
            roots.insert(0, self._main)
        for root in roots:
            with contextlib.suppress(psutil.Error):
                for child in root.children(recursive=True):
                    self._track(child)
        if not full:
            return
        me = os.getpid()
        with contextlib.suppress(psutil.Error):
            # Orphans re-parented to us (subreaper) that stayed in the plugin's group.
            for child in psutil.Process(me).children():
                if child.pid == self.pid or child.pid in self._tracked:
                    continue
                with contextlib.suppress(OSError, psutil.Error):
                    if child.pid != self.pgid and os.getpgid(child.pid) == self.pgid:
                        self._track(child)
                        for grandchild in child.children(recursive=True):
                            self._track(grandchild)
        for proc in psutil.process_iter(["create_time"]):
            if proc.pid in (me, self.pid) or proc.pid in self._tracked:
                continue
            created = proc.info.get("create_time")
            if created is None or created < self._main_create_time:
                continue
            try:
                marker = proc.environ().get(SESSION_ENV_VAR)
            except psutil.Error:
                continue
            if marker == self.session_token:
                self._track(proc)

    def _live_tracked(self) -> list[psutil.Process]:
        """Live, non-zombie tracked processes; forgets dead ones, reaps our zombies."""
        live = []
        for pid, proc in list(self._tracked.items()):
            try:
                if not proc.is_running():
                    del self._tracked[pid]
                    continue
                if proc.status() != psutil.STATUS_ZOMBIE:
                    live.append(proc)
                    continue
            except psutil.NoSuchProcess:
                del self._tracked[pid]
                continue
            except psutil.AccessDenied:
                live.append(proc)
                continue
            # A zombie: if it was re-parented to us, reap it (never the Popen-owned main pid).
            with contextlib.suppress(ChildProcessError, OSError):
                reaped, _ = os.waitpid(pid, os.WNOHANG)
                if reaped == pid:
                    del self._tracked[pid]
        return live

    def snapshot(self) -> list[psutil.Process]:
        """Record every process the plugin has started so far; return the live ones."""
        with self._lock:
            self._discover(full=True)
            return self._live_tracked()

    def descendants(self) -> list[psutil.Process]:
        """Live (non-zombie) processes started by the plugin, wherever they moved since.

        Includes processes that called ``setsid()`` or were orphaned; excludes the plugin.
        """
        return self.snapshot()

    def orphans(self) -> list[psutil.Process]:
        """Processes started by the plugin that are still alive (the plugin itself excluded).

        After the plugin has exited these are true orphans; while it runs, checks such as
        ``cancellation.no-orphans`` use this to find leftovers of a finished command.
        """
        return self.snapshot()

    # ---- stopping --------------------------------------------------------------------

    def _signal_everything(self, sig: int) -> None:
        """Send ``sig`` to the plugin's group, every tracked descendant and their groups."""
        with self._lock:
            self._discover(full=True)
            procs = self._live_tracked()
            tracked = set(self._tracked)
        main_running = self._proc.poll() is None
        groups: set[int] = set()
        for proc in procs:
            with contextlib.suppress(OSError):
                pgid = os.getpgid(proc.pid)
                # Only groups led by the plugin or one of its descendants: a descendant may
                # have joined another group of our session, which we must not kill.
                if pgid == self.pgid or pgid in tracked:
                    groups.add(pgid)
        if main_running:
            groups.add(self.pgid)
        groups -= {0, 1, os.getpgrp()}
        for pgid in groups:
            with contextlib.suppress(OSError):
                os.killpg(pgid, sig)
        if main_running:
            with contextlib.suppress(OSError):
                self._proc.send_signal(sig)
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)  # checks create_time: safe against pid reuse

    def _alive_targets(self) -> list[psutil.Process]:
        with self._lock:
            self._discover(full=False)
            alive = self._live_tracked()
        if self._proc.poll() is None:
            alive.insert(0, self._main)
        return alive

    def _wait_dead_sync(self, deadline: float) -> bool:
        """Block until the plugin and every tracked descendant are gone, or ``deadline``."""
        while True:
            alive = self._alive_targets()
            if not alive:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            _block_until_any_exit(alive, remaining, self.config.timeouts.poll)

    async def _wait_dead(self, deadline: float) -> bool:
        """Async twin of :meth:`_wait_dead_sync` (``deadline`` on ``time.monotonic()``)."""
        while True:
            alive = self._alive_targets()
            if not alive:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await _await_any_exit(alive, remaining, self.config.timeouts.poll)

    async def _settle_output(self, timeout: float) -> None:
        """Give the drain thread up to ``timeout`` s to reach EOF on both pipes."""
        deadline = time.monotonic() + timeout
        while not self._drain.finished.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(self.config.timeouts.poll)

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
            with self._lock:
                self._live_tracked()  # reap zombies re-parented to us
            self._drain.finished.wait(settle)
            self._drain.stop(grace)
            shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            with _registry_lock:
                _registry.discard(self)

    @interrupts.deferred()  # a second Ctrl-C must not cut the clean-up short
    def kill(self, grace: float | None = None) -> None:
        """Synchronously end the whole tree and clean up; idempotent.

        SIGTERM to the plugin's group and every descendant (and their groups), SIGKILL to what
        survives ``grace`` s (default ``timeouts.kill_grace``; 0 = SIGKILL at once), reap,
        close the pipes and remove :attr:`workdir` (socket included).
        """
        if self._closed:
            return
        grace = self.config.timeouts.kill_grace if grace is None else grace
        try:
            if grace > 0:
                self._signal_everything(signal.SIGTERM)
                self._wait_dead_sync(time.monotonic() + grace)
            self._signal_everything(signal.SIGKILL)
            self._wait_dead_sync(time.monotonic() + self.config.timeouts.kill_grace)
        finally:
            self._finish(settle=self.config.timeouts.kill_grace)

    close = kill

    async def stop(self) -> None:
        """Async :meth:`kill` with the default grace; idempotent and cancellation-safe.

        If cancelled or interrupted part-way, it finishes synchronously with SIGKILL.
        """
        if self._closed:
            return
        timeouts = self.config.timeouts
        try:
            self._signal_everything(signal.SIGTERM)
            await self._wait_dead(time.monotonic() + timeouts.kill_grace)
            self._signal_everything(signal.SIGKILL)
            await self._wait_dead(time.monotonic() + timeouts.kill_grace)
            await self._settle_output(timeouts.kill_grace)
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
