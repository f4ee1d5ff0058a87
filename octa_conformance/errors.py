"""Exceptions the harness raises on purpose (as opposed to bugs).

:class:`LaunchError` comes from starting a plugin; the :class:`HostError` family from the
fake host (``FakeOcta``, its ``Run`` handles) when the plugin did not answer as needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from octa_conformance.protocol import ErrorReply, Response, Violation


class OctaConformanceError(Exception):
    """Base class of every error the harness raises deliberately."""


class LaunchError(OctaConformanceError):
    """The plugin could not be started, or did not start listening on its socket.

    ``headline`` is a one-line summary; ``output`` an excerpt of the plugin's
    stdout/stderr (possibly empty). ``str()`` gives the headline followed by the excerpt.
    """

    def __init__(self, headline: str, *, output: str = "") -> None:
        self.headline = headline
        self.output = output
        super().__init__(f"{headline}\n{output}" if output else headline)


class HostError(OctaConformanceError):
    """The plugin did not behave as the host needed; the message says how."""


class ReplyTimeout(HostError):
    """Nothing (suitable) arrived before the deadline."""


class ConnectionClosed(HostError):
    """The plugin closed the connection while the host was waiting."""


class UnexpectedReply(HostError):
    """A command was answered by a frame of the wrong type."""

    def __init__(self, message: str, frame: Response) -> None:
        super().__init__(message)
        self.frame = frame


class MalformedReply(HostError):
    """A command was answered by a frame the host could not decode (Octa: parse error)."""

    def __init__(self, message: str, violation: Violation) -> None:
        super().__init__(message)
        self.violation = violation


class UndecodableTerminal(HostError):
    """A running command's terminal frame could not be decoded: Octa drops such a frame,
    so for Octa the command would never finish."""

    def __init__(self, message: str, violation: Violation) -> None:
        super().__init__(message)
        self.violation = violation


class PluginRefused(HostError):
    """A command was answered by an ``Error`` frame."""

    def __init__(self, message: str, error: ErrorReply) -> None:
        super().__init__(message)
        self.error = error
