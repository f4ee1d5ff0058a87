"""Every MUST and SHOULD check can fail: a mutant plugin makes it fail, the example passes.

Each mutant (tests/mutants/m_*.py) is the conforming example plugin with one defect. For
each one, the suites of the areas it touches run against it, and the set of failing checks
must be exactly the checks it names (``kills``) plus the ones that necessarily follow
(``also``). Set OCTA_MUTANTS_FULL=1 to run the whole suite against every mutant.
"""

from __future__ import annotations

import os
import sys

import pytest
from conformance_run import EXAMPLE, MUTANT_PLUGIN, failed, outcomes, run_suites

from octa_conformance import catalogue
from octa_conformance.catalogue import Level

sys.path.insert(0, str(MUTANT_PLUGIN.parent))
from mutant_registry import all_mutants

MUTANTS = all_mutants()
FULL = os.environ.get("OCTA_MUTANTS_FULL", "") not in ("", "0")


def test_every_must_and_should_check_has_a_mutant() -> None:
    required = {cid for cid, s in catalogue.CHECKS.items() if s.level is not Level.INFO}
    killed = set().union(*(m.kills for m in MUTANTS.values())) if MUTANTS else set()
    missing = sorted(required - killed)
    assert not missing, f"checks no mutant makes fail: {missing}"
    unknown = sorted(set().union(*(m.fails for m in MUTANTS.values())) - set(catalogue.CHECKS))
    assert not unknown, f"mutants name unknown check ids: {unknown}"


@pytest.mark.slow
def test_example_plugin_passes_every_check() -> None:
    report = run_suites(EXAMPLE)
    bad = {cid: o for cid, o in outcomes(report).items() if o not in ("passed",)}
    assert report["verdict"] == "pass", report["_output"]
    assert not bad, f"example plugin did not pass: {bad}\n{report['_output']}"
    assert set(outcomes(report)) == set(catalogue.CHECKS)


@pytest.mark.slow  # one suite run per mutant: ~60 runs
@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_fails_exactly_its_checks(name: str) -> None:
    m = MUTANTS[name]
    areas = sorted({cid.split(".")[0] for cid in m.fails})
    select = [] if FULL else [f"{a}.*" for a in areas]
    report = run_suites(
        MUTANT_PLUGIN,
        select=select,
        skip=["performance.*"],
        env={"OCTA_MUTANT": name},
        extra=[f"--octa-plugin-arg={a}" for a in m.plugin_args],
    )
    got = failed(report)
    assert m.kills <= got, (
        f"mutant {name} ({m.doc}) should fail {sorted(m.kills)} but failed {sorted(got)}\n"
        + report["_output"]
    )
    assert got == m.fails, (
        f"mutant {name}: unexpected failures {sorted(got - m.fails)},"
        f" expected-but-passing {sorted(m.fails - got)}\n" + report["_output"]
    )
