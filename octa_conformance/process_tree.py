"""Every process a plugin started, wherever it went: find them, signal them, wait until gone.

Descendants are found three ways: walking the process tree from the plugin and from every
process seen before; scanning process environments for the marker variable
:data:`SESSION_ENV_VAR` (a random per-launch token: it only tags processes, it is **not**
a secret); and by picking up orphans re-parented to the harness (a child subreaper, see
:mod:`octa_conformance.reaper`) that stayed in the plugin's process group. Zombies
re-parented to the harness are reaped.

Waiting is event-driven through pidfds where the platform has them, else a fast poll. One
wait loop (:class:`_Rounds`) serves both the blocking and the asyncio callers; only the
wait for "one of these processes ended" differs between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import psutil

from octa_conformance import reaper, waits

__all__ = ["SESSION_ENV_VAR", "ProcessTree", "block_until_gone", "wait_until_gone"]

SESSION_ENV_VAR = "OCTA_CONFORMANCE_SESSION"
"""Marker variable added to the plugin's environment; its value is a per-launch token."""

Alive = Callable[[], list[psutil.Process]]


# --------------------------------------------------------------------------------------
# waiting


class _Rounds:
    """The one wait loop: each round yields ``(processes still alive, seconds left)``.

    The caller waits (blocking or awaiting) until one of them ends or the time is up, then
    the next round looks again. Iteration stops when nothing is alive (:attr:`gone`) or
    ``deadline`` (on ``time.monotonic()``) has passed.
    """

    def __init__(self, alive: Alive, deadline: float) -> None:
        self._alive = alive
        self._deadline = deadline
        self.gone = False

    def __iter__(self) -> Iterator[tuple[list[psutil.Process], float]]:
        while True:
            alive = self._alive()
            if not alive:
                self.gone = True
                return
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                return
            yield alive, remaining


def block_until_gone(alive: Alive, deadline: float, poll: float) -> bool:
    """Block until ``alive()`` is empty or ``deadline`` (monotonic); whether it is empty."""
    started = time.monotonic()
    rounds = _Rounds(alive, deadline)
    for procs, remaining in rounds:
        with _ExitWatch(procs, remaining, poll) as watch:
            watch.block()
    if not rounds.gone:
        waits.expired(started, "processes to end")
    return rounds.gone


async def wait_until_gone(alive: Alive, deadline: float, poll: float) -> bool:
    """:func:`block_until_gone` for asyncio callers: the loop keeps running meanwhile."""
    started = time.monotonic()
    rounds = _Rounds(alive, deadline)
    for procs, remaining in rounds:
        with _ExitWatch(procs, remaining, poll) as watch:
            await watch.wait()
    if not rounds.gone:
        waits.expired(started, "processes to end")
    return rounds.gone


class _ExitWatch:
    """Pidfds for some processes: wait until one of them ends, for at most ``timeout`` s.

    Where a process cannot be watched by a pidfd, the wait lasts at most ``poll`` s, so the
    caller's next round looks again. If one of them is already gone, there is no wait.
    """

    def __init__(self, procs: Sequence[psutil.Process], timeout: float, poll: float) -> None:
        self.fds: list[int] = []
        self.ended = False  # one of them is already gone
        unwatched = False
        try:
            for proc in procs:
                fd = _open_pidfd(proc)
                if fd == -1:
                    self.ended = True
                    break
                if fd is None:
                    unwatched = True
                else:
                    self.fds.append(fd)
        except BaseException:
            _close_fds(*self.fds)
            raise
        self.timeout = min(timeout, poll) if unwatched else timeout
        self.poll = poll

    def __enter__(self) -> _ExitWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        _close_fds(*self.fds)

    def block(self) -> None:
        if self.ended:
            return
        if not self.fds:
            time.sleep(self.timeout)
            return
        with selectors.DefaultSelector() as sel:
            for fd in self.fds:
                sel.register(fd, selectors.EVENT_READ)
            sel.select(self.timeout)

    async def wait(self) -> None:
        if self.ended:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        watched: list[int] = []
        timeout = self.timeout

        def fire() -> None:
            if not done.done():
                done.set_result(None)

        try:
            for fd in self.fds:
                try:
                    loop.add_reader(fd, fire)
                except (NotImplementedError, OSError, ValueError, RuntimeError):
                    timeout = min(timeout, self.poll)
                    continue
                watched.append(fd)
            if watched:
                await asyncio.wait([done], timeout=timeout)
            else:
                await asyncio.sleep(timeout)
        finally:
            for fd in watched:
                loop.remove_reader(fd)


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


