"""Cargo-compatible semantic versions and version requirements.

A pure-Python reimplementation of the parts of the Rust ``semver`` crate (1.0.x) that the
Octa host uses: ``Version::parse``, ``VersionReq::parse`` and ``VersionReq::matches``
(see docs/protocol.md §5).  Highlights of the crate's rules reproduced here:

* versions are strict: ``MAJOR.MINOR.PATCH[-PRE][+BUILD]``, no leading ``v``, no
  surrounding whitespace, no leading zeros, every number fits in a u64;
* a requirement is up to 32 comma-separated comparators; a bare version means ``^``;
  only ASCII spaces are skipped (before/after operators, versions and commas);
* ``*``/``x``/``X`` alone (optionally space-padded) matches every release; as the major
  part of a comparator, or beside other comparators, it is an error;
* a pre-release version matches only if some comparator has the same ``major.minor.patch``
  *and* a pre-release tag; build metadata is parsed but ignored.

On top of matching, :func:`bounds`, :func:`probe_versions` and :func:`is_unbounded_above`
describe which release versions a requirement accepts, so a harness can pick host versions
on either side of a plugin's requirement.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

__all__ = [
    "U64_MAX",
    "Bounds",
    "Comparator",
    "Op",
    "Requirement",
    "Version",
    "bounds",
    "is_unbounded_above",
    "matches",
    "parse_requirement",
    "parse_version",
    "probe_versions",
]

U64_MAX = 2**64 - 1
MAX_COMPARATORS = 32

Identifier = str | int
Prerelease = tuple[Identifier, ...]
_Triple = tuple[int, int, int]

_DIGITS = frozenset("0123456789")
_IDENT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")
_WILDCARDS = frozenset("*xX")

_MAJOR = "major version number"
_MINOR = "minor version number"
_PATCH = "patch version number"
_PRE = "pre-release identifier"
_BUILD = "build metadata"


# --------------------------------------------------------------------------- pre-releases


def _ident_key(ident: Identifier) -> tuple[int, int, str]:
    # Numeric identifiers sort numerically and before alphanumeric ones (ASCII order).
    if isinstance(ident, int):
        return (0, ident, "")
    return (1, 0, ident)


def _pre_key(pre: Prerelease) -> tuple:
    """Sort key for a pre-release: a release (empty pre) sorts after every pre-release."""
    if not pre:
        return (1,)
    return (0, tuple(_ident_key(i) for i in pre))


def _normalize_pre(pre: str | Iterable[Identifier]) -> Prerelease:
    if isinstance(pre, str):
        pre = tuple(pre.split(".")) if pre else ()
    out: list[Identifier] = []
    for ident in pre:
        if isinstance(ident, bool) or not isinstance(ident, (int, str)):
            raise TypeError(f"pre-release identifier must be str or int, not {ident!r}")
        if isinstance(ident, str) and ident and set(ident) <= _DIGITS:
            ident = int(ident)
        if isinstance(ident, int) and ident < 0:
            raise ValueError(f"negative pre-release identifier {ident}")
        out.append(ident)
    return tuple(out)


def _pre_str(pre: Prerelease) -> str:
    return ".".join(str(i) for i in pre)


# --------------------------------------------------------------------------- low-level parsing


def _describe(text: str, i: int) -> str:
    return f"unexpected character {text[i]!r}" if i < len(text) else "unexpected end of input"


def _numeric(text: str, i: int, pos: str) -> tuple[int, int]:
    """Parse a u64 without leading zeros at ``text[i:]``; return (value, new index)."""
    start = i
    n = len(text)
    while i < n and text[i] in _DIGITS:
        i += 1
    if i == start:
        raise ValueError(f"{_describe(text, i)} while parsing {pos}")
    if text[start] == "0" and i - start > 1:
        raise ValueError(f"invalid leading zero in {pos}")
    value = int(text[start:i])
    if value > U64_MAX:
        raise ValueError(f"value of {pos} exceeds u64::MAX")
    return value, i


def _identifier(text: str, i: int, pos: str) -> tuple[str, int]:
    """Parse dot-separated ``[0-9A-Za-z-]+`` segments; return (identifier, new index)."""
    start = i
    n = len(text)
    while True:
        seg = i
        while i < n and text[i] in _IDENT_CHARS:
            i += 1
        if i == seg:
            raise ValueError(f"empty identifier segment in {pos}")
        if pos == _PRE and i - seg > 1 and text[seg] == "0" and set(text[seg:i]) <= _DIGITS:
            raise ValueError(f"invalid leading zero in {pos}")
        if i < n and text[i] == ".":
            i += 1
            continue
        return text[start:i], i


def _skip_spaces(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] == " ":
        i += 1
    return i


# --------------------------------------------------------------------------- Version


@functools.total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version. Ordering and equality follow semver precedence (build ignored).

    ``pre`` holds the dot-separated pre-release identifiers, numeric ones as ``int``
    (a ``"alpha.1"`` string is accepted by the constructor and normalized).
    """

    major: int
    minor: int
    patch: int
    pre: Prerelease = ()
    build: str = field(default="", compare=False)
    _key: tuple = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name in ("major", "minor", "patch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U64_MAX:
                raise ValueError(f"{name} must be an int in [0, 2**64), got {value!r}")
        pre = _normalize_pre(self.pre)
        object.__setattr__(self, "pre", pre)
        object.__setattr__(self, "_key", (self.major, self.minor, self.patch, _pre_key(pre)))

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse like ``semver::Version::parse``; raise ValueError on invalid input."""
        try:
            return cls._parse(text)
        except ValueError as exc:
            raise ValueError(f"invalid version {text!r}: {exc}") from None

    @classmethod
    def _parse(cls, text: str) -> Version:
        if not text:
            raise ValueError("empty string, expected a semver version")
        major, i = _numeric(text, 0, _MAJOR)
        i = _expect_dot(text, i, _MAJOR)
        minor, i = _numeric(text, i, _MINOR)
        i = _expect_dot(text, i, _MINOR)
        patch, i = _numeric(text, i, _PATCH)
        pos = _PATCH
        pre_text = build = ""
        if text.startswith("-", i):
            pos = _PRE
            pre_text, i = _identifier(text, i + 1, _PRE)
        if text.startswith("+", i):
            pos = _BUILD
            build, i = _identifier(text, i + 1, _BUILD)
        if i < len(text):
            raise ValueError(f"unexpected character {text[i]!r} after {pos}")
        return cls(major, minor, patch, _normalize_pre(pre_text), build)

    @property
    def triple(self) -> _Triple:
        """``(major, minor, patch)``."""
        return (self.major, self.minor, self.patch)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.pre)

    def __str__(self) -> str:
        out = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            out += "-" + _pre_str(self.pre)
        if self.build:
            out += "+" + self.build
        return out

    def __repr__(self) -> str:
        return f"Version({str(self)!r})"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key


def _expect_dot(text: str, i: int, pos: str) -> int:
    if text.startswith(".", i):
        return i + 1
    if i < len(text):
        raise ValueError(f"unexpected character {text[i]!r} after {pos}")
    raise ValueError(f"unexpected end of input while parsing {pos}")


# --------------------------------------------------------------------------- Comparator


class Op(Enum):
    """Comparator operators; ``WILDCARD`` is a bare ``1.*`` / ``1.2.x`` comparator."""

    EXACT = "="
    GREATER = ">"
    GREATER_EQ = ">="
    LESS = "<"
    LESS_EQ = "<="
    TILDE = "~"
    CARET = "^"
    WILDCARD = "*"


_OPS_BY_PREFIX = (  # longest prefixes first
    (">=", Op.GREATER_EQ),
    ("<=", Op.LESS_EQ),
    ("=", Op.EXACT),
    (">", Op.GREATER),
    ("<", Op.LESS),
    ("~", Op.TILDE),
    ("^", Op.CARET),
)


@dataclass(frozen=True)
class Comparator:
    """One ``op major[.minor[.patch[-pre]]]`` term of a requirement (build is dropped)."""

    op: Op
    major: int
    minor: int | None = None
    patch: int | None = None
    pre: Prerelease = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "pre", _normalize_pre(self.pre))
        if self.pre and self.patch is None:
            raise ValueError("a comparator pre-release needs a patch number")
        if self.minor is None and self.patch is not None:
            raise ValueError("a comparator with a patch number needs a minor number")

    def _cmp(self, v: Version) -> int | None:
        """Three-way compare ``v`` against this comparator's version.

        Returns None when ``v`` agrees on every component the comparator specifies but the
        comparator is partial (missing minor or patch).
        """
        for mine, theirs in ((self.major, v.major), (self.minor, v.minor), (self.patch, v.patch)):
            if mine is None:
                return None
            if theirs != mine:
                return 1 if theirs > mine else -1
        vk, ck = _pre_key(v.pre), _pre_key(self.pre)
        return (vk > ck) - (vk < ck)

    def _matches_ignoring_pre_rule(self, v: Version) -> bool:
        op = self.op
        if op in (Op.TILDE, Op.CARET):
            return self._matches_tilde_caret(v)
        r = self._cmp(v)
        exact = r == 0 or (r is None and not v.pre)
        if op is Op.EXACT or op is Op.WILDCARD:
            return exact
        if op is Op.GREATER:
            return r is not None and r > 0
        if op is Op.LESS:
            return r is not None and r < 0
        if op is Op.GREATER_EQ:
            return exact or (r is not None and r > 0)
        return exact or (r is not None and r < 0)  # LESS_EQ

    def _matches_tilde_caret(self, v: Version) -> bool:
        if v.major != self.major:
            return False
        minor, patch = self.minor, self.patch
        if minor is None:
            # ~1 / ^1 / ^0: whole major (the pre-release tag is not compared here).
            return self.op is Op.CARET or not v.pre
        if self.op is Op.TILDE or self.major == 0:
            # Minor is pinned (tilde always; caret below 1.0).
            if v.minor != minor:
                return False
        elif v.minor != minor:
            return v.minor > minor
        if patch is None:
            return self.op is Op.CARET or not v.pre
        if self.op is Op.CARET and self.major == 0 and minor == 0:
            # ^0.0.p pins the patch too.
            if v.patch != patch:
                return False
        elif v.patch != patch:
            return v.patch > patch
        return _pre_key(v.pre) >= _pre_key(self.pre)

    def _pre_compatible(self, v: Version) -> bool:
        return bool(self.pre) and (self.major, self.minor, self.patch) == v.triple

    def matches(self, v: Version) -> bool:
        """Whether ``v`` satisfies this comparator on its own (pre-release rule included)."""
        return self._matches_ignoring_pre_rule(v) and (not v.pre or self._pre_compatible(v))

    def __str__(self) -> str:
        out = "" if self.op is Op.WILDCARD else self.op.value
        out += str(self.major)
        if self.minor is None:
            return out + (".*" if self.op is Op.WILDCARD else "")
        out += f".{self.minor}"
        if self.patch is None:
            return out + (".*" if self.op is Op.WILDCARD else "")
        out += f".{self.patch}"
        if self.pre:
            out += "-" + _pre_str(self.pre)
        return out

    # -- release-version interval --------------------------------------------------------

    def _release_interval(self) -> tuple[_Triple, _Triple | None] | None:
        """The release versions this comparator accepts, as ``[low, high)`` triples.

        ``high`` None means unbounded; the result None means no release matches.  ``high``
        may exceed u64 in a component (callers normalize it with :func:`_carry`).
        """
        op, major, minor, patch = self.op, self.major, self.minor, self.patch
        lo: _Triple = (major, minor or 0, patch or 0)
        if patch is not None:
            after: _Triple = (lo[0], lo[1], lo[2] + 1)
        elif minor is not None:
            after = (lo[0], lo[1] + 1, 0)
        else:
            after = (major + 1, 0, 0)
        zero: _Triple = (0, 0, 0)
        if op in (Op.EXACT, Op.WILDCARD):
            return None if self.pre else (lo, after)
        if op is Op.GREATER:
            return (lo, None) if self.pre else (after, None)
        if op is Op.GREATER_EQ:
            return (lo, None)
        if op is Op.LESS:
            return (zero, lo)
        if op is Op.LESS_EQ:
            return (zero, lo) if self.pre else (zero, after)
        if op is Op.TILDE:
            if minor is None:
                return (lo, (major + 1, 0, 0))
            return (lo, (major, minor + 1, 0))
        # CARET
        if major > 0 or minor is None:
            return (lo, (major + 1, 0, 0))
        if minor > 0 or patch is None:
            return (lo, (0, minor + 1, 0))
        return (lo, (0, 0, patch + 1))


# --------------------------------------------------------------------------- Requirement


@dataclass(frozen=True)
class Requirement:
    """A Cargo version requirement: all comparators must match (empty means ``*``)."""

    comparators: tuple[Comparator, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Requirement:
        """Parse like ``semver::VersionReq::parse``; raise ValueError on invalid input."""
        try:
            return cls._parse(text)
        except ValueError as exc:
            raise ValueError(f"invalid version requirement {text!r}: {exc}") from None

    @classmethod
    def _parse(cls, text: str) -> Requirement:
        i = _skip_spaces(text, 0)
        if i < len(text) and text[i] in _WILDCARDS:
            j = _skip_spaces(text, i + 1)
            if j == len(text):
                return cls(())
            if text[j] == ",":
                raise ValueError(
                    f"wildcard req ({text[i]}) must be the only comparator in the version req"
                )
            raise ValueError("unexpected character after wildcard in version req")
        comparators: list[Comparator] = []
        while True:
            comparator, pos, i = _parse_comparator(text, i)
            comparators.append(comparator)
            if i == len(text):
                return cls(tuple(comparators))
            if text[i] != ",":
                raise ValueError(f"expected comma after {pos}, found {text[i]!r}")
            if len(comparators) == MAX_COMPARATORS:
                raise ValueError("excessive number of version comparators")
            i = _skip_spaces(text, i + 1)

    def matches(self, v: Version | str) -> bool:
        """Whether version ``v`` satisfies the requirement (``VersionReq::matches``)."""
        if isinstance(v, str):
            v = parse_version(v)
        if not all(c._matches_ignoring_pre_rule(v) for c in self.comparators):
            return False
        return not v.pre or any(c._pre_compatible(v) for c in self.comparators)

    def __str__(self) -> str:
        if not self.comparators:
            return "*"
        return ", ".join(str(c) for c in self.comparators)


def _parse_comparator(text: str, i: int) -> tuple[Comparator, str, int]:
    """Parse one comparator at ``text[i:]``; return it, the last position name, new index."""
    op = Op.CARET
    default_op = True
    for prefix, candidate in _OPS_BY_PREFIX:
        if text.startswith(prefix, i):
            op, default_op = candidate, False
            i += len(prefix)
            break
    i = _skip_spaces(text, i)
    try:
        major, i = _numeric(text, i, _MAJOR)
    except ValueError:
        if i < len(text) and text[i] in _WILDCARDS:
            j = _skip_spaces(text, i + 1)
            if j == len(text) or text[j] == ",":
                raise ValueError(
                    f"wildcard req ({text[i]}) must be the only comparator in the version req"
                ) from None
        raise
    pos = _MAJOR
    minor = patch = None
    minor_wild = False
    if text.startswith(".", i):
        pos = _MINOR
        if i + 1 < len(text) and text[i + 1] in _WILDCARDS:
            minor_wild = True
            i += 2
            if default_op:
                op = Op.WILDCARD
        else:
            minor, i = _numeric(text, i + 1, _MINOR)
    if text.startswith(".", i):
        pos = _PATCH
        if i + 1 < len(text) and text[i + 1] in _WILDCARDS:
            i += 2
            if default_op:
                op = Op.WILDCARD
        elif minor_wild:
            raise ValueError("unexpected character after wildcard in version req")
        else:
            patch, i = _numeric(text, i + 1, _PATCH)
    pre: Prerelease = ()
    if patch is not None:
        if text.startswith("-", i):
            pos = _PRE
            pre_text, i = _identifier(text, i + 1, _PRE)
            pre = _normalize_pre(pre_text)
        if text.startswith("+", i):
            pos = _BUILD
            _, i = _identifier(text, i + 1, _BUILD)
    i = _skip_spaces(text, i)
    return Comparator(op, major, minor, patch, pre), pos, i


# --------------------------------------------------------------------------- functional API


@functools.lru_cache(maxsize=4096)
def parse_version(text: str) -> Version:
    """Parse a version string (cached); raise ValueError if it is not valid semver."""
    return Version.parse(text)


@functools.lru_cache(maxsize=4096)
def parse_requirement(text: str) -> Requirement:
    """Parse a requirement string (cached); raise ValueError if the crate would reject it."""
    return Requirement.parse(text)


def matches(version: str, requirement: str) -> bool:
    """``VersionReq::parse(requirement)?.matches(&Version::parse(version)?)``.

    Raises ValueError naming the version or the requirement when either does not parse.
    """
    return parse_requirement(requirement).matches(parse_version(version))


# --------------------------------------------------------------------------- bounds & probes


class Bounds(NamedTuple):
    """Release versions accepted by a requirement: exactly those ``lowest <= v < upper``.

    ``lowest`` is None when no release version matches (then ``upper`` is None too);
    ``upper`` is None when arbitrarily large versions match.  ``prerelease_possible`` says
    whether at least one pre-release version matches (possible only when a comparator
    carries a pre-release tag).
    """

    lowest: Version | None
    upper: Version | None
    prerelease_possible: bool


def _carry(t: _Triple) -> _Triple | None:
    """Normalize a bound whose components overflowed u64; None means beyond every version."""
    major, minor, patch = t
    if patch > U64_MAX:
        minor, patch = minor + 1, 0
    if minor > U64_MAX:
        major, minor, patch = major + 1, 0, 0
    return None if major > U64_MAX else (major, minor, patch)


def _release_range(req: Requirement) -> tuple[_Triple, _Triple | None] | None:
    lo: _Triple = (0, 0, 0)
    hi: _Triple | None = None
    for c in req.comparators:
        interval = c._release_interval()
        if interval is None:
            return None
        c_lo, c_hi = interval
        c_lo_valid = _carry(c_lo)
        if c_lo_valid is None:
            return None
        lo = max(lo, c_lo_valid)
        if c_hi is not None:
            c_hi = _carry(c_hi)
        if c_hi is not None and (hi is None or c_hi < hi):
            hi = c_hi
    if hi is not None and lo >= hi:
        return None
    return lo, hi


def _prerelease_possible(req: Requirement) -> bool:
    # Matching pre-releases share a triple with a tagged comparator; within a triple the
    # accepted tags form an interval whose least element is "0", some tag q, or q + ".0".
    tagged = [c for c in req.comparators if c.pre]
    tags = {(0,)}
    for c in tagged:
        tags.update((c.pre, (*c.pre, 0)))
    triples = {(c.major, c.minor or 0, c.patch or 0) for c in tagged}
    return any(req.matches(Version(*triple, pre=tag)) for triple in triples for tag in tags)


def bounds(req: Requirement) -> Bounds:
    """``(lowest matching release, exclusive upper bound, any pre-release matches)``.

    The release versions that ``req`` accepts always form one contiguous range
    ``[lowest, upper)``; see :class:`Bounds` for the None cases.
    """
    rng = _release_range(req)
    pre_ok = _prerelease_possible(req)
    if rng is None:
        return Bounds(None, None, pre_ok)
    lo, hi = rng
    return Bounds(Version(*lo), None if hi is None else Version(*hi), pre_ok)


def is_unbounded_above(req: Requirement) -> bool:
    """True when arbitrarily high release versions satisfy ``req`` (``*``, ``>=0.2``, …)."""
    rng = _release_range(req)
    return rng is not None and rng[1] is None


def _valid_triple(t: tuple[int, ...]) -> bool:
    return all(0 <= n <= U64_MAX for n in t)


def probe_versions(req: Requirement) -> dict[str, list[Version]]:
    """Release versions on both sides of ``req``, for choosing host versions to test.

    ``accepted``: the lowest matching release plus its next patch, minor and major when
    those still match.  ``rejected``: the closest release below the lowest match (if any),
    the exclusive upper bound, and the next major after the lowest match when it does not
    match; for a requirement no release satisfies, a few releases near its comparators.
    Every entry is verified with :meth:`Requirement.matches`; lists are sorted and
    deduplicated, and never contain pre-releases.
    """
    accepted: set[_Triple] = set()
    rejected: set[_Triple] = set()
    rng = _release_range(req)
    if rng is None:
        rejected.add((0, 0, 0))
        for c in req.comparators:
            base = (c.major, c.minor or 0, c.patch or 0)
            rejected.update({base, (c.major + 1, 0, 0)})
    else:
        (major, minor, patch), hi = rng
        accepted.update(
            {
                (major, minor, patch),
                (major, minor, patch + 1),
                (major, minor + 1, 0),
                (major + 1, 0, 0),
            }
        )
        if patch > 0:
            rejected.add((major, minor, patch - 1))
        elif minor > 0:
            rejected.add((major, minor - 1, 0))
        elif major > 0:
            rejected.add((major - 1, 0, 0))
        if hi is not None:
            rejected.add(hi)
        rejected.add((major + 1, 0, 0))

    def keep(triples: set[_Triple], want: bool) -> list[Version]:
        versions = {Version(*t) for t in triples if _valid_triple(t)}
        return sorted(v for v in versions if req.matches(v) is want)

    return {"accepted": keep(accepted, True), "rejected": keep(rejected, False)}
