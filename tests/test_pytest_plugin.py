"""The pytest front door: ``pytest --octa-plugin PLUGIN`` and the fixtures for custom tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conformance_run import harness_command, pytest_here, tagged_plugins, wait_for_a_plugin
from hypothesis.configuration import storage_directory

from octa_conformance import catalogue

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "octa_plugin_shell.py"
OTHER_KEY = ROOT / "tests" / "plugins" / "other_key.py"  # the example under key "posix"
VERDICT = "octa-conformance verdict (bundled checks only):"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A nested pytest run (the plugin loads through its pytest11 entry point)."""
    return pytest_here(pytester, *args)


def test_bundled_suites_run(pytester: pytest.Pytester) -> None:
    report = pytester.path / "r.json"
    result = run(
        pytester,
        "--octa-plugin",
        str(EXAMPLE),
        "--octa-select",
        "launch.*",
        f"--octa-json={report}",
    )
    expected = catalogue.match(["launch.*"])
    result.assert_outcomes(passed=len(expected))
    result.stdout.fnmatch_lines(["*octa-conformance*", "launch *", f"{VERDICT} PASS*"])
    data = json.loads(report.read_text())
    assert {c["id"]: c["outcome"] for c in data["checks"]} == dict.fromkeys(expected, "passed")
    # the run's private hypothesis home is gone, and nothing later in this process
    # (hypothesis tests, say) is pointed at it and would create it again
    home = storage_directory()  # a Path in older hypothesis, with .path in newer ones
    assert "octa-conform-hypothesis-" not in str(getattr(home, "path", home))


def test_ini_option_names_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\nocta_plugin = {EXAMPLE}\n")
    result = run(pytester, "--octa-select", "launch.listens")
    result.assert_outcomes(passed=1)


CUSTOM_TESTS = """
import pytest

from octa_conformance.context import CheckContext
from octa_conformance.host import FakeOcta


@pytest.mark.asyncio
async def test_with_octa(octa: CheckContext) -> None:
    host = await octa.ready()
    result = await host.run(octa.probe("echo", text="from octa"), dir=str(octa.scratch()))
    assert result.stdout == "from octa"


@pytest.mark.asyncio
async def test_with_octa_host(octa_host: FakeOcta) -> None:
    hello = await octa_host.hello()
    assert hello.version


@pytest.mark.asyncio
async def test_with_octa_ready_host(octa_ready_host: FakeOcta) -> None:
    result = await octa_ready_host.run("printf '%s' custom")
    assert (result.exit_code, result.stdout) == (0, "custom")
    await octa_ready_host.shutdown()
"""


def test_fixtures_for_custom_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_my_plugin=CUSTOM_TESTS)
    result = run(pytester, "--octa-plugin", str(EXAMPLE), "--octa-no-suites")
    result.assert_outcomes(passed=3)


def test_the_documented_example_works(pytester: pytest.Pytester) -> None:
    doc = (ROOT / "docs" / "pytest-plugin.md").read_text(encoding="utf-8")
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_octa_protocol=example)
    result = run(pytester, "--octa-plugin", str(EXAMPLE), "--octa-no-suites")
    result.assert_outcomes(passed=3)


def test_custom_tests_alongside_the_suites(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_my_plugin=CUSTOM_TESTS)
    result = run(pytester, "--octa-plugin", str(EXAMPLE), "--octa-select", "launch.listens")
    result.assert_outcomes(passed=4)


def test_fixtures_skip_without_a_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_my_plugin=CUSTOM_TESTS)
    result = run(pytester, "-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*--octa-plugin*"])


@pytest.fixture
def rejects_unknown_flags(pytester: pytest.Pytester) -> Path:
    """A plugin that fails one SHOULD check (launch.unknown-flag) and nothing else."""
    path = pytester.path / "rejects-unknown-flags"
    path.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        "if len(sys.argv) != 3:\n"
        "    sys.exit('unknown flag(s): ' + ' '.join(sys.argv[3:]))\n"
        f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')\n"
    )
    path.chmod(0o755)
    return path


def test_should_failure_is_a_warning_unless_strict(
    pytester: pytest.Pytester, rejects_unknown_flags: Path
) -> None:
    args = ("--octa-plugin", str(rejects_unknown_flags), "--octa-select", "launch.unknown-flag")
    lenient = run(pytester, *args)
    lenient.assert_outcomes(xfailed=1)
    assert lenient.ret == 0
    strict = run(pytester, *args, "--octa-strict")
    strict.assert_outcomes(failed=1)
    assert strict.ret == 1
    strict.stdout.fnmatch_lines(["*launch.unknown-flag*SHOULD check failed*"])


