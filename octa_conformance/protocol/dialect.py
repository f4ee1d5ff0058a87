"""The two wire dialects of the protocol (docs/protocol.md §3)."""

from __future__ import annotations

import enum


class Dialect(str, enum.Enum):
    """``V0_2_0``: responses internally tagged, Execute has ``command``.
    ``V0_2_1``: responses adjacently tagged (``payload``), Execute has ``params``."""

    V0_2_0 = "0.2.0"
    V0_2_1 = "0.2.1"

    @classmethod
    def for_octa_version(cls, version: str) -> Dialect:
        """The dialect that an Octa host of ``version`` speaks (raises ValueError)."""
        from octa_conformance.semver import parse_version

        v = parse_version(version)
        return cls.V0_2_0 if (v.major, v.minor, v.patch) < (0, 2, 1) else cls.V0_2_1

    @property
    def adjacent(self) -> bool:
        return self is Dialect.V0_2_1
