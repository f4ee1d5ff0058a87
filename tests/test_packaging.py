"""The wheel ships the suites, the example plugin and the HTML template inside the package,
and declares what the package imports."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from octa_conformance import catalogue

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_the_suites_and_the_example(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = tmp_path.glob("octa_conformance-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    suites = sorted(p.name for p in (ROOT / "suites").glob("test_*.py"))
    assert suites, "no suites in the checkout"
    for name in suites:
        assert f"octa_conformance/_suites/{name}" in names
    assert "octa_conformance/_examples/octa_plugin_shell.py" in names
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    shipped = catalogue.derive(unpacked / "octa_conformance" / "_suites").checks
    assert shipped == catalogue.derive(ROOT / "suites").checks  # the same catalogue, in order
    assert list(shipped) == list(catalogue.derive(ROOT / "suites").checks)
    for doc in ("protocol.md", "first-plugin.md"):  # the protocol ships with the tool
        assert f"octa_conformance/_docs/{doc}" in names
    templates = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "octa_conformance" / "reporting" / "templates").iterdir()
    )
    assert "octa_conformance/reporting/templates/report.html.j2" in templates
    for name in templates:
        assert name in names, f"{name} is not in the wheel"
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        ln
        for ln in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if ln.startswith("Requires-Dist:")
    ]
    assert any("jinja2>=3.1" in ln.lower() for ln in requires), requires
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "octa-conform = octa_conformance.cli:main" in text
    assert "octa_conformance = octa_conformance.pytest_plugin" in text
