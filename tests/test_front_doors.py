"""One engine, two front doors: ``octa-conform`` and ``pytest --octa-plugin`` agree.

The same plugin with the same selection must get the same outcome for every check, the
same verdict and the same exit status through both doors: on the conforming example plugin
and on three mutants (tests/mutants), each with a small selection around its defect. Both
doors run in this process (the CLI's ``main()``, a nested pytest run), with the same
environment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conformance_run import EXAMPLE, MUTANT_PLUGIN, octa_conform_here, outcomes, pytest_here

sys.path.insert(0, str(MUTANT_PLUGIN.parent))
from mutant_registry import all_mutants

pytest_plugins = ["pytester"]

MUTANTS = all_mutants()
# A MUST failure, a SHOULD failure (a warning), and a MUST failure in another area.
CHOSEN = ("HandshakeUnparsableRequirement", "HandshakeBuiltinKey", "ExecuteExitCodeCollapsed")


def cli_run(plugin: Path, select: list[str], workdir: Path) -> dict[str, Any]:
    """``octa-conform PLUGIN --select ... --json`` (``main()`` in this process, run in
    ``workdir``); the report + exit status and output."""
    out = workdir / "cli.json"
    proc = octa_conform_here(plugin, "--json", out, *(f"--select={s}" for s in select), cwd=workdir)
    output = proc.stdout + proc.stderr
    assert out.exists(), output
    data = json.loads(out.read_text())
    data["_exit"] = proc.returncode
    data["_output"] = output
    return data


def pytest_run(pytester: pytest.Pytester, plugin: Path, select: list[str]) -> dict[str, Any]:
    """``pytest --octa-plugin PLUGIN --octa-select ... --octa-json`` (a nested run in this
    process); the report + exit status and output."""
    out = pytester.path / "pytest.json"
    result = pytest_here(
        pytester,
        "-q",
        "--octa-plugin",
        str(plugin),
        f"--octa-json={out}",
        *(f"--octa-select={s}" for s in select),
    )
    output = result.stdout.str() + result.stderr.str()
    assert out.exists(), output
    data = json.loads(out.read_text())
    data["_exit"] = int(result.ret)
    data["_output"] = output
    return data


def assert_same(cli: dict[str, Any], door: dict[str, Any]) -> None:
    assert outcomes(cli) == outcomes(door), f"CLI:\n{cli['_output']}\npytest:\n{door['_output']}"
    assert cli["verdict"] == door["verdict"]
    assert cli["_exit"] == door["_exit"], (cli["_output"], door["_output"])
    assert cli["plugin"] == door["plugin"]


@pytest.mark.slow  # two runs of the launch and handshake checks
def test_example_plugin(pytester: pytest.Pytester, tmp_path: Path) -> None:
    select = ["launch.*", "handshake.*"]
    cli = cli_run(EXAMPLE, select, tmp_path)
    door = pytest_run(pytester, EXAMPLE, select)
    assert_same(cli, door)
    assert cli["verdict"] == "pass" and cli["checks"]


def test_the_chosen_mutants_exist() -> None:
    """A renamed mutant fails here, instead of quietly dropping its case."""
    missing = [n for n in CHOSEN if n not in MUTANTS]
    assert not missing, f"mutants renamed or gone: {missing}; update CHOSEN"


@pytest.mark.parametrize("name", CHOSEN)
def test_mutant(
    name: str, pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert name in MUTANTS, f"no mutant {name}: renamed? update CHOSEN"
    mutant = MUTANTS[name]
    select = sorted(mutant.fails | {"launch.listens"})
    monkeypatch.setenv("OCTA_MUTANT", name)
    cli = cli_run(MUTANT_PLUGIN, select, tmp_path)
    door = pytest_run(pytester, MUTANT_PLUGIN, select)
    assert_same(cli, door)
    failing = {c["id"] for c in cli["checks"] if c["outcome"] == "failed"}
    assert mutant.kills <= failing, cli["_output"]  # the mutant really ran
