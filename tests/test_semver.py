"""Tests for octa_conformance.semver against the Rust-crate vectors and docs/protocol.md §5."""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octa_conformance.semver import (
    U64_MAX,
    Comparator,
    Op,
    Requirement,
    Version,
    bounds,
    is_unbounded_above,
    matches,
    parse_requirement,
    parse_version,
    probe_versions,
)

VECTORS = Path(__file__).parent / "data" / "semver-vectors.tsv"


def _load_vectors() -> list[tuple[int, str, str, str]]:
    rows = []
    with VECTORS.open(encoding="utf-8", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.startswith("#") or not line:
                continue
            version, requirement, expected = line.split("\t")  # never strip fields
            rows.append((lineno, version, requirement, expected))
    return rows


ROWS = _load_vectors()


def test_vector_file_is_complete() -> None:
    assert len(ROWS) == 5000


# --------------------------------------------------------------------------- (1) vectors


KINDS = ("match", "nomatch", "bad-version", "bad-requirement")


def test_vector_kinds_are_known() -> None:
    unknown = [(lineno, expected) for lineno, _, _, expected in ROWS if expected not in KINDS]
    assert not unknown, f"rows whose expected value is not one of {KINDS}: {unknown}"


def _raises(parse: Callable[[str], object], text: str, pattern: str) -> str | None:
    """None if ``parse(text)`` raises ValueError whose message matches ``pattern``; otherwise
    what happened instead, in words."""
    try:
        result = parse(text)
    except ValueError as e:
        return None if re.search(pattern, str(e)) else f"ValueError {str(e)!r}"
    except Exception as e:  # any other outcome is a disagreement to list
        return f"{type(e).__name__} {str(e)!r}"
    return f"accepted as {str(result)!r}"


def _disagreement(version: str, requirement: str, expected: str) -> str | None:
    """None if our semver code agrees with the row; otherwise what it did ("got")."""
    if expected == "bad-version":
        got = _raises(parse_version, version, "invalid version")
        return None if got is None else f"version {got}"
    try:
        parsed = parse_version(version)
    except Exception as e:
        return f"version rejected: {type(e).__name__} {str(e)!r}"
    if expected == "bad-requirement":
        got = _raises(parse_requirement, requirement, "invalid version requirement")
        return None if got is None else f"requirement {got}"
    try:
        req = parse_requirement(requirement)
        result = req.matches(parsed)
        if result is not (expected == "match"):
            if result is True or result is False:
                return "match" if result else "nomatch"
            return f"Requirement.matches returned {result!r}"
        helper = matches(version, requirement)
        if helper is not (expected == "match"):
            return f"matches() returned {helper!r} (Requirement.matches agrees with the row)"
        # The canonical rendering of a requirement means the same thing.
        again = parse_requirement(str(req))
        if again != req:
            return f"{str(req)!r} (the canonical rendering) parses to {again!r}, not {req!r}"
    except Exception as e:
        return f"{type(e).__name__} {str(e)!r}"
    return None


@pytest.mark.parametrize("kind", KINDS)
def test_vectors(kind: str) -> None:
    """Our semver code agrees with every row of the vector file whose expected value is
    ``kind``; a failure lists every disagreeing row."""
    rows = [r for r in ROWS if r[3] == kind]
    assert rows, f"no {kind} rows in {VECTORS.name}"
    wrong = []
    for lineno, version, requirement, expected in rows:
        got = _disagreement(version, requirement, expected)
        if got is not None:
            wrong.append(
                f"  line {lineno}: version {version!r}, requirement {requirement!r}:"
                f" expected {expected}, got {got}"
            )
    assert not wrong, (
        f"{len(wrong)} of {len(rows)} {kind} rows of {VECTORS.name} disagree:\n" + "\n".join(wrong)
    )


# --------------------------------------------------------------------------- (2) §5 rules


@pytest.mark.parametrize(
    ("requirement", "accepted", "rejected"),
    [
        # caret
        ("^1.2.3", ["1.2.3", "1.9.0", "1.99.99"], ["1.2.2", "2.0.0", "0.9.9"]),
        ("^0.2.3", ["0.2.3", "0.2.99"], ["0.2.2", "0.3.0", "1.0.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.2", "0.0.4", "0.1.0"]),
        ("^1.2", ["1.2.0", "1.99.0"], ["1.1.9", "2.0.0"]),
        ("^0.0", ["0.0.0", "0.0.99"], ["0.1.0"]),
        ("^0", ["0.0.0", "0.99.99"], ["1.0.0"]),
        # no operator means caret
        ("0.2.1", ["0.2.1", "0.2.9"], ["0.2.0", "0.3.0", "1.0.0"]),
        ("1.2.3", ["1.2.3", "1.3.0"], ["1.2.2", "2.0.0"]),
        # tilde
        ("~1.2.3", ["1.2.3", "1.2.99"], ["1.2.2", "1.3.0"]),
        ("~1.2", ["1.2.0", "1.2.99"], ["1.1.0", "1.3.0"]),
        ("~1", ["1.0.0", "1.99.0"], ["0.9.0", "2.0.0"]),
        # comparison operators and conjunctions
        ("=1.2.3", ["1.2.3"], ["1.2.4"]),
        (">=0.2.0, <0.3", ["0.2.0", "0.2.7"], ["0.1.9", "0.3.0"]),
        (">1.2", ["1.3.0"], ["1.2.99"]),
        ("<=1.2", ["1.2.99"], ["1.3.0"]),
        # wildcards
        ("*", ["0.0.0", "99.99.99"], []),
        ("x", ["1.0.0"], []),
        ("1.*", ["1.0.0", "1.99.0"], ["0.9.0", "2.0.0"]),
        ("1.2.x", ["1.2.0", "1.2.99"], ["1.3.0"]),
        ("1.X", ["1.5.0"], ["2.0.0"]),
        # leniencies: spaces around operators and commas
        ("  >= 1.2 ,  < 2  ", ["1.2.0", "1.9.9"], ["1.1.0", "2.0.0"]),
    ],
)
def test_section5_examples(requirement: str, accepted: list[str], rejected: list[str]) -> None:
    req = parse_requirement(requirement)
    for v in accepted:
        assert req.matches(v), (v, requirement)
    for v in rejected:
        assert not req.matches(v), (v, requirement)


@pytest.mark.parametrize(
    ("version", "requirement", "expected"),
    [
        ("1.2.3-alpha", "*", False),
        ("1.2.3-alpha", "^1.2.0", False),
        ("1.2.3-alpha", ">=1.2.3-alpha", True),
        ("1.2.3-beta", ">=1.2.3-alpha", True),
        ("1.2.4-beta", ">=1.2.3-alpha", False),  # different major.minor.patch
        ("1.2.3-alpha.2", "^1.2.3-alpha.10", False),  # numeric identifiers compare as numbers
        ("1.2.3-alpha.11", "^1.2.3-alpha.10", True),
        ("1.2.3", "^1.2.3-alpha", True),
        ("1.2.3-alpha", "<1.2.3", False),
        ("1.2.3-rc.1", ">=1.0.0, <=1.2.3-rc.1", True),
        ("1.2.3-rc.1", "=1.2.3-rc.1", True),
    ],
)
def test_prerelease_rule(version: str, requirement: str, expected: bool) -> None:
    assert matches(version, requirement) is expected


def test_build_metadata_is_ignored() -> None:
    assert matches("1.2.3+build.5", "=1.2.3")
    assert matches("1.2.3", "=1.2.3+other")
    assert parse_version("1.2.3+a") == parse_version("1.2.3+b")
    assert str(parse_version("1.2.3-x.7+b.01")) == "1.2.3-x.7+b.01"
    assert str(parse_requirement("=1.2.3+meta")) == "=1.2.3"


@pytest.mark.parametrize(
    "text", ["v1.2.3", " 1.2.3", "1.2.3 ", "1.2", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", ""]
)
def test_bad_versions(text: str) -> None:
    with pytest.raises(ValueError, match="invalid version"):
        parse_version(text)


def test_version_limits_and_ordering() -> None:
    assert parse_version(f"{U64_MAX}.0.0").major == U64_MAX
    with pytest.raises(ValueError, match="exceeds u64"):
        parse_version(f"{U64_MAX + 1}.0.0")
    ordered = ["1.0.0-0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2"]
    ordered += ["1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"]
    versions = [parse_version(v) for v in ordered]
    assert sorted(reversed(versions)) == versions
    assert parse_version("1.2.3-alpha.7").pre == ("alpha", 7)


@pytest.mark.parametrize(
    "text", ["", "*, 1.2", "1.2, *", "1.*.3", "1.2.3,", ">=>1", "1.2-pre", "v1.2.3", "1 2"]
)
def test_bad_requirements(text: str) -> None:
    with pytest.raises(ValueError, match="invalid version requirement"):
        parse_requirement(text)


def test_max_comparators() -> None:
    assert len(parse_requirement(", ".join(["1"] * 32)).comparators) == 32
    with pytest.raises(ValueError, match="excessive"):
        parse_requirement(", ".join(["1"] * 33))


def test_matches_error_names_the_bad_input() -> None:
    with pytest.raises(ValueError, match=r"invalid version 'v1'"):
        matches("v1", "*")
    with pytest.raises(ValueError, match=r"invalid version requirement '1\.2\.3,'"):
        matches("1.2.3", "1.2.3,")


def test_structure_and_str() -> None:
    req = Requirement.parse("1.2.*, >= 1.0.0-rc.1, ~2")
    assert req.comparators == (
        Comparator(Op.WILDCARD, 1, 2),
        Comparator(Op.GREATER_EQ, 1, 0, 0, ("rc", 1)),
        Comparator(Op.TILDE, 2),
    )
    assert str(req) == "1.2.*, >=1.0.0-rc.1, ~2"
    assert str(parse_requirement(" * ")) == "*"
    assert Comparator(Op.CARET, 1, 2, 3).matches(Version(1, 4, 0))
    assert not Comparator(Op.CARET, 1, 2, 3).matches(Version(1, 4, 0, pre="x"))


# --------------------------------------------------------------------------- (3) bounds


def _v(text: str | None) -> Version | None:
    return None if text is None else parse_version(text)


@pytest.mark.parametrize(
    ("requirement", "lowest", "upper", "unbounded"),
    [
        ("0.2.1", "0.2.1", "0.3.0", False),
        (">=0.2.0, <0.3", "0.2.0", "0.3.0", False),
        ("*", "0.0.0", None, True),
        ("^0.0.3", "0.0.3", "0.0.4", False),
        ("~1.2", "1.2.0", "1.3.0", False),
        (">=0.2", "0.2.0", None, True),
        (">0.1", "0.2.0", None, True),
        ("<1", "0.0.0", "1.0.0", False),
        (">2, <1", None, None, False),
        ("=1.2.3-alpha", None, None, False),
    ],
)
def test_bounds(requirement: str, lowest: str | None, upper: str | None, unbounded: bool) -> None:
    req = parse_requirement(requirement)
    b = bounds(req)
    assert (b.lowest, b.upper) == (_v(lowest), _v(upper))
    assert is_unbounded_above(req) is unbounded


def test_bounds_prerelease_flag() -> None:
    assert bounds(parse_requirement("=1.2.3-alpha")).prerelease_possible
    assert bounds(parse_requirement(">1.2.3-alpha, <1.2.3-beta")).prerelease_possible
    assert not bounds(parse_requirement(">1.2.3-beta, <1.2.3-alpha")).prerelease_possible
    assert not bounds(parse_requirement("^1.2.3")).prerelease_possible


@pytest.mark.parametrize(
    ("requirement", "accepted", "rejected"),
    [
        ("0.2.1", ["0.2.1", "0.2.2"], ["0.2.0", "0.3.0", "1.0.0"]),
        (">=0.2.0, <0.3", ["0.2.0", "0.2.1"], ["0.1.0", "0.3.0", "1.0.0"]),
        ("*", ["0.0.0", "0.0.1", "0.1.0", "1.0.0"], []),
        ("^0.0.3", ["0.0.3"], ["0.0.2", "0.0.4", "1.0.0"]),
        ("~1.2", ["1.2.0", "1.2.1"], ["1.1.0", "1.3.0", "2.0.0"]),
        (">=0.2", ["0.2.0", "0.2.1", "0.3.0", "1.0.0"], ["0.1.0"]),
    ],
)
def test_probe_versions(requirement: str, accepted: list[str], rejected: list[str]) -> None:
    probes = probe_versions(parse_requirement(requirement))
    assert [str(v) for v in probes["accepted"]] == accepted
    assert [str(v) for v in probes["rejected"]] == rejected


def _valid_requirements() -> list[Requirement]:
    reqs = set()
    for _, _, requirement, _ in ROWS:
        with contextlib.suppress(ValueError):
            reqs.add(parse_requirement(requirement))
    return sorted(reqs, key=str)


def _nearby_versions(req: Requirement) -> list[Version]:
    nums = {0, 1, 2, U64_MAX}
    for c in req.comparators:
        for n in (c.major, c.minor, c.patch):
            if n is not None:
                nums.update((n - 1, n, n + 1))
    nums = {n for n in nums if 0 <= n <= U64_MAX}
    return [Version(*t) for t in itertools.product(sorted(nums), repeat=3)]


SHARDS = 4  # the brute force is split so that test workers share it


@pytest.mark.parametrize("shard", range(SHARDS))
def test_bounds_and_probes_agree_with_matches(shard: int) -> None:
    """Cross-check bounds/probes by brute force for every valid requirement in the vectors
    (each shard takes every ``SHARDS``-th of them)."""
    for req in _valid_requirements()[shard::SHARDS]:
        b = bounds(req)
        for v in _nearby_versions(req):
            inside = b.lowest is not None and b.lowest <= v and (b.upper is None or v < b.upper)
            assert req.matches(v) is inside, (str(req), str(v))
        assert is_unbounded_above(req) is (b.lowest is not None and b.upper is None)
        probes = probe_versions(req)
        assert all(req.matches(v) for v in probes["accepted"]), str(req)
        assert not any(req.matches(v) for v in probes["rejected"]), str(req)
        for kind in ("accepted", "rejected"):
            listed = probes[kind]
            assert listed == sorted(set(listed))
            assert not any(v.pre for v in listed)
        if b.lowest is not None:
            assert probes["accepted"][0] == b.lowest
            if b.upper is not None:
                assert b.upper in probes["rejected"]


# --------------------------------------------------------------------------- (4) round trip

_numbers = st.integers(min_value=0, max_value=U64_MAX)
_alnum = st.text("0123456789abcXYZ-", min_size=1, max_size=6)
_pre_ident = st.one_of(_numbers, _alnum.filter(lambda s: not s.isdigit()))
_versions = st.builds(
    Version,
    _numbers,
    _numbers,
    _numbers,
    st.lists(_pre_ident, max_size=4).map(tuple),
    st.lists(_alnum, max_size=3).map(".".join),
)


@given(_versions)
def test_version_str_round_trips(v: Version) -> None:
    text = str(v)
    parsed = Version.parse(text)
    assert str(parsed) == text
    assert parsed == v
    assert parsed.build == v.build
