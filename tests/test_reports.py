"""The reports: JSON (validated against docs/report-schema.json), JUnit XML and the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from octa_conformance import catalogue
from octa_conformance.reporting import write_reports
from octa_conformance.reporting.junit import junit_xml
from octa_conformance.reporting.terminal import progress_line, summary_text, use_color
from octa_conformance.results import CheckResult, PluginFacts, RunReport

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "octa_plugin_shell.py"
SCHEMA = json.loads((ROOT / "docs" / "report-schema.json").read_text(encoding="utf-8"))


def validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(data)


def sample_report(strict: bool = False, complete: bool = True) -> RunReport:
    """One check of every kind of outcome."""
    checks = [
        CheckResult("launch.listens", "passed", duration_s=0.12),
        CheckResult(
            "handshake.hello-reply",
            "failed",
            "expected: a Hello reply\n     got: nothing",
            0.5,
            transcript="wire transcript (2 entries):\n  host -> Hello",
        ),
        CheckResult("launch.unknown-flag", "failed", "expected: it listens\n     got: exit 2"),
        CheckResult("execute.stderr-delivered", "skipped", "probe 'stderr' is not configured"),
        CheckResult("shutdown.exit-status", "xfailed", "expected: 0\n     got: 1"),
        CheckResult("execute.exit-code", "error", "harness error in call:\nOSError: boom"),
        CheckResult("launch.startup-time", "passed", figures={"median_s": 0.1, "samples": [1]}),
        CheckResult("shutdown.acknowledged", "passed", stale_baseline=True),
    ]
    return RunReport(
        plugin=PluginFacts("/p/plugin", "shell", ">=0.2.1, <0.3.0", "0.2.1"),
        target="0.2.1",
        strict=strict,
        checks=checks,
        complete=complete,
        duration_s=1.5,
    )


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One CLI run against the example plugin, with both reports and transcripts."""
    d = tmp_path_factory.mktemp("real")
    js, xml = d / "r.json", d / "r.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "octa_conformance",
            str(EXAMPLE),
            "--select",
            "launch.listens",
            "--select",
            "launch.startup-time",
            "--select",
            "execute.stdout-delivered",
            "-v",
            "--json",
            str(js),
            "--junit-xml",
            str(xml),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"json": json.loads(js.read_text()), "xml": ET.parse(xml).getroot()}


# --- JSON -------------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_real_report_matches_the_schema(real_run: dict[str, Any]) -> None:
    data = real_run["json"]
    validate(data)
    assert data["verdict"] == "pass" and data["complete"] is True
    assert data["plugin"]["key"] == "shell"
    by_id = {c["id"]: c for c in data["checks"]}
    assert set(by_id) == {"launch.listens", "launch.startup-time", "execute.stdout-delivered"}
    assert "median_s" in by_id["launch.startup-time"]["figures"]
    assert "wire transcript" in by_id["execute.stdout-delivered"]["transcript"]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("complete", [False, True])
def test_every_outcome_matches_the_schema(strict: bool, complete: bool) -> None:
    data = sample_report(strict, complete).to_json()
    validate(data)
    assert {c["outcome"] for c in data["checks"]} == {
        "passed",
        "failed",
        "skipped",
        "xfailed",
        "error",
    }


