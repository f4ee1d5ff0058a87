"""Per-check results and the run's verdict: the one model every report is written from.

The verdict (docs/ci.md, "Exit status"), over the checks selected for the run (checks left out
with ``--select``/``--skip``/``skip`` are not in the report at all, so never in the verdict):

* ``fail``: a MUST check failed (with ``strict``, or a SHOULD check), or a check ended in a
  harness error;
* ``incomplete``: nothing failed, but a MUST check (with ``strict``, or a SHOULD check) did
  not run: it was skipped (a probe it needs is not configured, say), or the run was
  interrupted (or stopped by ``--maxfail``) before every check had run, or no check ran;
* ``pass``: every MUST check (with ``strict``, every SHOULD check too) ran and passed.

Known failures listed in the baseline (``xfailed``) ran, and count as accepted.

A *root cause* (:class:`RootCause`) is recorded when the plugin could not be started or
handshaken at all: the checks that could only repeat that failure carry ``cause`` (a short
phrase) and keep the outcome the failure gives them (``failed``; ``skipped`` for INFO
checks and for checks that had to skip), so a dead plugin never passes.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from octa_conformance import __version__, catalogue
from octa_conformance.catalogue import Level

OUTCOMES = ("passed", "failed", "skipped", "xfailed", "error")
VERDICTS = ("pass", "fail", "incomplete")
LABELS = {"passed": "PASS", "skipped": "SKIP", "xfailed": "XFAIL", "error": "ERROR"}


@dataclass
class CheckResult:
    """The outcome of one check. ``outcome`` is one of OUTCOMES."""

    id: str
    outcome: str
    message: str = ""
    duration_s: float = 0.0
    figures: dict[str, Any] | None = None
    transcript: str = ""
    stale_baseline: bool = False  # in the baseline but passed
    missing_probes: list[str] = field(default_factory=list)  # why it was skipped, if so
    cause: str | None = None  # not run (or cut short) because of the run's root cause

    @property
    def spec(self) -> catalogue.CheckSpec:
        return catalogue.get(self.id)

    @property
    def level(self) -> Level:
        return self.spec.level

    @property
    def area(self) -> str:
        return self.spec.area

    def counts_against(self, strict: bool) -> bool:
        """Does this result make the verdict fail?"""
        if self.outcome == "error":
            return True
        if self.outcome != "failed":
            return False
        return self.level is Level.MUST or (strict and self.level is Level.SHOULD)

    def is_warning(self, strict: bool) -> bool:
        return self.outcome == "failed" and self.level is Level.SHOULD and not strict

    def label(self, strict: bool) -> str:
        """The word every report shows: PASS, FAIL, WARN (a SHOULD failure without
        ``strict``), SKIP, XFAIL or ERROR."""
        if self.outcome == "failed":
            return "WARN" if self.is_warning(strict) else "FAIL"
        return LABELS[self.outcome]

    def counts_for_verdict(self, strict: bool) -> bool:
        """Must this check run and pass for a PASS (MUST; with ``strict``, SHOULD too)?"""
        return self.level is Level.MUST or (strict and self.level is Level.SHOULD)

    def unrun(self, strict: bool) -> bool:
        """Did a check the verdict needs not run (skipped)?"""
        return self.outcome == "skipped" and self.counts_for_verdict(strict)


@dataclass
class PluginFacts:
    """What the handshake told about the plugin."""

    path: str
    key: str | None = None
    requirement: str | None = None
    dialect: str | None = None
    error: str | None = None
    probes: dict[str, Any] | None = None  # configured: names, quoting, source


CAUSE_LAUNCH, CAUSE_HANDSHAKE = "launch", "handshake"
CAUSE_PHRASES = {
    CAUSE_LAUNCH: "the plugin could not be started",
    CAUSE_HANDSHAKE: "the plugin's handshake failed",
}


@dataclass
class RootCause:
    """Why a whole run could not test much: the plugin did not start, or not handshake."""

    kind: str  # CAUSE_LAUNCH or CAUSE_HANDSHAKE
    summary: str  # one line: what happened
    command: str = ""  # how the plugin was started
    output: str = ""  # an excerpt of the plugin's own stdout/stderr

    @property
    def phrase(self) -> str:
        """``the plugin could not be started``: what each check that depends on it says."""
        return CAUSE_PHRASES.get(self.kind, self.kind)

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "summary": self.summary,
            "command": self.command,
            "output": self.output,
        }


@dataclass
class RunReport:
    """A whole run: the plugin, the target, every check result, the verdict."""

    plugin: PluginFacts
    target: str
    strict: bool = False
    checks: list[CheckResult] = field(default_factory=list)
    complete: bool = True
    duration_s: float = 0.0
    cause: RootCause | None = None
    max_failures: int | None = None  # the run stopped after this many failures (--maxfail)

    @property
    def caused(self) -> list[CheckResult]:
        """The checks that only repeat the root cause (or could not run because of it)."""
        return [c for c in self.checks if c.cause]

    @property
    def verdict(self) -> str:
        """``fail``, ``incomplete`` or ``pass`` (see the module docstring)."""
        if any(c.counts_against(self.strict) for c in self.checks):
            return "fail"
        if self.unrun or not self.complete or not self.checks:
            return "incomplete"
        return "pass"

    @property
    def unrun(self) -> list[CheckResult]:
        """Checks the verdict needs that did not run (skipped MUST; strict: SHOULD too)."""
        return [c for c in self.checks if c.unrun(self.strict)]

    def needed_probes(self, results: Iterable[CheckResult]) -> dict[str, tuple[str, ...]]:
        """For each skipped check (by id), the probes that would let it run.

        That is the probes it was skipped for, plus those of its catalogue probes that are
        not configured either (when the report knows which are). ``()`` for a check skipped
        for another reason.
        """
        configured = None if self.plugin.probes is None else set(self.plugin.probes["names"])
        out: dict[str, tuple[str, ...]] = {}
        for c in results:
            names = list(c.missing_probes)
            if names and configured is not None:
                names += [p for p in c.spec.probes if p not in configured and p not in names]
            out[c.id] = tuple(names)
        return out

    def by_missing_probe(self, results: Iterable[CheckResult]) -> dict[str, list[str]]:
        """Each missing probe and the ids of the skipped checks among ``results`` that need
        it (a check needing two missing probes is listed under both)."""
        out: dict[str, list[str]] = {}
        for cid, names in self.needed_probes(results).items():
            for name in names:
                out.setdefault(name, []).append(cid)
        return out

    @property
    def harness_errors(self) -> list[CheckResult]:
        return [c for c in self.checks if c.outcome == "error"]

    def by_area(self) -> dict[str, list[CheckResult]]:
        out: dict[str, list[CheckResult]] = {a: [] for a in catalogue.AREAS}
        for c in self.checks:
            out.setdefault(c.area, []).append(c)
        return {a: cs for a, cs in out.items() if cs}

    def summary(self) -> dict[str, Any]:
        counts = {o: 0 for o in OUTCOMES}
        for c in self.checks:
            counts[c.outcome] += 1
        levels: dict[str, dict[str, int]] = {}
        for c in self.checks:
            levels.setdefault(c.level.value, {o: 0 for o in OUTCOMES})[c.outcome] += 1
        return {
            "total": len(self.checks),
            **counts,
            "warnings": sum(c.is_warning(self.strict) for c in self.checks),
            "by_level": levels,
            "stale_baseline": [c.id for c in self.checks if c.stale_baseline],
            "not_run": [c.id for c in self.unrun],
            "duration_s": round(self.duration_s, 3),
            "complete": self.complete,
        }

    def to_json(self) -> dict[str, Any]:
        """The documented JSON report (docs/report-schema.json)."""
        checks = []
        for c in self.checks:
            entry: dict[str, Any] = {
                "id": c.id,
                "area": c.area,
                "level": c.level.value,
                "outcome": c.outcome,
                "message": c.message,
                "duration_s": round(c.duration_s, 4),
            }
            if c.figures is not None:
                entry["figures"] = c.figures
            if c.transcript:
                entry["transcript"] = c.transcript
            if c.stale_baseline:
                entry["stale_baseline"] = True
            if c.missing_probes:
                entry["missing_probes"] = list(c.missing_probes)
            if c.cause:
                entry["cause"] = c.cause
            checks.append(entry)
        data: dict[str, Any] = {
            "tool": {"name": "octa-conformance", "version": __version__},
            "plugin": asdict(self.plugin),
            "target": self.target,
            "verdict": self.verdict,
            "strict": self.strict,
            "complete": self.complete,
        }
        if self.cause is not None:
            data["cause"] = self.cause.to_json()
        data["checks"] = checks
        data["summary"] = self.summary()
        return data


def catalogue_order(results: Iterable[CheckResult]) -> list[CheckResult]:
    """``results`` in catalogue order: area by area, as every report lists them."""
    order = {cid: i for i, cid in enumerate(catalogue.CHECKS)}
    return sorted(results, key=lambda r: order.get(r.id, len(order)))


def percentiles(values: Iterable[float]) -> dict[str, float]:
    """Median, p90 and p99 of ``values`` (seconds), rounded for reports."""
    data = sorted(values)
    if not data:
        return {}

    def pct(p: float) -> float:
        return data[min(len(data) - 1, round(p * (len(data) - 1)))]

    return {
        "n": len(data),
        "median_s": round(statistics.median(data), 6),
        "p90_s": round(pct(0.90), 6),
        "p99_s": round(pct(0.99), 6),
        "max_s": round(data[-1], 6),
    }
