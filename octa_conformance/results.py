"""Per-check results and the run's verdict: the one model every report is written from."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from octa_conformance import __version__, catalogue
from octa_conformance.catalogue import Level

OUTCOMES = ("passed", "failed", "skipped", "xfailed", "error")


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


@dataclass
class PluginFacts:
    """What the handshake told about the plugin."""

    path: str
    key: str | None = None
    requirement: str | None = None
    dialect: str | None = None
    error: str | None = None


@dataclass
class RunReport:
    """A whole run: the plugin, the target, every check result, the verdict."""

    plugin: PluginFacts
    target: str
    strict: bool = False
    checks: list[CheckResult] = field(default_factory=list)
    complete: bool = True
    duration_s: float = 0.0

    @property
    def verdict(self) -> str:
        bad = any(c.counts_against(self.strict) for c in self.checks)
        return "fail" if bad or not self.complete else "pass"

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
            checks.append(entry)
        return {
            "tool": {"name": "octa-conformance", "version": __version__},
            "plugin": asdict(self.plugin),
            "target": self.target,
            "verdict": self.verdict,
            "strict": self.strict,
            "complete": self.complete,
            "checks": checks,
            "summary": self.summary(),
        }


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
