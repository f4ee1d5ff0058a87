"""One place for every bound the harness uses.

The defaults mirror the real Octa 0.2.1 host (docs/protocol.md §1 and §4); a slow machine
can stretch all of them at once with ``Timeouts().scaled(factor)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

DEFAULT_OCTA_VERSION = "0.2.1"
DEFAULT_MAX_FRAME = 16 * 1024 * 1024
DEFAULT_OUTPUT_BUFFER = 1024 * 1024
DEFAULT_FLOOD_LINES = 20_000
"""Lines a plugin may send since the host last wrote before the host skims them as a flood
(``connection.py``): 10 times the most any bundled check asks for (the ``lines`` probe's
2,000)."""


@dataclass(frozen=True)
class Timeouts:
    """Deadlines in seconds. ``poll`` is the fast-poll period, never scaled."""

    connect: float = 5.0  # Octa retries connect() for at most 5 s
    reply: float = 5.0  # harness bound for a direct reply (Hello, Schema, Started, Error)
    shutdown_reply: float = 5.0  # Octa waits 5 s for the Shutdown response
    exit: float = 1.0  # then 1 s for the process to exit before SIGKILL
    command: float = 30.0  # harness bound for one probe command to finish
    kill_grace: float = 1.0  # SIGTERM to the process groups, then SIGKILL after this
    poll: float = 0.005  # fast polling period where no event can be awaited
    factor: float = 1.0  # the scale already applied

    def scaled(self, factor: float) -> Timeouts:
        """Return a copy with every deadline multiplied by ``factor`` (poll unchanged)."""
        if factor <= 0:
            raise ValueError(f"timeout scale must be positive, got {factor!r}")
        values = {
            f.name: getattr(self, f.name) * factor
            for f in dataclasses.fields(self)
            if f.name not in ("poll", "factor")
        }
        return dataclasses.replace(self, **values, factor=self.factor * factor)


@dataclass(frozen=True)
class HarnessConfig:
    """Everything a run needs besides the plugin itself."""

    octa_version: str = DEFAULT_OCTA_VERSION
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_frame: int = DEFAULT_MAX_FRAME
    output_buffer: int = DEFAULT_OUTPUT_BUFFER  # bytes of plugin stdout/stderr kept
    plugin_args: tuple[str, ...] = ()
    # lines since the host last wrote before it skims a flood; None: read every line (a
    # script of your own that expects more output than this from one command)
    flood_lines: int | None = DEFAULT_FLOOD_LINES

    def scaled(self, factor: float) -> HarnessConfig:
        return dataclasses.replace(self, timeouts=self.timeouts.scaled(factor))
