"""Exceptions the harness raises on purpose (as opposed to bugs)."""

from __future__ import annotations


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