def test_must_failure_fails_the_test(pytester: pytest.Pytester) -> None:
    plugin = pytester.path / "exits"
    plugin.write_text("#!/bin/sh\nexit 1\n")
    plugin.chmod(0o755)
    result = run(pytester, "--octa-plugin", str(plugin), "--octa-select", "launch.listens")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*[[]launch.listens[]] MUST check failed*", f"{VERDICT} FAIL: the plugin could not*"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--octa-plugin", "/no/such/plugin"], "*plugin /no/such/plugin does not exist*"),
        (
            ["--octa-plugin", str(EXAMPLE), "--octa-select", "nope.*"],
            "*unknown check id(s) or pattern(s): nope.**",
        ),
    ],
)
def test_bad_options_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_incomplete_verdict_and_require_complete(pytester: pytest.Pytester) -> None:
    """A MUST check skipped for want of a probe: the summary says INCOMPLETE; pytest's exit
    status ignores skips unless --octa-require-complete asks for the gate."""
    report = pytester.path / "r.json"
    args = (
        "--octa-plugin",
        str(OTHER_KEY),
        "--octa-select",
        "launch.listens",
        "--octa-select",
        "execute.stdout-delivered",
        f"--octa-json={report}",
    )
    lenient = run(pytester, *args)
    lenient.assert_outcomes(passed=1, skipped=1)
    assert lenient.ret == pytest.ExitCode.OK
    lenient.stdout.fnmatch_lines(
        [
            "*configure `echo` (--octa-probe echo=TEMPLATE) to run 1 MUST check:*",
            f"{VERDICT} INCOMPLETE: 1 MUST check did not run*",
            "*add --octa-require-complete to make an INCOMPLETE verdict fail it*",
        ]
    )
    data = json.loads(report.read_text())
    assert data["verdict"] == "incomplete"
    assert data["checks"][1]["missing_probes"] == ["echo"]
    gate = run(pytester, *args, "--octa-require-complete")
    gate.assert_outcomes(passed=1, skipped=1)
    assert gate.ret == pytest.ExitCode.TESTS_FAILED
    gate.stdout.fnmatch_lines(["*--octa-require-complete: the INCOMPLETE verdict fails*"])
    # with the probe configured, the same gate passes
    probe = "--octa-probe=echo=printf '%s\\n' {text}"
    done = run(pytester, *args, "--octa-require-complete", probe)
    done.assert_outcomes(passed=2)
    assert done.ret == pytest.ExitCode.OK
    done.stdout.fnmatch_lines([f"{VERDICT} PASS*"])


def test_parallel_workers_run_the_suites_and_missing_probes_survive_xdist(
    pytester: pytest.Pytester,
) -> None:
    """``-n 2``: the checks run in the workers, and the report the controller writes has
    every check, with what the workers found missing (one xdist run for both)."""
    pytest.importorskip("xdist")
    report = pytester.path / "r.json"
    result = run(
        pytester,
        "-n",
        "2",
        "--octa-plugin",
        str(OTHER_KEY),
        "--octa-select",
        "launch.listens",
        "--octa-select",
        "shutdown.acknowledged",
        "--octa-select",
        "execute.exit-code",
        f"--octa-json={report}",
    )
    result.assert_outcomes(passed=2, skipped=1)
    data = json.loads(report.read_text())
    assert data["verdict"] == "incomplete"
    assert {c["id"]: c.get("missing_probes") for c in data["checks"]} == {
        "launch.listens": None,
        "shutdown.acknowledged": None,
        "execute.exit-code": ["fail"],
    }
    assert {c["id"]: c["outcome"] for c in data["checks"]} == {
        "launch.listens": "passed",
        "shutdown.acknowledged": "passed",
        "execute.exit-code": "skipped",
    }
    assert data["plugin"]["probes"] == {"names": [], "quoting": "shell", "source": "none"}


def test_bad_probe_quoting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--octa-plugin", str(EXAMPLE), "--octa-probe", "quoting=perl")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*probe quoting must be one of shell or none, got 'perl'*"])


def test_interrupted_pytest_run_stops_and_cleans_up(tmp_path: Path) -> None:
    """Ctrl-C (a real SIGINT) to ``pytest --octa-plugin``: it stops (a hang fails the test
    after 10 s), writes a partial report marked incomplete and leaves no plugin process
    behind."""
    tag = uuid.uuid4().hex
    out = tmp_path / "partial.json"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    proc = subprocess.Popen(
        [
            *harness_command(EXAMPLE, tmp_path, out),
            "--octa-select",
            "concurrency.*",
            "--octa-select",
            "cancellation.*",
            "--octa-select",  # several seconds more: the run is surely still going at SIGINT
            "performance.*",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "OCTA_TEST_RUN": tag, "TMPDIR": str(private_tmp)},
    )
    try:
        wait_for_a_plugin(tag)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=10)  # raises if the run hangs
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output.decode(errors="replace")
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["complete"] is False and data["verdict"] == "incomplete"  # never pass
    assert not tagged_plugins(tag)
    leftovers = [p.name for p in private_tmp.iterdir() if p.name.startswith("octa")]
    assert not leftovers  # the plugins' socket dirs and the harness's temp dirs are gone


