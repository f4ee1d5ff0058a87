"""Nothing a plugin started outlives the harness.

Every live :class:`~octa_conformance.supervisor.PluginProcess` is registered here until it
has cleaned up. :func:`kill_all` kills all of them synchronously; it runs at interpreter
exit (``atexit``), and front ends (the CLI, the pytest plugin) also call it when the run is
interrupted (Ctrl-C, SIGTERM). On Linux the harness makes itself a child subreaper, so a
plugin's orphans re-parent to it instead of to init, where they can still be found.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from octa_conformance import interrupts

if TYPE_CHECKING:
    from octa_conformance.supervisor import PluginProcess

__all__ = [
    "become_subreaper",
    "is_subreaper",
    "kill_all",
    "register",
    "registered",
    "unregister",
]

_PR_SET_CHILD_SUBREAPER = 36

_lock = threading.Lock()
_registry: set[PluginProcess] = set()
_subreaper_tried = False
_subreaper = False


def become_subreaper() -> None:
    """Make this process a child subreaper (Linux), once; failure is ignored."""
    global _subreaper_tried, _subreaper
    with _lock:
        if _subreaper_tried:
            return
        _subreaper_tried = True
        if not sys.platform.startswith("linux"):
            return
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            one, zero = ctypes.c_ulong(1), ctypes.c_ulong(0)
            done = libc.prctl(ctypes.c_int(_PR_SET_CHILD_SUBREAPER), one, zero, zero, zero)
            _subreaper = done == 0


def is_subreaper() -> bool:
    """Whether :func:`become_subreaper` succeeded: every orphan of a plugin's tree then
    becomes a child of this process (unless a closer ancestor is a subreaper itself)."""
    return _subreaper


def register(process: PluginProcess) -> None:
    """Keep ``process`` for :func:`kill_all` until :func:`unregister`."""
    with _lock:
        _registry.add(process)


def unregister(process: PluginProcess) -> None:
    with _lock:
        _registry.discard(process)


def registered() -> list[PluginProcess]:
    """The plugin processes that have not cleaned up yet."""
    with _lock:
        return list(_registry)


@interrupts.deferred()  # a second Ctrl-C must not cut the clean-up short
def kill_all() -> None:
    """Synchronously kill every plugin process tree that is still running, then clean up.

    Idempotent and safe to call from an interrupt handler; registered with ``atexit``.
    All trees get SIGTERM at once; the plugins share one ``kill_grace`` to exit, then
    whatever is left of every tree gets SIGKILL (as in ``PluginProcess.stop``).
    """
    live = [p for p in registered() if not p.closed]
    if not live:
        return
    for proc in live:
        with contextlib.suppress(Exception):
            proc.tree.signal(signal.SIGTERM)
    deadline = time.monotonic() + max(p.config.timeouts.kill_grace for p in live)
    for proc in live:
        with contextlib.suppress(Exception):
            proc.tree.block_until_main_gone(deadline)
    for proc in live:
        with contextlib.suppress(Exception):
            proc.kill(grace=0)


atexit.register(kill_all)
