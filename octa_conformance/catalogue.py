"""The check catalogue: every check id, its level, section, description and probes.

There is no table to keep in step: each check declares its entry where it is written, in the
suites (``@check("area.slug", "MUST", section=..., summary=..., probes=...)``), and the
catalogue is derived from those declarations by reading the suite files (``ast``; nothing is
imported or run), area by area in the order of :data:`AREAS` and, within an area's file
``test_<area>.py``, in source order: the order every report lists the checks in. At runtime
``@check`` verifies its arguments against the derived entry, so the two cannot differ.

The ids are a public interface: reports, baselines, ``--select``/``--skip`` and JUnit
names use them. Add checks freely; never rename or reuse an id.
"""

from __future__ import annotations

import ast
import enum
import fnmatch
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class CatalogueError(Exception):
    """A check declaration that cannot go into the catalogue."""


class Level(str, enum.Enum):
    """MUST fails the verdict; SHOULD warns (fails with ``--strict``); INFO never fails."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    INFO = "INFO"


@dataclass(frozen=True)
class CheckSpec:
    """One catalogue entry."""

    id: str
    level: Level
    section: str
    description: str
    probes: tuple[str, ...] = ()

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]


AREAS: tuple[str, ...] = (
    "launch",
    "handshake",
    "version",
    "execute",
    "concurrency",
    "cancellation",
    "shutdown",
    "robustness",
    "performance",
)
"""The areas in report order; area ``a``'s checks are declared in ``test_<a>.py``."""

CHECKS: dict[str, CheckSpec]
"""Every check by id, in report order (derived from the suites on first use)."""

ID_PATTERN = re.compile(r"[a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)*")
_PARAMETERS = ("check_id", "level", "section", "summary", "probes")
_REQUIRED = ("check_id", "level", "section", "summary")


def suites_dir() -> Path:
    """Where the bundled suites are: inside the wheel, or beside the package in a checkout."""
    package = Path(__file__).parent
    installed = package / "_suites"
    return installed if installed.is_dir() else package.parent / "suites"


@dataclass(frozen=True)
class Derived:
    """A catalogue read from a suites directory: the entries and where each is declared."""

    checks: dict[str, CheckSpec]
    origins: dict[str, str]  # id -> "file:line" of its @check


def derive(directory: Path | None = None) -> Derived:
    """The catalogue declared by the ``@check(...)`` decorators of the suite files in
    ``directory`` (default: :func:`suites_dir`), read once per process and directory.

    Raises :class:`CatalogueError` (naming file:line) for a declaration that is not literal,
    not complete or not valid, a duplicate id, or a suite file of no known area."""
    return _derive(Path(directory or suites_dir()).resolve())


@functools.cache
def _derive(directory: Path) -> Derived:
    if not directory.is_dir():
        raise CatalogueError(f"no suites directory at {directory}")
    files = {p.stem.removeprefix("test_"): p for p in directory.glob("test_*.py")}
    strays = sorted(set(files) - set(AREAS))
    if strays:
        raise CatalogueError(
            f"{files[strays[0]]}: test_{strays[0]}.py is not the file of an area; the areas are"
            f" {', '.join(AREAS)} (catalogue.AREAS)"
        )
    checks: dict[str, CheckSpec] = {}
    origins: dict[str, str] = {}
    for area in AREAS:
        if area not in files:
            raise CatalogueError(f"{directory}: no test_{area}.py for the area {area!r}")
        for where, spec in _declarations(files[area]):
            if spec.area != area:
                raise CatalogueError(
                    f"{where}: check {spec.id!r} is declared in test_{area}.py; a check of the"
                    f" area {spec.area!r} belongs in test_{spec.area}.py"
                )
            if spec.id in checks:
                raise CatalogueError(
                    f"{where}: check id {spec.id!r} is declared twice (first at {origins[spec.id]})"
                )
            checks[spec.id] = spec
            origins[spec.id] = where
    return Derived(checks, origins)


