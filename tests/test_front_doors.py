"""One engine, two front doors: ``octa-conform`` and ``pytest --octa-plugin`` agree.

The same plugin with the same selection must get the same outcome for every check, the
same verdict and the same exit status through both doors: on the conforming example plugin
and on three mutants (tests/mutants), each with a small selection around its defect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conformance_run import EXAMPLE, MUTANT_PLUGIN, outcomes, run_suites

sys.path.insert(0, str(MUTANT_PLUGIN.parent))
from mutant_registry import all_mutants

MUTANTS = all_mutants()
# A MUST failure, a SHOULD failure (a warning), and a MUST failure in another area.
CHOSEN = ("HandshakeUnparsableRequirement", "HandshakeBuiltinKey", "ExecuteExitCodeCollapsed")


def cli_run(plugin: Path, select: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """``octa-conform PLUGIN --select ... --json`` in a subprocess; the report + exit status."""
    with tempfile.TemporaryDirectory(prefix="octa-front-door-") as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "octa_conformance", str(plugin), "--json", str(out)]
        cmd += [f"--select={s}" for s in select]
        proc = subprocess.run(
            cmd,
            cwd=tmp,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert out.exists(), proc.stdout + proc.stderr
        data = json.loads(out.read_text())
        data["_exit"] = proc.returncode
        data["_output"] = proc.stdout + proc.stderr
        return data


def assert_same(cli: dict[str, Any], door: dict[str, Any]) -> None:
    assert outcomes(cli) == outcomes(door), f"CLI:\n{cli['_output']}\npytest:\n{door['_output']}"
    assert cli["verdict"] == door["verdict"]
    assert cli["_exit"] == door["_exit"], (cli["_output"], door["_output"])
    assert cli["plugin"] == door["plugin"]


@pytest.mark.slow  # two runs of the launch and handshake checks: ~15 s
def test_example_plugin() -> None:
    select = ["launch.*", "handshake.*"]
    cli = cli_run(EXAMPLE, select)
    door = run_suites(EXAMPLE, select=select)
    assert_same(cli, door)
    assert cli["verdict"] == "pass" and cli["checks"]


def test_the_chosen_mutants_exist() -> None:
    """A renamed mutant fails here, instead of quietly dropping its case."""
    missing = [n for n in CHOSEN if n not in MUTANTS]
    assert not missing, f"mutants renamed or gone: {missing}; update CHOSEN"


@pytest.mark.parametrize("name", CHOSEN)
def test_mutant(name: str) -> None:
    assert name in MUTANTS, f"no mutant {name}: renamed? update CHOSEN"
    mutant = MUTANTS[name]
    select = sorted(mutant.fails | {"launch.listens"})
    env = {"OCTA_MUTANT": name}
    cli = cli_run(MUTANT_PLUGIN, select, env)
    door = run_suites(MUTANT_PLUGIN, select=select, env=env)
    assert_same(cli, door)
    failing = {c["id"] for c in cli["checks"] if c["outcome"] == "failed"}
    assert mutant.kills <= failing, cli["_output"]  # the mutant really ran