def test_schema_rejects_what_is_not_a_report() -> None:
    good = sample_report().to_json()
    for broken in (
        {**good, "verdict": "maybe"},
        {**good, "checks": [{**good["checks"][0], "outcome": "green"}]},
        {**good, "surprise": 1},
        {k: v for k, v in good.items() if k != "summary"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


def test_written_json_round_trips(tmp_path: Path) -> None:
    report = sample_report()
    write_reports(report, json_path=tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == json.loads(json.dumps(report.to_json()))


# --- JUnit ------------------------------------------------------------------------


def cases(root: ET.Element) -> dict[str, ET.Element]:
    found = root.findall(".//testcase")
    assert len(found) == len({c.get("name") for c in found})  # one testcase per check
    return {c.get("name"): c for c in found}  # type: ignore[misc]


def test_real_junit_has_one_testcase_per_check(real_run: dict[str, Any]) -> None:
    by_name = cases(real_run["xml"])
    assert set(by_name) == {c["id"] for c in real_run["json"]["checks"]}
    for name, case in by_name.items():
        assert case.get("classname") == catalogue.get(name).area
        assert case.find("failure") is None and case.find("error") is None
    props = {p.get("name"): p.get("value") for p in real_run["xml"].iter("property")}
    assert props["verdict"] == "pass" and props["complete"] == "true"


def test_junit_outcomes_non_strict(tmp_path: Path) -> None:
    write_reports(sample_report(strict=False), junit_path=tmp_path / "r.xml")
    by_name = cases(ET.parse(tmp_path / "r.xml").getroot())
    assert len(by_name) == len(sample_report().checks)

    failure = by_name["handshake.hello-reply"].find("failure")
    assert failure is not None
    assert "expected: a Hello reply" in (failure.get("message") or "")
    assert "got: nothing" in (failure.text or "") and "host -> Hello" in (failure.text or "")

    warning = by_name["launch.unknown-flag"].find("skipped")
    assert warning is not None and (warning.get("message") or "").startswith("warning:")
    assert by_name["launch.unknown-flag"].find("failure") is None

    skip = by_name["execute.stderr-delivered"].find("skipped")
    assert skip is not None and "probe 'stderr'" in (skip.get("message") or "")

    known = by_name["shutdown.exit-status"].find("skipped")
    assert known is not None and "baseline" in (known.get("message") or "")

    error = by_name["execute.exit-code"].find("error")
    assert error is not None and "OSError: boom" in (error.text or "")

    assert "median_s" in (by_name["launch.startup-time"].findtext("system-out") or "")
    assert "stale" in (by_name["shutdown.acknowledged"].findtext("system-out") or "")
    assert by_name["launch.listens"].find("*") is None  # a plain pass


def test_junit_should_failure_fails_in_strict_mode() -> None:
    by_name = cases(ET.fromstring(junit_xml(sample_report(strict=True))))
    case = by_name["launch.unknown-flag"]
    assert case.find("failure") is not None and case.find("skipped") is None


# --- terminal ---------------------------------------------------------------------


def test_terminal_summary_shows_failures_table_and_verdict() -> None:
    text = summary_text(sample_report(), color=False)
    assert "FAIL handshake.hello-reply (MUST)" in text
    assert "got: nothing" in text and "host -> Hello" in text  # message and transcript
    assert "WARN launch.unknown-flag (SHOULD)" in text
    assert "ERROR execute.exit-code" in text
    table = [ln for ln in text.splitlines() if ln.startswith(("launch ", "handshake "))]
    assert table[0].split() == ["launch", "2", "0", "1", "0", "0", "0"]
    assert "stale baseline" in text
    assert "verdict: FAIL" in text and "\x1b[" not in text
    assert "run interrupted" in summary_text(sample_report(complete=False), color=False)


def test_progress_lines_are_readable_without_colour() -> None:
    report = sample_report()
    lines = [progress_line(c, report.strict, color=False) for c in report.checks]
    assert lines[0].split()[:3] == ["PASS", "launch.listens", "MUST"]
    assert lines[0].rstrip().endswith("0.12s")
    assert lines[2].startswith("WARN ") and lines[5].startswith("ERROR ")
    assert "probe 'stderr'" in lines[3]
    assert all("\x1b[" not in ln for ln in lines)
    assert "\x1b[" in progress_line(report.checks[0], False, color=True)


def test_no_color_and_non_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty()) is True  # type: ignore[arg-type]
    assert use_color(object()) is False  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty()) is False  # type: ignore[arg-type]


# --- the verdict ------------------------------------------------------------------


def verdict_of(*checks: CheckResult, strict: bool = False, complete: bool = True) -> str:
    report = RunReport(PluginFacts("/p"), "0.2.1", strict, list(checks), complete)
    return report.verdict


MUST, SHOULD, INFO = "launch.listens", "launch.unknown-flag", "launch.startup-time"
MUST_PROBE = "execute.stdout-delivered"  # needs the echo probe


def test_verdict_pass_when_every_must_check_ran_and_passed() -> None:
    assert verdict_of(CheckResult(MUST, "passed"), CheckResult(MUST_PROBE, "passed")) == "pass"
    # SHOULD failures are warnings; skipped SHOULD and INFO checks do not matter
    assert (
        verdict_of(
            CheckResult(MUST, "passed"),
            CheckResult(SHOULD, "failed"),
            CheckResult("execute.stderr-delivered", "skipped"),
            CheckResult(INFO, "skipped"),
        )
        == "pass"
    )
    # a known failure (baseline) ran: it is accepted
    assert verdict_of(CheckResult(MUST, "xfailed")) == "pass"


def test_verdict_fail_on_must_failure_or_harness_error() -> None:
    assert verdict_of(CheckResult(MUST, "failed"), CheckResult(MUST_PROBE, "passed")) == "fail"
    assert verdict_of(CheckResult(MUST, "passed"), CheckResult(INFO, "error")) == "fail"
    # a failure outweighs checks that did not run
    assert verdict_of(CheckResult(MUST, "failed"), CheckResult(MUST_PROBE, "skipped")) == "fail"


def test_verdict_incomplete_when_a_must_check_did_not_run() -> None:
    skipped = CheckResult(MUST_PROBE, "skipped", "probe 'echo' is not configured", 0, None)
    skipped.missing_probes = ["echo"]
    report = RunReport(PluginFacts("/p"), "0.2.1", False, [CheckResult(MUST, "passed"), skipped])
    assert report.verdict == "incomplete"
    assert [c.id for c in report.unrun] == [MUST_PROBE]
    assert report.summary()["not_run"] == [MUST_PROBE]


def test_verdict_strict_needs_should_checks_too() -> None:
    checks = (CheckResult(MUST, "passed"), CheckResult("execute.stderr-delivered", "skipped"))
    assert verdict_of(*checks) == "pass"
    assert verdict_of(*checks, strict=True) == "incomplete"
    assert verdict_of(CheckResult(MUST, "passed"), CheckResult(SHOULD, "failed"), strict=True) == (
        "fail"
    )


def test_deselected_checks_are_outside_the_verdict() -> None:
    """--select/--skip leave checks out of the report entirely: a report without the
    probe-needing MUST checks passes, as their absence is the user's explicit choice."""
    assert verdict_of(CheckResult(MUST, "passed")) == "pass"


def test_interrupted_run_is_never_pass() -> None:
    assert verdict_of(CheckResult(MUST, "passed"), complete=False) == "incomplete"
    assert verdict_of(CheckResult(MUST, "failed"), complete=False) == "fail"


def test_missing_probes_grouped_with_the_catalogue_probes() -> None:
    """A check that needs two probes is listed under both when neither is configured."""
    abandoned = CheckResult("cancellation.abandoned-command", "skipped", "probe 'echo' ...")
    abandoned.missing_probes = ["echo"]
    stdout = CheckResult(MUST_PROBE, "skipped", "probe 'echo' ...")
    stdout.missing_probes = ["echo"]
    other = CheckResult("shutdown.nothing-after", "skipped", "no Shutdown response to look past")
    facts = PluginFacts("/p", "posix", probes={"names": [], "quoting": "shell", "source": "none"})
    report = RunReport(facts, "0.2.1", checks=[abandoned, stdout, other])
    assert report.by_missing_probe(report.unrun) == {
        "echo": ["cancellation.abandoned-command", MUST_PROBE],
        "sleep": ["cancellation.abandoned-command"],
    }
    text = summary_text(report, color=False)
    assert "3 MUST checks did not run" in text
    assert (
        "configure `echo` (--probe echo=TEMPLATE) to run 2 MUST checks:"
        " cancellation.abandoned-command (with `sleep`), execute.stdout-delivered" in text
    )
    assert "configure `sleep` (--probe sleep=TEMPLATE) to run 1 MUST check:" in text
    assert "shutdown.nothing-after (MUST) was skipped: no Shutdown response" in text
    assert "--skip ID" in text
    assert "verdict: INCOMPLETE: 3 MUST checks did not run" in text
    assert "PASS" not in text.splitlines()[-1]
    pytest_text = summary_text(report, color=False, option="--octa-")
    assert "--octa-probe echo=TEMPLATE" in pytest_text and "--octa-skip ID" in pytest_text


def incomplete_report() -> RunReport:
    skipped = CheckResult(MUST_PROBE, "skipped", "probe 'echo' is not configured")
    skipped.missing_probes = ["echo"]
    facts = PluginFacts("/p", "posix", probes={"names": [], "quoting": "shell", "source": "none"})
    return RunReport(facts, "0.2.1", checks=[CheckResult(MUST, "passed"), skipped])


def test_incomplete_json_matches_the_schema() -> None:
    data = incomplete_report().to_json()
    validate(data)
    assert data["verdict"] == "incomplete"
    assert data["summary"]["not_run"] == [MUST_PROBE]
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id[MUST_PROBE]["missing_probes"] == ["echo"]
    assert "missing_probes" not in by_id[MUST]
    assert data["plugin"]["probes"]["names"] == []


def test_incomplete_junit_is_not_a_green_pass() -> None:
    root = ET.fromstring(junit_xml(incomplete_report()))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "incomplete"
    assert props["not_run"] == "1" and props["missing_probes"] == "echo"
    suite = root.find(".//testsuite")
    assert suite is not None and suite.get("skipped") == "1"
    skip = cases(root)[MUST_PROBE].find("skipped")
    assert skip is not None
    assert (skip.get("message") or "").startswith("not run, but a PASS needs this MUST check")
