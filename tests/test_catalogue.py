"""The catalogue is derived from the ``@check(...)`` declarations in the suites: read from the
files (not run), in area order then source order; a declaration that cannot go into it is an
error naming file:line, and a runtime ``@check`` that differs from its file is refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from octa_conformance import catalogue
from octa_conformance.catalogue import AREAS, CatalogueError, Level
from octa_conformance.checking import check

ROOT = Path(__file__).resolve().parents[1]

DECLARED = re.compile(r"^@check\(", re.M)


def suites(tmp_path: Path, **files: str) -> Path:
    """A suites directory: one ``test_<area>.py`` per area (empty unless given)."""
    directory = tmp_path / "suites"
    directory.mkdir()
    for area in AREAS:
        body = textwrap.dedent(files.pop(area, ""))
        (directory / f"test_{area}.py").write_text("from x import check\n" + body)
    for name, body in files.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(body))
    return directory


def declaration(check_id: str, level: str = "MUST", extra: str = "") -> str:
    return (
        f'@check("{check_id}", "{level}", section="4.2", summary="it works"{extra})\n'
        f"def test_{check_id.split('.')[1].replace('-', '_')}(octa): ...\n\n"
    )


def test_bundled_catalogue_is_every_declaration_in_area_order() -> None:
    checks = catalogue.CHECKS
    assert checks is catalogue.derive().checks  # read once per process
    declared = sum(
        len(DECLARED.findall(p.read_text())) for p in catalogue.suites_dir().glob("test_*.py")
    )
    assert declared == len(checks)  # every id once: none lost to a duplicate
    assert len(set(checks)) == len(checks)
    assert tuple(dict.fromkeys(s.area for s in checks.values())) == AREAS
    for cid, spec in checks.items():
        assert spec.id == cid and catalogue.get(cid) is spec
        assert catalogue.ID_PATTERN.fullmatch(cid)
        assert isinstance(spec.level, Level) and spec.section and spec.description
    where = catalogue.derive().origins["launch.listens"]
    path, line = where.rsplit(":", 1)
    assert Path(path).name == "test_launch.py"
    assert '"launch.listens"' in "".join(Path(path).read_text().splitlines()[int(line) - 1 :][:3])


def test_order_is_area_then_source_and_probes_are_kept(tmp_path: Path) -> None:
    directory = suites(
        tmp_path,
        shutdown=declaration("shutdown.zeta") + declaration("shutdown.alpha", "INFO"),
        launch=declaration("launch.late", "SHOULD", ', probes=("echo", "sleep")'),
    )
    derived = catalogue.derive(directory)
    assert list(derived.checks) == ["launch.late", "shutdown.zeta", "shutdown.alpha"]
    late = derived.checks["launch.late"]
    assert late == catalogue.CheckSpec(
        "launch.late", Level.SHOULD, "4.2", "it works", ("echo", "sleep")
    )
    assert derived.origins["shutdown.alpha"] == f"{directory / 'test_shutdown.py'}:5"


def error(tmp_path: Path, **files: str) -> str:
    with pytest.raises(CatalogueError) as info:
        catalogue.derive(suites(tmp_path, **files))
    return str(info.value)


def test_a_duplicate_id_names_both_declarations(tmp_path: Path) -> None:
    message = error(tmp_path, execute=declaration("execute.x") + declaration("execute.x", "INFO"))
    path = tmp_path / "suites" / "test_execute.py"
    assert message.startswith(f"{path}:5: check id 'execute.x' is declared twice")
    assert f"(first at {path}:2)" in message


def test_an_unknown_level_is_named(tmp_path: Path) -> None:
    message = error(tmp_path, launch=declaration("launch.x", "MUTS"))
    assert message.startswith(f"{tmp_path / 'suites' / 'test_launch.py'}:2: launch.x:")
    assert "unknown level 'MUTS'; it is one of MUST, SHOULD, INFO" in message


def test_a_non_literal_argument_is_named_with_its_place(tmp_path: Path) -> None:
    body = 'SECTION = "4.2"\n\n' + declaration("launch.x").replace('"4.2"', "SECTION")
    message = error(tmp_path, launch=body)
    assert message.startswith(f"{tmp_path / 'suites' / 'test_launch.py'}:4: ")
    assert "argument 'section' must be a literal" in message and "'SECTION'" in message


@pytest.mark.parametrize(
    ("decorator", "said"),
    [
        ("@check", "@check needs its arguments"),
        ('@check("launch.x", "MUST", section="1")', "@check is missing summary"),
        ('@check("launch.x", "MUST", "1", "s")', "id and the level as positional"),
        ('@check("launch.x", "MUST", section="1", summary="s", size=3)', "no argument 'size'"),
        ('@check("launch.x", "MUST", section="", summary="s")', "section must be a non-empty"),
        ('@check("launch.x", "MUST", section="1", summary="s", probes="echo")', "probes must be"),
        ('@check("Launch x", "MUST", section="1", summary="s")', "not of the form 'area.slug'"),
        ('@check("execute.x", "MUST", section="1", summary="s")', "belongs in test_execute.py"),
    ],
)
def test_an_invalid_declaration_is_named(tmp_path: Path, decorator: str, said: str) -> None:
    message = error(tmp_path, launch=f"{decorator}\ndef test_x(octa): ...\n")
    assert message.startswith(f"{tmp_path / 'suites' / 'test_launch.py'}:2: ")
    assert said in message


def test_a_suite_file_that_does_not_parse_is_named(tmp_path: Path) -> None:
    message = error(tmp_path, robustness="def broken(:\n")
    assert message.startswith(f"{tmp_path / 'suites' / 'test_robustness.py'}:2: not valid Python")


def test_a_suite_file_of_no_area_is_refused(tmp_path: Path) -> None:
    message = error(tmp_path, test_misc=declaration("misc.x"))
    assert "test_misc.py is not the file of an area" in message
    assert "catalogue.AREAS" in message


def test_runtime_arguments_that_differ_from_the_file_are_refused() -> None:
    spec = catalogue.get("launch.listens")
    with pytest.raises(CatalogueError) as info:
        check(
            "launch.listens", "SHOULD", section=spec.section, summary=spec.description + " (edited)"
        )
    message = str(info.value)
    origin = catalogue.derive().origins["launch.listens"]
    assert f"differ from its declaration at {origin}" in message
    assert "level 'SHOULD' here, 'MUST' there; summary " in message and "(edited)" in message
    with pytest.raises(CatalogueError, match=r"'launch\.nowhere' is not in the catalogue"):
        check("launch.nowhere", "MUST", section="1", summary="s")
    # as declared, it is accepted
    check("launch.listens", spec.level.value, section=spec.section, summary=spec.description)


def test_the_installed_layout_derives_the_same_catalogue(tmp_path: Path) -> None:
    """As in the wheel: the suites are ``octa_conformance/_suites`` and no checkout is near.
    Reading the catalogue (and the list command's entries) imports neither hypothesis nor
    any suite."""
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "octa_conformance",
        site / "octa_conformance",
        ignore=shutil.ignore_patterns("__pycache__", "_suites"),
    )
    installed = site / "octa_conformance" / "_suites"
    installed.mkdir()
    for suite in (ROOT / "suites").glob("test_*.py"):
        shutil.copy(suite, installed)
    script = (
        "import json, sys\n"
        "from octa_conformance import catalogue\n"
        "from octa_conformance.cli.list_command import catalogue_entries\n"
        "catalogue_entries()\n"
        "print(json.dumps({'dir': str(catalogue.suites_dir()), 'file': catalogue.__file__,\n"
        "  'checks': [[s.id, s.level.value, s.section, s.description, list(s.probes)]\n"
        "             for s in catalogue.CHECKS.values()],\n"
        "  'loaded': sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "                   ('hypothesis', 'test_launch', 'suites', '_suites'))}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["file"] == str(site / "octa_conformance" / "catalogue.py")
    assert out["dir"] == str(installed)
    here = [
        [s.id, s.level.value, s.section, s.description, list(s.probes)]
        for s in catalogue.CHECKS.values()
    ]
    assert out["checks"] == here
    assert out["loaded"] == []
