"""After Ctrl-C or SIGTERM: start no further check, and keep the interrupt's side effects
(abandoned asyncio tasks, a KeyboardInterrupt raised where Python cannot raise it) quiet."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from octa_conformance import interrupts
from octa_conformance.pytest_plugin.stash import OPTIONS_KEY


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Start no check after Ctrl-C or SIGTERM, even if the interrupt got swallowed."""
    if interrupts.received() and OPTIONS_KEY in item.config.stash:
        raise KeyboardInterrupt("interrupted")


def unraisable_hook(previous: Any) -> Any:
    """``sys.unraisablehook`` that drops the KeyboardInterrupt of our own signal handler when
    it lands where Python cannot raise it (a weakref callback, a ``__del__``): the interrupt
    is remembered anyway (``interrupts.received()``), so it needs no traceback."""

    def hook(unraisable: Any) -> None:
        exc = unraisable.exc_value
        if isinstance(exc, KeyboardInterrupt) and str(exc).startswith("signal "):
            return
        previous(unraisable)

    hook.octa_interrupt_filter = True  # type: ignore[attr-defined]
    return hook


def quiet_after_interrupt(loop: asyncio.AbstractEventLoop) -> list[bool]:
    """After Ctrl-C, keep asyncio from logging what abandoned tasks raise.

    The interrupt leaves the event loop and abandons the check's own task in the middle of
    an ``await``; when the check's clean-up then closes the plugin's connection, that task
    wakes up and ends with an exception nobody will retrieve, and asyncio would log "Task
    exception was never retrieved" with a traceback (whenever the task is collected). Once
    the returned flag is set (the clean-up does it after an interrupt), such reports of this
    loop are dropped; anything else goes to the loop's previous handler.
    """
    interrupted = [False]
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if (interrupted[0] or interrupts.received()) and "exception" in context:
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    return interrupted
