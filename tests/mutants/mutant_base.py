"""Shared pieces for mutant plugins: the example plugin's classes and the Mutant record.

A mutant is the conforming example plugin with one deliberate defect. Each ``m_*.py``
module here defines ``MUTANTS``: the defect (a subclass of ``ShellPlugin``), the checks
it must make fail (``kills``) and the checks that necessarily fail with them (``also``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "octa_plugin_shell.py"


def _load_example():
    name = "octa_example_shell_plugin"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


example = _load_example()
ShellPlugin = example.ShellPlugin


@dataclass(frozen=True)
class Mutant:
    """One broken plugin and what it breaks."""

    name: str
    plugin: type  # a ShellPlugin subclass
    kills: frozenset[str]  # checks this mutant exists to make fail
    also: frozenset[str] | EveryCheckExcept = field(default_factory=frozenset)  # follow from it
    doc: str = ""
    plugin_args: tuple[str, ...] = ()

    @property
    def fails(self) -> frozenset[str]:
        also = self.also.resolve() if isinstance(self.also, EveryCheckExcept) else self.also
        return self.kills | also


def mutant(
    kills: str | set[str] | list[str], also: set[str] | list[str] | EveryCheckExcept = ()
) -> Callable[[type], type]:
    """Class decorator registering a ShellPlugin subclass as a mutant in ``REGISTRY``."""

    def register(cls: type) -> type:
        k = {kills} if isinstance(kills, str) else set(kills)
        name = cls.__name__
        REGISTRY[name] = Mutant(
            name,
            cls,
            frozenset(k),
            also if isinstance(also, EveryCheckExcept) else frozenset(also),
            (cls.__doc__ or "").strip(),
        )
        return cls

    return register


REGISTRY: dict[str, Mutant] = {}


@dataclass(frozen=True)
class EveryCheckExcept:
    """For a mutant that breaks every session: all MUST and SHOULD checks but ``passing``
    (the ones that never get far enough to fail, or are skipped for want of a probe).

    Resolved lazily: mutant modules are also imported by the plugin process, whose Python
    need not have octa_conformance installed.
    """

    passing: frozenset[str]

    def resolve(self) -> frozenset[str]:
        from octa_conformance import catalogue
        from octa_conformance.catalogue import Level

        unknown = self.passing - set(catalogue.CHECKS)
        assert not unknown, f"unknown check ids: {sorted(unknown)}"
        required = {cid for cid, s in catalogue.CHECKS.items() if s.level is not Level.INFO}
        return frozenset(required - self.passing)


def every_check_except(*passing: str) -> EveryCheckExcept:
    return EveryCheckExcept(frozenset(passing))
