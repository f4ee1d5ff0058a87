"""The reports: JSON (validated against docs/report-schema.json), JUnit XML and the terminal."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conformance_run import octa_conform_here

from octa_conformance import catalogue
from octa_conformance.reporting import write_reports
from octa_conformance.reporting.junit import junit_xml
from octa_conformance.reporting.live import progress_line
from octa_conformance.reporting.style import use_color
from octa_conformance.reporting.summary import summary_text
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
    """One CLI run (in this process) against the example plugin, with both reports and
    transcripts."""
    d = tmp_path_factory.mktemp("real")
    js, xml = d / "r.json", d / "r.xml"
    proc = octa_conform_here(
        EXAMPLE,
        "--select",
        "launch.listens",
        "--select",
        "launch.startup-time",
        "--select",
        "execute.stdout-delivered",
        "-v",
        "--json",
        js,
        "--junit-xml",
        xml,
        cwd=d,
        env={"NO_COLOR": "1"},
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


# --- one root cause, once ---------------------------------------------------------

DEAD_OUTPUT = "--- plugin stderr ---\nexits_at_once: cannot frobnicate the socket"
DEAD_HEADLINE = "plugin exited with status 3 before listening"


def dead_report() -> RunReport:
    """What a plugin that exits at once gets: launch.listens fails with the launch error,
    every other check is not run because of it."""
    from octa_conformance.results import CAUSE_LAUNCH, RootCause

    cause = RootCause(CAUSE_LAUNCH, DEAD_HEADLINE, "python3 ./p --socket-path /tmp/s", DEAD_OUTPUT)
    checks = []
    for cid, spec in catalogue.CHECKS.items():
        if cid == "launch.listens":
            c = CheckResult(cid, "failed", f"{DEAD_HEADLINE}\n{DEAD_OUTPUT}", 0.1)
            c.transcript = f"plugin output (pid 1):\n{DEAD_OUTPUT}"
        else:
            message = f"not run because {cause.phrase}: {DEAD_HEADLINE}"
            if spec.level is catalogue.Level.INFO:
                c = CheckResult(cid, "skipped", f"could not measure: {message}")
            else:
                c = CheckResult(cid, "failed", message)
        c.cause = cause.phrase
        checks.append(c)
    return RunReport(PluginFacts("/p", error=DEAD_HEADLINE), "0.2.1", checks=checks, cause=cause)


def test_a_dead_plugin_fits_one_screen_and_names_the_cause_once() -> None:
    report = dead_report()
    assert report.verdict == "fail"  # not run, but counted: a dead plugin never passes
    text = summary_text(report, color=False, rerun=lambda cid: f"octa-conform ./p --select {cid}")
    lines = text.splitlines()
    assert len(lines) <= 60, text
    assert text.count(DEAD_HEADLINE) == 1 and text.count("cannot frobnicate") == 1, text
    assert lines[1].startswith("Root cause: the plugin could not be started: plugin exited")
    assert "command: python3 ./p --socket-path /tmp/s" in text
    assert "launch.listens failed with it; 61 checks were not run because of it" in text
    for area in catalogue.AREAS:  # one line per area
        assert sum(ln.lstrip().startswith(f"{area} ") for ln in lines) <= 2, area
    assert "rerun: octa-conform ./p --select launch.listens" in text
    assert "Failures, warnings and errors" not in text  # no failure block repeats it
    assert lines[-1].startswith("verdict: FAIL: the plugin could not be started")


def test_the_root_cause_in_json_and_junit() -> None:
    report = dead_report()
    data = report.to_json()
    validate(data)
    assert data["cause"] == {
        "kind": "launch",
        "summary": DEAD_HEADLINE,
        "command": "python3 ./p --socket-path /tmp/s",
        "output": DEAD_OUTPUT,
    }
    assert {c.get("cause") for c in data["checks"]} == {"the plugin could not be started"}
    assert "cause" not in sample_report().to_json()  # only when there is one
    with pytest.raises(jsonschema.ValidationError):
        validate({**data, "cause": {**data["cause"], "kind": "cosmic rays"}})
    root = ET.fromstring(junit_xml(report))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["cause"] == f"launch: {DEAD_HEADLINE}" and props["verdict"] == "fail"
    suite = root.find(".//testsuite")
    assert suite is not None and "cannot frobnicate" in (suite.findtext("system-out") or "")
    by_name = cases(root)
    failure = by_name["execute.large-frame"].find("failure")
    assert failure is not None  # a MUST check not run because of it still fails
    assert (failure.get("message") or "").startswith(
        "MUST check failed: not run because the plugin could not be started"
    )
    assert "cannot frobnicate" not in (failure.text or "")  # the output is said once


def test_a_handshake_cause_marks_only_the_checks_that_repeat_it() -> None:
    from octa_conformance.results import CAUSE_HANDSHAKE, RootCause

    cause = RootCause(CAUSE_HANDSHAKE, "no reply to Hello within 5.0 s")
    repeated = CheckResult("execute.exit-code", "failed", "no reply to Hello within 5.0 s")
    repeated.cause = cause.phrase
    own = CheckResult("handshake.hello-reply", "failed", "expected: a Hello\n     got: nothing")
    report = RunReport(PluginFacts("/p"), "0.2.1", checks=[own, repeated], cause=cause)
    text = summary_text(report, color=False)
    assert "Root cause: the plugin's handshake failed: no reply to Hello" in text
    assert "execute.exit-code failed with it" in text
    assert "FAIL handshake.hello-reply (MUST)" in text  # its own evidence, in full
    assert "FAIL execute.exit-code" not in text
    assert "count as failed" not in text  # nothing was held back


# --- terminal: what a person scans ------------------------------------------------


def test_colour_follows_no_color_force_color_and_term() -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), object()
    assert use_color(tty, {}) is True  # type: ignore[arg-type]
    assert use_color(pipe, {}) is False  # type: ignore[arg-type]
    assert use_color(tty, {"TERM": "dumb"}) is False  # type: ignore[arg-type]
    assert use_color(tty, {"NO_COLOR": "1"}) is False  # type: ignore[arg-type]
    assert use_color(pipe, {"FORCE_COLOR": "1"}) is True  # type: ignore[arg-type]
    assert use_color(pipe, {"CLICOLOR_FORCE": "1", "TERM": "dumb"}) is True  # type: ignore[arg-type]
    assert use_color(tty, {"FORCE_COLOR": "0"}) is False  # type: ignore[arg-type]
    assert use_color(pipe, {"CLICOLOR_FORCE": "0"}) is False  # type: ignore[arg-type]
    assert use_color(pipe, {"FORCE_COLOR": "1", "NO_COLOR": "1"}) is False  # type: ignore[arg-type]


def test_figures_are_formatted_for_people_never_cut() -> None:
    from octa_conformance.reporting.figures import figure_lines, figures_text

    figures = {
        "median_s": 0.6809,
        "samples_s": [0.5687, 1.2345],
        "hello": {"n": 50, "median_s": 0.00039, "p99_s": 0.011205},
        "commands_per_s": {"in_flight_1": 227.5, "in_flight_64": 339.5},
        "rss_bytes": {"after_100": 25374720},
        "growth_bytes": 192512,
        "growth_per_command_bytes": 101.3,
        "matches_target": True,
        "requirement": None,
        "reasons": {f"0.{n}.0": "Version mismatch: " + "x" * 60 for n in range(5)},
    }
    lines = figure_lines(figures, width=100)
    assert lines[:7] == [
        "median: 681 ms",
        "samples: 569 ms, 1.23 s",
        "hello: n 50, median 0.39 ms, p99 11.2 ms",
        "commands: in flight 1 227.5/s, in flight 64 339.5/s",
        "rss: after 100 24.2 MiB",
        "growth: 188 KiB",
        "growth per command: 101 B",
    ]
    assert "matches target: yes" in lines and "requirement: -" in lines
    assert lines[lines.index("reasons:") + 1] == "  0.0.0: Version mismatch: " + "x" * 60
    assert "..." not in figures_text(figures) and "{" not in figures_text(figures)


def test_counts_speak_english() -> None:
    one = RunReport(PluginFacts("/p"), "0.2.1", checks=[CheckResult(MUST, "passed")])
    assert "(1 check in" in summary_text(one, color=False)
    from octa_conformance.reporting.summary import header_text

    assert "1 check of ./p" in header_text("./p", "0.2.1", 1, False, None, False)
    assert "2 checks of ./p" in header_text("./p", "0.2.1", 2, False, None, False)


def test_quiet_summary_has_failures_and_the_verdict_only() -> None:
    report = sample_report()
    text = summary_text(report, color=False, quiet=True, rerun=lambda c: f"again {c}")
    assert "FAIL handshake.hello-reply (MUST)" in text and "got: nothing" in text
    assert "host -> Hello" not in text  # no transcripts
    assert "area " not in text and "plugin: key" not in text  # no table
    assert "rerun: again handshake.hello-reply" in text
    assert text.splitlines()[-1].startswith("verdict: FAIL")
    assert text.splitlines()[0]  # no leading blank line


def test_a_rerun_line_after_each_failure() -> None:
    from octa_conformance.reporting.summary import rerun_command

    rerun = rerun_command(["octa-conform", "./my plugin", "--probe", "echo=say {text}"], "--select")
    assert rerun("execute.large-frame") == (
        "octa-conform './my plugin' --probe 'echo=say {text}' --select execute.large-frame"
    )
    text = summary_text(sample_report(), color=False, rerun=rerun)
    for failed in ("handshake.hello-reply", "launch.unknown-flag", "execute.exit-code"):
        assert f"rerun: {rerun(failed)}" in text
    assert "--select launch.listens" not in text  # passed: nothing to rerun


def test_stopped_by_maxfail_is_never_pass() -> None:
    report = RunReport(
        PluginFacts("/p"), "0.2.1", checks=[CheckResult(MUST, "passed")], complete=False
    )
    report.max_failures = 1
    assert report.verdict == "incomplete"
    assert "verdict: INCOMPLETE (stopped after 1 failure: not every check ran)" in summary_text(
        report, color=False
    )
    assert RunReport(PluginFacts("/p"), "0.2.1").verdict == "incomplete"  # nothing ran


def live(**kw: Any) -> tuple[Any, Any]:
    import io

    from octa_conformance.reporting.live import LiveReporter

    stream = io.StringIO()
    defaults: dict[str, Any] = {"total": 3, "strict": False, "color": False, "tty": False}
    return LiveReporter(stream, **{**defaults, **kw}), stream


def test_live_list_counter_on_a_tty_and_figures_below_the_line() -> None:
    reporter, stream = live(tty=True)
    reporter.add(CheckResult(MUST, "passed", duration_s=0.1))
    reporter.add(CheckResult(INFO, "passed", figures={"median_s": 0.25}))
    reporter.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/3] PASS  launch.listens")
    assert lines[1].startswith("[2/3] PASS  launch.startup-time")
    assert lines[2].strip() == "median: 250 ms"
    plain, out = live()
    plain.add(CheckResult(MUST, "passed"))
    assert out.getvalue().startswith("PASS  launch.listens")  # no counter in a log


def test_live_list_in_catalogue_order_with_workers_and_nothing_when_quiet() -> None:
    reporter, stream = live(ordered=False)
    for cid in ("execute.exit-code", "launch.listens", "handshake.hello-reply"):
        reporter.add(CheckResult(cid, "passed"))
    assert stream.getvalue() == ""  # kept until the end
    reporter.finish()
    ids = [ln.split()[1] for ln in stream.getvalue().splitlines()]
    assert ids == ["launch.listens", "handshake.hello-reply", "execute.exit-code"]
    quiet, out = live(quiet=True, tty=True)
    quiet.add(CheckResult(MUST, "passed"))
    assert out.getvalue().startswith("[1/3] launch.listens")  # a status line, then gone
    quiet.finish()
    assert out.getvalue().endswith("\r") and "PASS" not in out.getvalue()


def test_live_list_names_a_missing_probe_briefly_and_skips_repeats_of_the_cause() -> None:
    reporter, stream = live(total=4)
    skipped = CheckResult(MUST_PROBE, "skipped", "probe 'echo' is not configured: " + "x" * 100)
    skipped.missing_probes = ["echo"]
    reporter.add(skipped)
    for cid in ("launch.listens", "launch.socket-path-honoured", "execute.exit-code"):
        c = CheckResult(cid, "failed", "not run because the plugin could not be started: x")
        c.cause = "the plugin could not be started"
        reporter.add(c)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("(needs probe 'echo')")
    assert lines[1].startswith("FAIL  launch.listens")
    assert "not listed (see the root cause below)" in lines[2]
    assert len(lines) == 3