# --- parity with the CLI ----------------------------------------------------------

DEAD = ROOT / "tests" / "plugins" / "exits_at_once.py"  # prints a line, exits 3


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--octa-junit-xml", "/nonexistent/x.xml"], "JUnit report /nonexistent/x.xml*"),
        (["--octa-json", "/nonexistent/x.json"], "JSON report /nonexistent/x.json*"),
        (["--octa-json", "-"], "--octa-json -: pytest writes its own output to stdout*"),
    ],
)
def test_report_paths_are_checked_before_any_check_runs(
    pytester: pytest.Pytester, args: list[str], words: str
) -> None:
    result = run(pytester, "--octa-plugin", str(DEAD), *args)  # a slow plugin to run
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {words}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "collected" not in result.stdout.str()  # nothing ran


def test_the_verdict_covers_the_checks_and_says_so_beside_your_own_tests(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_mine="def test_mine():\n    assert 1 == 2\n")
    result = run(pytester, "--octa-plugin", str(EXAMPLE), "--octa-select", "launch.listens")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"{VERDICT} PASS  (1 check in *",
            "note: 1 of your own tests failed too: pytest's summary counts them;"
            " the verdict above covers the conformance checks only",
            "*1 failed, 1 passed*",
        ]
    )
    assert "\nverdict:" not in result.stdout.str()


def test_test_names_carry_the_check_id(pytester: pytest.Pytester) -> None:
    xml = pytester.path / "pytest.xml"
    result = run(
        pytester,
        "-v",
        "--octa-plugin",
        str(EXAMPLE),
        "--octa-select",
        "launch.listens",
        "--octa-select",
        "robustness.fuzz-lines",
        f"--junitxml={xml}",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_launch.py::test_listens[[]launch.listens[]] PASSED*",
            "*test_robustness.py::test_fuzz_lines[[]robustness.fuzz-lines[]] PASSED*",
        ]
    )
    names = {case.get("name") for case in ET.parse(xml).getroot().iter("testcase")}
    assert names == {"test_listens[launch.listens]", "test_fuzz_lines[robustness.fuzz-lines]"}


def test_a_fresh_repository_gets_no_loop_scope_warning(pytester: pytest.Pytester) -> None:
    """No ini file at all (the nested run helper sets the loop scope; this one does not)."""
    plugin = pytester.path / "plugin.py"  # inside the fresh repository, not this one
    plugin.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-W",
        "error::pytest.PytestDeprecationWarning",
        "--octa-plugin",
        str(plugin),
        "--octa-select",
        "launch.listens",
    )
    output = result.stdout.str() + result.stderr.str()
    assert "asyncio_default_fixture_loop_scope" not in output.replace(
        "asyncio_default_fixture_loop_scope=None",
        "",  # pytest-asyncio's own header line
    ), output
    assert "asyncio_default_fixture_loop_scope=None" in output  # it is unset indeed
    result.assert_outcomes(passed=1)


def test_a_dead_plugin_names_the_cause_once(pytester: pytest.Pytester) -> None:
    report = pytester.path / "r.json"
    result = run(pytester, "--octa-plugin", str(DEAD), f"--octa-json={report}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    summary = result.stdout.str().split("octa-conformance ====", 1)[1]
    # ours only: pytest's own short summary follows, with whole messages when CI is set
    summary = summary.split("short test summary info", 1)[0]
    assert summary.count("plugin exited with status 3 before listening") == 1, summary
    assert summary.count("exits_at_once: cannot frobnicate the socket") == 1, summary
    assert "Root cause: the plugin could not be started" in summary
    assert "rerun: pytest --octa-plugin" in summary
    assert f"{VERDICT} FAIL: the plugin could not be started" in summary
    data = json.loads(report.read_text())
    assert data["cause"]["kind"] == "launch" and data["verdict"] == "fail"
    assert len(data["checks"]) == len(catalogue.CHECKS)


def test_exitfirst_stops_and_the_verdict_is_not_pass(
    pytester: pytest.Pytester, rejects_unknown_flags: Path
) -> None:
    report = pytester.path / "r.json"
    result = run(
        pytester,
        "-x",
        "-q",
        "--octa-strict",
        "--octa-plugin",
        str(rejects_unknown_flags),
        "--octa-select",
        "launch.*",
        f"--octa-json={report}",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = json.loads(report.read_text())
    assert data["complete"] is False and data["verdict"] == "fail"
    assert [c["id"] for c in data["checks"]][-1] == "launch.unknown-flag"
    result.stdout.fnmatch_lines([f"{VERDICT} FAIL (stopped after 1 failure: not every check ran)*"])
    assert "area " not in result.stdout.str()  # -q: failures and the verdict only
