"""A bounded record of everything that crossed the wire, for failure messages.

Recording is cheap (a tuple append); formatting happens only when a message is shown.
The first ``head`` and the last ``tail`` entries are kept; a flood in between is counted.
The transcript is for display only: the evidence the checks judge by (every violation) is
kept by the session (``HostSession.violations``), not here.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from octa_conformance.protocol.violations import Violation, quote

HOST, PLUGIN, NOTE = "host", "plugin", "note"
_ARROWS = {HOST: "host   ->", PLUGIN: "plugin <-", NOTE: "note    "}


@dataclass(frozen=True, slots=True)
class Entry:
    """One transcript line: when, which way, the bytes, and what they meant."""

    t: float  # time.monotonic()
    direction: str  # HOST, PLUGIN or NOTE
    raw: bytes
    item: Any = None  # Command, Response, Violation or note text


class Transcript:
    """Every frame both ways and every violation, with monotonic timestamps (bounded)."""

    def __init__(self, head: int = 2000, tail: int = 2000, label: str = "") -> None:
        self.t0 = time.monotonic()
        self.label = label
        self._head: list[Entry] = []
        self._tail: deque[Entry] = deque(maxlen=tail)
        self._head_max = head
        self.count = 0

    def add(self, direction: str, raw: bytes, item: Any = None) -> None:
        entry = Entry(time.monotonic(), direction, raw, item)
        self.count += 1
        if len(self._head) < self._head_max:
            self._head.append(entry)
        else:
            self._tail.append(entry)

    def sent(self, raw: bytes, command: Any = None) -> None:
        self.add(HOST, raw, command)

    def received(self, raw: bytes, frame: Any = None) -> None:
        self.add(PLUGIN, raw, frame)

    def violation(self, v: Violation) -> None:
        self.add(NOTE, b"", v)

    def note(self, text: str) -> None:
        self.add(NOTE, b"", text)

    @property
    def entries(self) -> list[Entry]:
        """Kept entries in order (the middle of a flood is dropped)."""
        return self._head + list(self._tail)

    @property
    def dropped(self) -> int:
        return self.count - len(self._head) - len(self._tail)

    def format(self, last: int = 40, width: int = 200) -> str:
        """The last ``last`` entries, one per line, with times relative to the start."""
        entries = self.entries
        lines = []
        skipped = len(entries) - last + self.dropped
        if skipped > 0:
            lines.append(f"  ... {skipped} earlier entries not shown ...")
        for e in entries[-last:]:
            lines.append(format_entry(e, self.t0, width))
        title = f"wire transcript{(' of ' + self.label) if self.label else ''}"
        return f"{title} ({self.count} entries):\n" + "\n".join(lines)


def format_entry(e: Entry, t0: float, width: int = 200) -> str:
    stamp = f"{e.t - t0:+8.3f}s"
    if e.direction == NOTE:
        what = f"!! {e.item}" if isinstance(e.item, Violation) else f"-- {e.item}"
        return f"  {stamp} {_ARROWS[NOTE]} {what[:width]}"
    shown = quote(e.raw.rstrip(b"\n"), width)
    return f"  {stamp} {_ARROWS[e.direction]} {shown}"
