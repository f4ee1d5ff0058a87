"""Ctrl-C and SIGTERM unwind the harness at once, wherever it is.

Both signals raise :class:`KeyboardInterrupt` in the main thread, so every ``finally`` and
``async with`` on the way out runs and stops the plugin processes it started.

Installing our own SIGINT handler also keeps :class:`asyncio.Runner` (used by
``asyncio.run`` and pytest-asyncio) from installing its own, which only *cancels* the
running task: a task that absorbs that cancellation in its cleanup would lose the
interrupt, and the run would go on as if nothing had happened.

Two more guards keep an interrupt from getting lost:

* :func:`deferred` holds an interrupt back while a few lines that must not be cut in
  half run (a process started but not yet registered for clean-up, say) and raises it
  right after them;
* :func:`received` remembers that a signal came, so the front doors report the run as
  interrupted even if some code on the way swallowed the :class:`KeyboardInterrupt`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

_received: int | None = None  # the last signal that came while our handler was installed
_pending: int | None = None  # a signal held back by deferred()
_depth = 0  # nesting of deferred() in the main thread


def _raise_interrupt(signum: int, frame: Any) -> None:
    global _received, _pending
    _received = signum
    if _depth:
        _pending = signum
        return
    _interrupt(signum)


def _interrupt(signum: int) -> None:
    """Raise KeyboardInterrupt; inside a running event loop, from the loop itself.

    Raised in the middle of a task's code, it would end that task with the exception
    (and asyncio would later log "Task exception was never retrieved" with a traceback).
    Raised from a loop callback, it leaves ``run_until_complete`` like Ctrl-C during a
    ``select``, and the tasks still pending are cancelled, so their clean-up runs.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise KeyboardInterrupt(f"signal {signum}") from None
    loop.call_soon_threadsafe(_raise_now, signum)  # wakes the loop if it is waiting


def _raise_now(signum: int) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install() -> dict[int, Any]:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt; return the handlers replaced.

    Only default handlers are replaced (someone else's handler is left alone), and only in
    the main thread, the one place Python runs signal handlers.
    """
    global _received, _pending
    replaced: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return replaced
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    for sig, default in defaults.items():
        if signal.getsignal(sig) is default:
            replaced[sig] = signal.signal(sig, _raise_interrupt)
    if replaced:
        _received = _pending = None
    return replaced


def restore(replaced: dict[int, Any]) -> None:
    """Put back the handlers :func:`install` replaced (and forget any signal seen)."""
    global _received, _pending
    for sig, previous in replaced.items():
        signal.signal(sig, previous)
    if replaced:
        _received = _pending = None


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt while inside."""
    replaced = install()
    try:
        yield
    finally:
        restore(replaced)


def received() -> bool:
    """Whether SIGINT or SIGTERM arrived since our handler was installed (until restored)."""
    return _received is not None


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold back SIGINT/SIGTERM inside the block; interrupt as soon as it ends.

    For short synchronous sections only (never across an ``await``); also usable as a
    decorator. Outside the main thread, and where our handler is not installed, it
    changes nothing.
    """
    global _depth, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending is not None:
            signum, _pending = _pending, None
            _interrupt(signum)
