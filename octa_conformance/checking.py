"""What a check is made of: the ``@check`` marker and the failure helpers.

A check is a small pytest test::

    @check(
        "shutdown.acknowledged",
        "MUST",
        section="4.4",
        summary="`Shutdown` on an idle session is answered by `Shutdown{message}` within 5 s",
    )
    async def test_shutdown_is_acknowledged(octa):
        host = await octa.ready()
        reply = await host.shutdown()
        expect(reply.message is not None, "a Shutdown{message} response", repr(reply))

Its failure message says what was expected and what arrived; the wire transcript of every
host the check opened is appended by the pytest plugin.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import pytest

from octa_conformance import catalogue

F = TypeVar("F", bound=Callable[..., Any])
MARKER = "octa_check"


class CheckFailure(AssertionError):
    """A check found the plugin not conforming."""

    def __init__(self, expected: str, got: str, hint: str = "") -> None:
        self.expected, self.got, self.hint = expected, got, hint
        lines = [f"expected: {expected}", f"     got: {got}"]
        if hint:
            lines.append(f"    hint: {hint}")
        super().__init__("\n".join(lines))


def fail(expected: str, got: str, hint: str = "") -> NoReturn:
    """Fail the current check with what was expected and what arrived."""
    raise CheckFailure(expected, got, hint)


def expect(condition: object, expected: str, got: str | Callable[[], str], hint: str = "") -> None:
    """``fail(expected, got, hint)`` unless ``condition`` holds (``got`` may be lazy)."""
    if not condition:
        fail(expected, got() if callable(got) else got, hint)


def check(
    check_id: str,
    level: str,
    *,
    section: str,
    summary: str,
    probes: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Declare a check: its id, level (``"MUST"``, ``"SHOULD"`` or ``"INFO"``), the
    ``docs/protocol.md`` section(s) it judges, its one-line ``summary`` (the catalogue's
    description) and the ``probes`` it needs.

    The catalogue is derived from these declarations, read from the suite files without
    running them: the arguments must be literals. Called, ``check`` verifies them against the
    derived entry (:class:`~octa_conformance.catalogue.CatalogueError` if they differ).
    """
    spec = catalogue.declared(check_id, level, section, summary, tuple(probes))

    def decorate(fn: F) -> F:
        fn = pytest.mark.octa_check(spec.id, level=spec.level.value)(fn)
        # the pytest plugin parametrizes it: the test is named test_x[area.check-id]
        fn = pytest.mark.usefixtures("octa_check_id")(fn)
        if inspect.iscoroutinefunction(fn):
            fn = pytest.mark.asyncio(fn)
        return fn

    return decorate


def check_id_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker(MARKER)
    return marker.args[0] if marker else None