def _close_fds(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


# --------------------------------------------------------------------------------------
# the tree


class ProcessTree:
    """The plugin process (``popen``) and every process it started, tracked as they appear.

    ``token`` is the value of :data:`SESSION_ENV_VAR` in the plugin's environment; ``poll``
    the fast-poll period where no event can be awaited. Thread-safe.
    """

    def __init__(self, popen: subprocess.Popen[bytes], token: str, poll: float) -> None:
        self.pid = popen.pid
        self.pgid = popen.pid  # the plugin leads its own process group
        self.main = psutil.Process(popen.pid)  # not reaped yet, so this is our process
        self._popen = popen
        self._main_created = self.main.create_time()
        self._token = token
        self._poll = poll
        self._lock = threading.RLock()
        self._tracked: dict[int, psutil.Process] = {}
        self._foreign: set[tuple[int, float]] = set()  # children of ours that are not its

    def descendants(self) -> list[psutil.Process]:
        """Live (non-zombie) processes the plugin started, wherever they moved since.

        Includes processes that called ``setsid()`` and orphans (after the plugin exited,
        or left behind by a command it ran); excludes the plugin itself. Every process
        found is remembered, so it is signalled and waited for by :meth:`signal` and
        :meth:`block_until_gone` even once nothing ties it to the plugin any more.
        """
        with self._lock:
            self._discover(full=True)
            return self._live_tracked()

    def reap(self) -> None:
        """Reap the zombies among the tracked processes that were re-parented to us."""
        with self._lock:
            self._live_tracked()

    def signal(self, sig: int, *, rescan: bool = True) -> None:
        """Send ``sig`` to the plugin's group, every descendant and the groups they lead.

        ``rescan=False`` skips the scan of every process's environment for the marker (the
        tree walk and the orphans re-parented to the harness are still looked at): for a
        second signal right after a first one, which has done that scan.
        """
        with self._lock:
            self._discover(full=rescan)
            procs = self._live_tracked()
            tracked = set(self._tracked)
        main_running = self._popen.poll() is None
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
                self._popen.send_signal(sig)
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)  # checks create_time: safe against pid reuse

    def block_until_gone(self, deadline: float) -> bool:
        """Block until the plugin and every tracked descendant are gone, or ``deadline``
        (on ``time.monotonic()``); whether they are."""
        return block_until_gone(self._alive, deadline, self._poll)

    async def wait_until_gone(self, deadline: float) -> bool:
        """:meth:`block_until_gone` for asyncio callers."""
        return await wait_until_gone(self._alive, deadline, self._poll)

    def block_until_main_gone(self, deadline: float) -> bool:
        """Block until the plugin process itself has exited, or ``deadline`` (monotonic);
        whether it has. Its descendants are not waited for."""
        return block_until_gone(self._main_alive, deadline, self._poll)

    async def wait_until_main_gone(self, deadline: float) -> bool:
        """:meth:`block_until_main_gone` for asyncio callers."""
        return await wait_until_gone(self._main_alive, deadline, self._poll)

    def _main_alive(self) -> list[psutil.Process]:
        return [self.main] if self._popen.poll() is None else []

    def _alive(self) -> list[psutil.Process]:
        with self._lock:
            self._discover(full=False)
            alive = self._live_tracked()
        if self._popen.poll() is None:
            alive.insert(0, self.main)
        return alive

    def _track(self, proc: psutil.Process) -> None:
        if proc.pid in (self.pid, os.getpid()):
            return
        known = self._tracked.get(proc.pid)
        if known is None or not known.is_running():
            self._tracked[proc.pid] = proc

    def _discover(self, *, full: bool) -> None:
        """Add newly started descendants to the tracked set (``full``: also scan all envs)."""
        roots = list(self._tracked.values())
        if self._popen.returncode is None:
            roots.insert(0, self.main)
        for root in roots:
            with contextlib.suppress(psutil.Error):
                for child in root.children(recursive=True):
                    self._track(child)
        me = os.getpid()
        if full or reaper.is_subreaper():
            with contextlib.suppress(psutil.Error):
                # Orphans re-parented to us (subreaper): those that stayed in the plugin's
                # group, and those that carry its marker (e.g. after setsid()).
                for child in psutil.Process(me).children():
                    if child.pid == self.pid or child.pid in self._tracked:
                        continue
                    with contextlib.suppress(OSError, psutil.Error):
                        if self._is_orphan(child):
                            self._track(child)
                            for grandchild in child.children(recursive=True):
                                self._track(grandchild)
        if not full:
            return
        for proc in psutil.process_iter(["create_time"]):
            if proc.pid in (me, self.pid) or proc.pid in self._tracked:
                continue
            created = proc.info.get("create_time")
            if created is None or created < self._main_created:
                continue
            try:
                marker = proc.environ().get(SESSION_ENV_VAR)
            except psutil.Error:
                continue
            if marker == self._token:
                self._track(proc)

    def _is_orphan(self, child: psutil.Process) -> bool:
        """Whether ``child``, a child of the harness other than the plugin, is one of the
        plugin's (in its group, or carrying its marker). Children found foreign are
        remembered, so their environment is read once."""
        key = (child.pid, child.create_time())
        if key in self._foreign:
            return False
        if os.getpgid(child.pid) == self.pgid:
            return True
        if child.create_time() >= self._main_created:
            with contextlib.suppress(psutil.Error):
                if child.environ().get(SESSION_ENV_VAR) == self._token:
                    return True
        self._foreign.add(key)
        return False

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
