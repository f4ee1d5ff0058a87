"""The documentation cannot rot.

* Every protocol section cited anywhere (the catalogue's ``section`` fields, and every
  section-sign citation in the suites, the package, the examples, the tests and the docs)
  is a numbered heading of ``docs/protocol.md``, with its stable ``<a id="sN">`` anchor.
* The tutorial (``docs/first-plugin.md``) is real: its plugin and its probe file are
  extracted from the page and the harness must give them the verdict PASS, every check passed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from octa_conformance import catalogue
from octa_conformance.probes import PROBES
from octa_conformance.settings import check_settings

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "docs" / "protocol.md"
TUTORIAL = ROOT / "docs" / "first-plugin.md"

SECTION_SIGN = "\u00a7"  # spelled out so that this file cites nothing itself
NUMBER = r"\d+(?:\.\d+)*"
CITATION = re.compile(SECTION_SIGN + r"\s*(" + NUMBER + r")")
HEADING = re.compile(r"^(#{2,4}) (" + NUMBER + r")\.? +\S", re.MULTILINE)
ANCHOR = re.compile(r'^<a id="s(' + NUMBER + r')"></a>$', re.MULTILINE)
# Files that may cite the protocol; this file is left out (it only talks about citations).
CITING = ("suites/*.py", "octa_conformance/**/*.py", "examples/*.py", "tests/**/*.py")
CITING_DOCS = ("docs/*.md", "README.md")

# A fenced block the tutorial test extracts: ```lang title="FILE" ... ```
TITLED_BLOCK = re.compile(r'^```(\w+) title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)
TUTORIAL_PLUGIN = "octa_plugin_sh.py"
TUTORIAL_PROBES = "octa-conform.toml"
RUN_BOUND = 900.0  # seconds for the whole tutorial run (it takes about 30 s)


# --- docs/protocol.md sections ---------------------------------------------------------


def protocol_sections() -> dict[str, str]:
    """The numbered headings of docs/protocol.md: number -> heading line."""
    text = PROTOCOL.read_text(encoding="utf-8")
    return {
        m.group(2): text[m.start() : text.index("\n", m.start())] for m in HEADING.finditer(text)
    }


def cited_sections() -> list[tuple[str, int, str, str]]:
    """Every section-sign citation: (file, line number, section number, the line)."""
    paths: set[Path] = set()
    for pattern in CITING + CITING_DOCS:
        paths.update(p for p in ROOT.glob(pattern) if p.is_file())
    paths.discard(Path(__file__).resolve())
    out = []
    for path in sorted(paths):
        text = path.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in CITATION.finditer(line):
                out.append((str(path.relative_to(ROOT)), lineno, m.group(1), line.strip()))
    return out


def test_protocol_headings_have_stable_anchors() -> None:
    """Each numbered heading is preceded by ``<a id="sN"></a>`` with its own number, once."""
    text = PROTOCOL.read_text(encoding="utf-8")
    anchors = ANCHOR.findall(text)
    assert len(anchors) == len(set(anchors)), f"duplicate anchors: {sorted(anchors)}"
    headings = list(HEADING.finditer(text))
    assert headings, "docs/protocol.md has no numbered headings"
    wrong = []
    for m in headings:
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if before != f'<a id="s{m.group(2)}"></a>':
            wrong.append(f"{text[m.start() : text.index(chr(10), m.start())]!r} (after {before!r})")
    assert not wrong, "numbered headings without their anchor right before them:\n" + "\n".join(
        wrong
    )
    assert set(anchors) == {m.group(2) for m in headings}, "anchors without a heading"


def test_protocol_numbering_is_what_the_checks_cite() -> None:
    """The section numbers the catalogue is written against exist (and nothing in between
    is missing: §4 has 4.1 to 4.4, the top level runs 1 to 7)."""
    sections = protocol_sections()
    for number in ("1", "2", "3", "4", "4.1", "4.2", "4.3", "4.4", "5", "6", "7"):
        assert number in sections, f"docs/protocol.md has no section {number}"
    top = sorted(int(n) for n in sections if "." not in n)
    assert top == list(range(1, top[-1] + 1)), f"top-level sections not consecutive: {top}"


def test_catalogue_sections_resolve() -> None:
    """Every check's section (``"4.1, 5, 7"``: each part) is a section of docs/protocol.md."""
    sections = protocol_sections()
    missing = [
        f"{spec.id}: {part!r}"
        for spec in catalogue.CHECKS.values()
        for part in (p.strip().lstrip(SECTION_SIGN).strip() for p in spec.section.split(","))
        if part not in sections
    ]
    empty = [spec.id for spec in catalogue.CHECKS.values() if not spec.section.strip()]
    assert not empty, f"checks citing no section: {empty}"
    assert not missing, "catalogue sections with no heading in docs/protocol.md: " + ", ".join(
        missing
    )