def _declarations(path: Path) -> list[tuple[str, CheckSpec]]:
    """Each ``@check(...)`` of ``path`` in source order, with its ``file:line``."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as e:
        raise CatalogueError(f"{path}:{e.lineno}: not valid Python ({e.msg})") from None
    decorators = sorted(
        (deco.lineno, deco)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        for deco in node.decorator_list
        if _is_check(deco)
    )
    return [(f"{path}:{line}", _spec_of(deco, f"{path}:{line}")) for line, deco in decorators]


def _is_check(node: ast.expr) -> bool:
    func = node.func if isinstance(node, ast.Call) else node
    named = (isinstance(func, ast.Name) and func.id == "check") or (
        isinstance(func, ast.Attribute) and func.attr == "check"
    )
    return named


def _spec_of(deco: ast.expr, where: str) -> CheckSpec:
    if not isinstance(deco, ast.Call):
        raise CatalogueError(
            f"{where}: @check needs its arguments: @check(id, level, section=...,"
            " summary=..., probes=...)"
        )
    if len(deco.args) > 2 or any(isinstance(a, ast.Starred) for a in deco.args):
        raise CatalogueError(
            f"{where}: @check takes the id and the level as positional arguments, the rest"
            " (section=, summary=, probes=) by keyword"
        )
    given: dict[str, Any] = {}
    pairs = list(zip(_PARAMETERS, deco.args, strict=False)) + [
        (k.arg, k.value) for k in deco.keywords
    ]
    for name, node in pairs:
        if name is None or name not in _PARAMETERS:
            raise CatalogueError(
                f"{where}: @check has no argument {name or '**'!r}; it takes"
                f" {', '.join(_PARAMETERS)}"
            )
        if name in given:
            raise CatalogueError(f"{where}: @check argument {name!r} given twice")
        try:
            given[name] = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            raise CatalogueError(
                f"{where}: @check argument {name!r} must be a literal (the catalogue is read"
                f" from the source without running it), not {ast.unparse(node)!r}"
            ) from None
    missing = [n for n in _REQUIRED if n not in given]
    if missing:
        raise CatalogueError(f"{where}: @check is missing {', '.join(missing)}")
    try:
        return _validated(
            given["check_id"],
            given["level"],
            given["section"],
            given["summary"],
            given.get("probes", ()),
        )
    except CatalogueError as e:
        raise CatalogueError(f"{where}: {e}") from None


def _validated(
    check_id: object, level: object, section: object, summary: object, probes: object
) -> CheckSpec:
    """A :class:`CheckSpec` from a declaration's values, or :class:`CatalogueError`."""
    if not isinstance(check_id, str) or not ID_PATTERN.fullmatch(check_id):
        raise CatalogueError(f"the check id {check_id!r} is not of the form 'area.slug'")
    try:
        lvl = Level(level)
    except ValueError:
        raise CatalogueError(
            f"{check_id}: unknown level {level!r}; it is one of"
            f" {', '.join(lv.value for lv in Level)}"
        ) from None
    for name, value in (("section", section), ("summary", summary)):
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{check_id}: {name} must be a non-empty string, not {value!r}")
    if not isinstance(probes, (tuple, list)) or not all(isinstance(p, str) and p for p in probes):
        raise CatalogueError(f"{check_id}: probes must be a tuple of probe names, not {probes!r}")
    assert isinstance(section, str) and isinstance(summary, str)
    return CheckSpec(check_id, lvl, section, summary, tuple(probes))


def declared(
    check_id: str, level: str, section: str, summary: str, probes: tuple[str, ...] = ()
) -> CheckSpec:
    """The entry a runtime ``@check(...)`` declares; :class:`CatalogueError` unless it is the
    catalogue's entry for ``check_id``, exactly."""
    spec = _validated(check_id, level, section, summary, probes)
    derived = _bundled()
    known = derived.checks.get(check_id)
    if known is None:
        raise CatalogueError(
            f"check {check_id!r} is not in the catalogue read from {suites_dir()}: a check is"
            f" declared with a literal @check(...) in the suite file test_{spec.area}.py"
        )
    if known != spec:
        diffs = "; ".join(
            f"{word} {_shown(getattr(spec, name))} here, {_shown(getattr(known, name))} there"
            for name, word in _FIELDS
            if getattr(spec, name) != getattr(known, name)
        )
        raise CatalogueError(
            f"check {check_id!r}: the arguments @check was called with differ from its"
            f" declaration at {derived.origins[check_id]}: {diffs}"
        )
    return known


_FIELDS = (
    ("level", "level"),
    ("section", "section"),
    ("description", "summary"),
    ("probes", "probes"),
)


def _shown(value: object) -> str:
    return repr(value.value if isinstance(value, Level) else value)


@functools.cache
def _bundled() -> Derived:
    return derive()


def __getattr__(name: str) -> Any:
    if name == "CHECKS":  # derived on first use, then an ordinary module attribute
        checks = _bundled().checks
        globals()["CHECKS"] = checks
        return checks
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get(check_id: str) -> CheckSpec:
    """The catalogue entry for ``check_id`` (KeyError if unknown)."""
    return _bundled().checks[check_id]


def match(patterns: list[str] | tuple[str, ...]) -> set[str]:
    """Ids matched by any of the glob ``patterns`` (``execute.*``, ``*.dry-run``...)."""
    return {cid for cid in _bundled().checks for p in patterns if fnmatch.fnmatchcase(cid, p)}


def unmatched(patterns: list[str] | tuple[str, ...]) -> list[str]:
    """The patterns that match no check id (a usage error)."""
    return [p for p in patterns if not match([p])]