def test_every_citation_resolves() -> None:
    """Every section-sign citation in the code and docs names a section of docs/protocol.md,
    whatever file name it gives (older text says ``PROTOCOL.md``)."""
    sections = protocol_sections()
    citations = cited_sections()
    assert citations, "no citations found at all: is the pattern broken?"
    broken = [
        f"{path}:{lineno}: {SECTION_SIGN}{number} in {line!r}"
        for path, lineno, number, line in citations
        if number not in sections
    ]
    assert not broken, "citations of sections docs/protocol.md does not have:\n" + "\n".join(broken)


def anchor_links(text: str) -> list[str]:
    """The section anchors a text links to: ``protocol.md#s4.2`` (or ``#s4.2`` inside it)."""
    return re.findall(r"(?:protocol\.md)?#s(" + NUMBER + r")\b", text)


def test_anchor_links_resolve() -> None:
    """Links to ``protocol.md#sN`` in the docs, the README and the markdown catalogue of
    ``octa-conform list --format markdown`` point at anchors that exist."""
    anchors = set(ANCHOR.findall(PROTOCOL.read_text(encoding="utf-8")))
    texts = {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
        for pattern in CITING_DOCS
        for p in ROOT.glob(pattern)
    }
    listing = subprocess.run(
        [sys.executable, "-m", "octa_conformance", "list", "--format", "markdown"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert listing.returncode == 0, listing.stderr
    texts["octa-conform list --format markdown"] = listing.stdout
    broken = [
        f"{where}: #s{number}"
        for where, text in texts.items()
        for number in anchor_links(text)
        if number not in anchors
    ]
    assert not broken, "links to anchors docs/protocol.md does not have: " + ", ".join(broken)


# --- docs/first-plugin.md --------------------------------------------------------------


def tutorial_files() -> dict[str, str]:
    """The titled code blocks of the tutorial: file name -> content."""
    blocks: dict[str, str] = {}
    for m in TITLED_BLOCK.finditer(TUTORIAL.read_text(encoding="utf-8")):
        name = m.group(2)
        assert name not in blocks, f"two blocks titled {name!r} in docs/first-plugin.md"
        blocks[name] = m.group(3)
    return blocks


def write_tutorial(where: Path) -> Path:
    """Write the tutorial's plugin and probe file into ``where``; return the plugin's path."""
    for name, content in tutorial_files().items():
        (where / name).write_text(content, encoding="utf-8")
    return where / TUTORIAL_PLUGIN


def test_tutorial_files_are_valid() -> None:
    """The plugin is valid Python that does not use the built-in ``shell`` key, and the
    probe file is a valid configuration that sets every probe."""
    files = tutorial_files()
    assert set(files) == {TUTORIAL_PLUGIN, TUTORIAL_PROBES}, sorted(files)
    source = files[TUTORIAL_PLUGIN]
    compile(source, TUTORIAL_PLUGIN, "exec")
    assert 'key="shell"' not in source, "the tutorial must make the reader write probes"
    settings = check_settings(tomllib.loads(files[TUTORIAL_PROBES]), TUTORIAL_PROBES)
    assert set(settings["probes"]) - {"quoting"} == set(PROBES), "a probe is not configured"
    assert not settings.get("skip") and not settings.get("select"), "the tutorial deselects"


def run_harness(plugin: Path, report: Path) -> subprocess.CompletedProcess[str]:
    """``python -m octa_conformance PLUGIN --json REPORT`` in the plugin's directory, bounded;
    on timeout the harness gets SIGTERM (it stops its plugins), then SIGKILL."""
    cmd = [sys.executable, "-m", "octa_conformance", plugin.name, "--json", str(report)]
    proc = subprocess.Popen(
        cmd,
        cwd=plugin.parent,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=RUN_BOUND)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        raise AssertionError(
            f"the tutorial run did not finish within {RUN_BOUND:.0f} s:\n"
            f"{out[-4000:]}\n{err[-4000:]}"
        ) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.slow
def test_tutorial_plugin_passes(tmp_path: Path) -> None:
    """The tutorial's plugin, with its probe file, gets PASS (exit status 0) and passes every
    check: nothing failed, warned or skipped."""
    plugin = write_tutorial(tmp_path)
    report = tmp_path / "report.json"
    proc = run_harness(plugin, report)
    shown = f"exit status {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert report.exists(), f"no JSON report: {shown}"
    data = json.loads(report.read_text(encoding="utf-8"))
    not_passed = [f"{c['id']}: {c['outcome']}" for c in data["checks"] if c["outcome"] != "passed"]
    assert not not_passed, f"checks that did not pass: {not_passed}\n{shown}"
    assert data["verdict"] == "pass", shown
    assert proc.returncode == 0, shown
    assert {c["id"] for c in data["checks"]} == set(catalogue.CHECKS), "not every check ran"
