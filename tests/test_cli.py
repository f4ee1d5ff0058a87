"""The ``octa-conform`` command: every exit status, every documented option, list and session.

The command runs in this process, through the console script's ``main()`` (the runner calls
``pytest.main`` in-process anyway), with small check selections, against the example plugin
or tiny throwaway plugins written here: no interpreter to start per case. What only a fresh
process shows goes through the real command in a subprocess (``python -m octa_conformance``):
that the run is hermetic against the user's environment, the harness-error exit status and
the interrupted run (a real signal).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from conformance_run import octa_conform_here, tagged_plugins, wait_for_a_plugin

from octa_conformance import __version__, catalogue

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "octa_plugin_shell.py"
OTHER_KEY = ROOT / "tests" / "plugins" / "other_key.py"  # the example under key "posix"
COMMAND = [sys.executable, "-m", "octa_conformance"]
ERROR_PREFIX = "octa-conform: error: "


def octa_conform_process(
    *args: object, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the command in a fresh interpreter; NO_COLOR so that output can be matched as
    plain text."""
    return subprocess.run(
        [*COMMAND, *(str(a) for a in args)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def conform_in_process(
    capsys: pytest.CaptureFixture[str], *args: object
) -> subprocess.CompletedProcess[str]:
    """``octa-conform ARGS`` in this process, through ``cli.main`` as the console script
    calls it (``sys.exit(main())``); what it prints is captured."""
    from octa_conformance.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


class Conform(Protocol):
    def __call__(
        self, *args: object, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def octa_conform(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Conform:
    """``octa-conform ARGS`` in this process, as the user would type it: ``env`` added to the
    environment (NO_COLOR set unless given), run in ``cwd`` (default: the test's temp dir);
    both are restored afterwards. Returns exit status, stdout and stderr."""

    def conform(
        *args: object, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        with monkeypatch.context() as m:
            for name, value in {"NO_COLOR": "1", **(env or {})}.items():
                m.setenv(name, value)
            m.chdir(cwd or tmp_path)
            return conform_in_process(capsys, *args)

    return conform


def write_plugin(path: Path, text: str, mode: int = 0o755) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def report(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def outcomes(data: dict) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in data["checks"]}


def assert_usage_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit status 2 with exactly one clear line on stderr, never a traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture
def plugins(tmp_path: Path) -> dict[str, Path]:
    """Small plugins: one that never starts, one that refuses unknown flags."""
    d = tmp_path / "plugins"
    d.mkdir()
    exits = write_plugin(d / "exits-at-once", "#!/bin/sh\necho 'cannot start' >&2\nexit 1\n")
    rejects = write_plugin(
        d / "rejects-unknown-flags",
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        "if len(sys.argv) != 3:\n"
        "    sys.exit('unknown flag(s): ' + ' '.join(sys.argv[3:]))\n"
        f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')\n",
    )
    return {"exits": exits, "rejects": rejects}


# --- exit status 0 and 1 ----------------------------------------------------------


@pytest.fixture(scope="module")
def passing_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``octa-conform run EXAMPLE --select launch.listens --json r.json --junit-xml r.xml``
    (the ``run`` subcommand named; every other test leaves it implied) run once in an empty
    directory, for the tests that look at its parts: (result, directory)."""
    workdir = tmp_path_factory.mktemp("passing")
    proc = octa_conform_here(
        "run",
        EXAMPLE,
        "--select",
        "launch.listens",
        "--json",
        "r.json",
        "--junit-xml",
        "r.xml",
        cwd=workdir,
        env={"NO_COLOR": "1"},
    )
    return proc, workdir


def test_exit_0_when_the_verdict_is_pass(
    passing_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, workdir = passing_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS  launch.listens" in proc.stdout
    assert "verdict: PASS" in proc.stdout
    assert report(workdir / "r.json")["verdict"] == "pass"
    assert sorted(p.name for p in workdir.iterdir()) == ["r.json", "r.xml"]  # nothing else


def test_run_is_hermetic(tmp_path: Path) -> None:
    """The user's pytest setup cannot interfere, and nothing but the report is written."""
    (tmp_path / "conftest.py").write_text("raise RuntimeError('user conftest loaded')\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\naddopts = '--no-such-option'\n"
    )
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = octa_conform_process(
        EXAMPLE,
        "--select",
        "launch.listens",
        "--json",
        "r.json",
        cwd=tmp_path,
        env={"PYTEST_ADDOPTS": "--no-such-option", "PYTEST_PLUGINS": "no_such_plugin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outcomes(report(tmp_path / "r.json")) == {"launch.listens": "passed"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "r.json"])


def test_run_subcommand_is_the_default(
    passing_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, _ = passing_run  # `run` named: the same as the implied run of the other tests
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS  launch.listens" in proc.stdout


def test_exit_1_when_a_must_check_fails(
    octa_conform: Conform, tmp_path: Path, plugins: dict[str, Path]
) -> None:
    proc = octa_conform(plugins["exits"], "--select", "launch.listens", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL  launch.listens" in proc.stdout
    assert "cannot start" in proc.stdout  # the failure shows the plugin's own output
    assert "verdict: FAIL" in proc.stdout
    assert "\x1b[" not in proc.stdout  # NO_COLOR / not a TTY: no escape codes


# --- exit status 4: INCOMPLETE ---------------------------------------------------

INCOMPLETE_SELECTION = (
    "--select",
    "launch.listens",
    "--select",
    "execute.stdout-delivered",
    "--select",
    "cancellation.shutdown-cancels-running",
)


def test_exit_4_when_must_checks_need_probes_nobody_configured(
    octa_conform: Conform, tmp_path: Path
) -> None:
    """A conforming plugin under a key with no built-in probes: what needs no probe passes,
    the rest is skipped, and the verdict says so instead of PASS."""
    js, xml = tmp_path / "r.json", tmp_path / "r.xml"
    proc = octa_conform(OTHER_KEY, *INCOMPLETE_SELECTION, "--json", js, "--junit-xml", xml)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "verdict: INCOMPLETE: 2 MUST checks did not run" in proc.stdout
    assert "verdict: PASS" not in proc.stdout
    assert (
        "configure `echo` (--probe echo=TEMPLATE) to run 1 MUST check: execute.stdout-delivered"
        in proc.stdout
    )
    assert "configure `sleep` (--probe sleep=TEMPLATE) to run 1 MUST check:" in proc.stdout
    data = report(js)
    assert data["verdict"] == "incomplete" and data["plugin"]["key"] == "posix"
    assert outcomes(data) == {
        "launch.listens": "passed",
        "execute.stdout-delivered": "skipped",
        "cancellation.shutdown-cancels-running": "skipped",
    }
    assert {c["id"]: c.get("missing_probes") for c in data["checks"]} == {
        "launch.listens": None,
        "execute.stdout-delivered": ["echo"],
        "cancellation.shutdown-cancels-running": ["sleep"],
    }
    assert 'name="verdict" value="incomplete"' in xml.read_text()


def test_exit_0_with_every_probe_configured(octa_conform: Conform, tmp_path: Path) -> None:
    from octa_conformance.probes import SHELL_PROBES

    config = tmp_path / "octa-conform.toml"
    config.write_text(
        "[probes]\n" + "".join(f"{n} = {json.dumps(t)}\n" for n, t in SHELL_PROBES.items())
    )
    out = tmp_path / "r.json"
    proc = octa_conform(OTHER_KEY, *INCOMPLETE_SELECTION, "--config", config, "--json", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: PASS" in proc.stdout
    data = report(out)
    assert set(outcomes(data).values()) == {"passed"}
    assert data["plugin"]["probes"]["source"] == "configuration"


def test_deselected_checks_are_outside_the_verdict(octa_conform: Conform, tmp_path: Path) -> None:
    proc = octa_conform(
        OTHER_KEY, *INCOMPLETE_SELECTION, "--skip", "execute.*", "--skip", "cancellation.*"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: PASS" in proc.stdout and "SKIP" not in proc.stdout


def test_probe_quoting_from_the_command_line(octa_conform: Conform, tmp_path: Path) -> None:
    """``--probe quoting=none`` is honoured; with the wrong quoting the failure says so."""
    out = tmp_path / "r.json"
    quoting_itself = ["--probe", "echo=printf '%s\\n' '{text}'"]  # the template quotes
    args = [OTHER_KEY, "--select", "execute.stdout-delivered", *quoting_itself, "--json", out]
    ok = octa_conform(*args, "--probe", "quoting=none")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert report(out)["plugin"]["probes"]["quoting"] == "none"
    wrong = octa_conform(*args)  # quoted twice: the shell splits the text into words
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    message = report(out)["checks"][0]["message"]
    assert "quoting: the output is the probe's text" in message, message
    assert "--probe quoting=none" in message


# --- exit status 2: one line on stderr for each kind of bad input -----------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--probe", "quoting=perl"], ["--probe", "quoting", "shell or none", "'perl'"]),
        (["--probe", "quoting"], ["quoting=shell|none"]),
        (["--probe", "echo=say"], ["'echo' must use {text}"]),
    ],
)
def test_exit_2_bad_probe_values(
    capsys: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    assert_usage_error(conform_in_process(capsys, EXAMPLE, *args), *words)


def test_exit_2_no_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(conform_in_process(capsys), "PLUGIN")


def test_exit_2_unknown_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(conform_in_process(capsys, EXAMPLE, "--no-such-option"), "--no-such-option")


def test_exit_2_missing_plugin(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_usage_error(conform_in_process(capsys, tmp_path / "nope"), "does not exist")


def test_exit_2_plugin_is_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_usage_error(conform_in_process(capsys, tmp_path), "directory")


def test_exit_2_plugin_not_executable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "plugin", "#!/bin/sh\nexit 0\n", mode=0o644)
    assert_usage_error(conform_in_process(capsys, plugin), "not executable")


def test_exit_2_python_plugin_with_a_syntax_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = write_plugin(tmp_path / "broken.py", "def main(:\n    pass\n")
    assert_usage_error(conform_in_process(capsys, broken), "not valid Python", "line 1")


def test_plugin_path_with_spaces_and_unicode(octa_conform: Conform, tmp_path: Path) -> None:
    home = tmp_path / "my plügins ünïcode"
    home.mkdir()
    plugin = home / "octa_plugin_shell ✓.py"
    shutil.copy(EXAMPLE, plugin)
    proc = octa_conform(plugin, "--select", "launch.*", "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(outcomes(report(tmp_path / "r.json")).values()) == {"passed"}


def test_exit_2_bad_octa_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(
        conform_in_process(capsys, EXAMPLE, "--octa-version", "0.2"), "--octa-version"
    )


@pytest.mark.parametrize("option", ["--select", "--skip"])
def test_exit_2_unknown_check_id(capsys: pytest.CaptureFixture[str], option: str) -> None:
    assert_usage_error(
        conform_in_process(capsys, EXAMPLE, option, "launch.no-such-check"), "no-such-check"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("select = [", ["not valid TOML"]),
        ("colour = 'blue'", ["unknown setting", "colour"]),
        ("strict = 'yes'", ["strict"]),
        ("[probes]\nquoting = 'perl'", ["quoting"]),
        ("[probes]\necho = 'say {txt}'", ["placeholder"]),
    ],
)
def test_exit_2_bad_config_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, words: list[str]
) -> None:
    config = tmp_path / "octa-conform.toml"
    config.write_text(text + "\n")
    assert_usage_error(conform_in_process(capsys, EXAMPLE, "--config", config), *words)


def test_exit_2_missing_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_usage_error(
        conform_in_process(capsys, EXAMPLE, "--config", tmp_path / "nope.toml"), "nope.toml"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [("launch.no-such-check\n", ["unknown check id"]), ("[1, 2", ["not valid JSON"])],
)
def test_exit_2_bad_baseline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, words: list[str]
) -> None:
    baseline = tmp_path / "baseline.txt"
    baseline.write_text(text)
    assert_usage_error(conform_in_process(capsys, EXAMPLE, "--baseline", baseline), *words)


def test_exit_2_missing_baseline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_usage_error(
        conform_in_process(capsys, EXAMPLE, "--baseline", tmp_path / "nope"), "baseline"
    )


@pytest.mark.parametrize("option", ["--json", "--junit-xml"])
def test_exit_2_unwritable_report_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str
) -> None:
    missing_dir = tmp_path / "no-such-dir" / "report"
    assert_usage_error(conform_in_process(capsys, EXAMPLE, option, missing_dir), "does not exist")
    assert_usage_error(conform_in_process(capsys, EXAMPLE, option, tmp_path), "is a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_exit_2_read_only_report_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:  # pragma: no cover - non-root
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    assert_usage_error(conform_in_process(capsys, EXAMPLE, "--json", ro / "r.json"), "not writable")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--probe", "echo"], ["NAME=TEMPLATE"]),
        (["--probe", "shout={text}"], ["unknown probe"]),
        (["--timeout-scale", "0"], ["timeout scale"]),
        (["--timeout-scale", "fast"], ["--timeout-scale"]),
        (["-j", "0"], ["-j"]),
        (["--jobs", "many"], ["--jobs"]),
    ],
)
def test_exit_2_bad_option_values(
    capsys: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    assert_usage_error(conform_in_process(capsys, EXAMPLE, *args), *words)


def test_exit_2_jobs_without_xdist(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "xdist.plugin", None)  # import xdist.plugin fails
    assert_usage_error(conform_in_process(capsys, EXAMPLE, "-j", "2"), "pytest-xdist", "parallel")


def test_exit_2_list_bad_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(conform_in_process(capsys, "list", "--format", "yaml"), "--format")


# --- exit status 3: the harness itself failed ------------------------------------


def test_exit_3_when_the_harness_fails(tmp_path: Path) -> None:
    """A real harness failure: the temp dir the harness launches plugins in disappears.

    The plugin moves ``$TMPDIR`` away when started, so the harness cannot create the
    private directory of the next plugin process: the check ends in an ``error`` outcome
    (not a plugin failure), and the exit status says the harness failed.
    """
    base = Path(tempfile.mkdtemp(prefix="oc3-", dir="/tmp"))  # short: sockets live inside
    try:
        tmpdir = base / "t"
        tmpdir.mkdir()
        plugin = write_plugin(base / "vanish", '#!/bin/sh\nmv "$TMPDIR" "$TMPDIR.gone"\nexit 1\n')
        out = tmp_path / "r.json"
        proc = octa_conform_process(
            plugin,
            "--select",
            "launch.listens",
            "--json",
            out,
            env={"TMPDIR": str(tmpdir)},
            cwd=tmp_path,
        )
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "ERROR launch.listens" in proc.stdout
        assert "octa-conform: harness error:" in proc.stderr
        assert "FileNotFoundError" in proc.stdout  # the cause, with a short traceback
        assert "_pytest" not in proc.stdout  # pytest's own frames are left out
        assert outcomes(report(out)) == {"launch.listens": "error"}
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- exit status 130: interrupted ------------------------------------------------


@pytest.fixture
def interrupted_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, str]]:
    tag = uuid.uuid4().hex
    out = tmp_path / "partial.json"
    private_tmp = tmp_path / "tmp"  # the harness's temp dirs: must be gone afterwards
    private_tmp.mkdir()
    proc = subprocess.Popen(
        [
            *COMMAND,
            str(EXAMPLE),
            "--select",
            "cancellation.*",
            "--select",
            "concurrency.*",
            "--select",
            "launch.*",
            "--json",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "OCTA_TEST_RUN": tag, "TMPDIR": str(private_tmp)},
        cwd=tmp_path,
    )
    try:
        yield proc, out, tag
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_exit_130_when_interrupted(
    interrupted_run: tuple[subprocess.Popen[str], Path, str], sig: signal.Signals
) -> None:
    proc, out, tag = interrupted_run
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # wait until checks are under way
        seen.append(line)
        if line.startswith("PASS "):
            break
    wait_for_a_plugin(tag)  # interrupt while a plugin process is running
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=10)  # raises if the run hangs
    assert proc.returncode == 130, "".join(seen) + stdout + stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    # what we have is printed; nothing failed, but not everything ran: never PASS
    assert "verdict: INCOMPLETE (run interrupted: not every check ran)" in stdout
    data = report(out)
    assert data["complete"] is False and data["summary"]["complete"] is False
    assert data["verdict"] == "incomplete"
    assert 1 <= len(data["checks"]) < 17
    assert not tagged_plugins(tag)
    assert not list((out.parent / "tmp").iterdir())  # no temp dir, socket or file left


# --- options ----------------------------------------------------------------------


def test_help_documents_exit_codes_and_options(octa_conform: Conform) -> None:
    for args in (["--help"], ["run", "--help"]):
        proc = octa_conform(*args)
        assert proc.returncode == 0
        for text in ("Exit status", "0 ", "1 ", "2 ", "3 ", "4 ", "INCOMPLETE", "130", "complete"):
            assert text in proc.stdout, (args, text)
    run_help = octa_conform("run", "--help").stdout
    for option in (
        "--octa-version",
        "--strict",
        "--select",
        "--skip",
        "--probe",
        "--config",
        "--baseline",
        "--junit-xml",
        "--json",
        "--timeout-scale",
        "--jobs",
        "--verbose",
        "--plugin-arg",
    ):
        assert option in run_help, option
    assert "Exit status" in octa_conform("session", "--help").stdout


def test_version(octa_conform: Conform) -> None:
    proc = octa_conform("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "octa-conform"
    if not script.exists():
        pytest.skip("octa-conform console script not installed in this environment")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_select_and_skip(octa_conform: Conform, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = octa_conform(
        EXAMPLE,
        "--select",
        "launch.*",
        "--select",
        "shutdown.acknowledged",
        "--skip",
        "launch.startup-time",
        "--skip",
        "*.quiet-*",
        "--json",
        out,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(outcomes(report(out))) == {
        "launch.listens",
        "launch.socket-path-honoured",
        "launch.unknown-flag",
        "shutdown.acknowledged",
    }


def test_octa_version(octa_conform: Conform, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    select = "handshake.requirement-matches-target"
    proc = octa_conform(EXAMPLE, "--octa-version", "0.3.0", "--select", select, "--json", out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = report(out)
    assert data["target"] == "0.3.0"
    assert outcomes(data) == {select: "failed"}


def test_strict_turns_should_failures_into_failures(
    octa_conform: Conform, tmp_path: Path, plugins: dict[str, Path]
) -> None:
    out = tmp_path / "r.json"
    args = (plugins["rejects"], "--select", "launch.unknown-flag", "--json", out)
    lenient = octa_conform(*args)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "WARN  launch.unknown-flag" in lenient.stdout
    assert "verdict: PASS with 1 warning" in lenient.stdout
    assert report(out)["summary"]["warnings"] == 1
    strict = octa_conform(*args, "--strict")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "FAIL  launch.unknown-flag" in strict.stdout
    assert report(out)["strict"] is True


def test_probe_option_replaces_a_probe(octa_conform: Conform, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    check = "execute.stdout-delivered"
    ok = octa_conform(EXAMPLE, "--select", check)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = octa_conform(EXAMPLE, "--select", check, "--probe", "echo=true {text}", "--json", out)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert outcomes(report(out)) == {check: "failed"}


def test_config_file(octa_conform: Conform, tmp_path: Path, plugins: dict[str, Path]) -> None:
    config = tmp_path / "conf.toml"
    config.write_text('select = ["launch.unknown-flag", "launch.listens"]\nstrict = true\n')
    out = tmp_path / "r.json"
    proc = octa_conform(plugins["rejects"], "--config", config, "--json", out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = report(out)
    assert outcomes(data) == {"launch.listens": "passed", "launch.unknown-flag": "failed"}
    assert data["strict"] is True


def test_config_file_found_beside_the_plugin(
    octa_conform: Conform, tmp_path: Path, plugins: dict[str, Path]
) -> None:
    (plugins["rejects"].parent / "octa-conform.toml").write_text('select = ["launch.listens"]\n')
    out = tmp_path / "r.json"
    proc = octa_conform(plugins["rejects"], "--json", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(outcomes(report(out))) == {"launch.listens"}


def test_baseline_turns_known_failures_into_xfailed(
    octa_conform: Conform, tmp_path: Path, plugins: dict[str, Path]
) -> None:
    baseline = tmp_path / "baseline.txt"
    baseline.write_text("# not started yet\nlaunch.listens\n")
    out = tmp_path / "r.json"
    proc = octa_conform(
        plugins["exits"], "--select", "launch.listens", "--baseline", baseline, "--json", out
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "XFAIL launch.listens" in proc.stdout
    assert outcomes(report(out)) == {"launch.listens": "xfailed"}


def test_baseline_named_in_the_config_file(
    octa_conform: Conform, tmp_path: Path, plugins: dict[str, Path]
) -> None:
    (plugins["exits"].parent / "known.txt").write_text("launch.listens\n")
    config = plugins["exits"].parent / "octa-conform.toml"
    config.write_text('baseline = "known.txt"\nselect = ["launch.listens"]\n')
    proc = octa_conform(plugins["exits"], cwd=tmp_path)  # config found beside the plugin
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "XFAIL launch.listens" in proc.stdout


def test_baseline_reports_stale_entries(octa_conform: Conform, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text('["launch.listens"]')
    out = tmp_path / "r.json"
    proc = octa_conform(
        EXAMPLE, "--select", "launch.listens", "--baseline", baseline, "--json", out
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stale baseline" in proc.stdout
    data = report(out)
    assert data["checks"][0]["stale_baseline"] is True
    assert data["summary"]["stale_baseline"] == ["launch.listens"]


def test_json_report_as_baseline(
    octa_conform: Conform, tmp_path: Path, plugins: dict[str, Path]
) -> None:
    first = tmp_path / "first.json"
    octa_conform(plugins["exits"], "--select", "launch.listens", "--json", first)
    proc = octa_conform(plugins["exits"], "--select", "launch.listens", "--baseline", first)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_junit_xml_and_json_reports(
    passing_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, workdir = passing_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'name="launch.listens"' in (workdir / "r.xml").read_text()
    assert outcomes(report(workdir / "r.json")) == {"launch.listens": "passed"}


def test_timeout_scale(octa_conform: Conform, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = octa_conform(
        EXAMPLE, "--select", "launch.listens", "--timeout-scale", "0.0001", "--json", out
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # a 0.5 ms connect deadline
    assert outcomes(report(out)) == {"launch.listens": "failed"}


def test_jobs_runs_in_parallel_with_the_same_outcomes(
    octa_conform: Conform, tmp_path: Path
) -> None:
    pytest.importorskip("xdist")
    out = tmp_path / "r.json"
    proc = octa_conform(EXAMPLE, "-j", "2", "--select", "launch.*", "--json", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 workers" in proc.stdout
    assert outcomes(report(out)) == {cid: "passed" for cid in catalogue.match(["launch.*"])}


def test_verbose_shows_transcripts_of_passing_checks(
    octa_conform: Conform,
    tmp_path: Path,
    passing_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    quiet, workdir = passing_run  # without -v
    assert "wire transcript" not in quiet.stdout
    assert "transcript" not in report(workdir / "r.json")["checks"][0]
    out = tmp_path / "r.json"
    loud = octa_conform(EXAMPLE, "--select", "launch.listens", "-v", "--json", out)
    assert loud.returncode == 0
    assert "wire transcript" in loud.stdout
    assert "wire transcript" in report(out)["checks"][0]["transcript"]


def test_plugin_arg_reaches_every_launch(octa_conform: Conform, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    proc = octa_conform(
        EXAMPLE,
        "--select",
        "launch.listens",
        "--plugin-arg=--log-dir",
        "--plugin-arg",
        logs,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(logs.glob("*.log")), "the example plugin logs to --log-dir DIR"


# --- list -------------------------------------------------------------------------


def test_list_json_has_every_check(octa_conform: Conform) -> None:
    proc = octa_conform("list", "--format", "json")
    assert proc.returncode == 0
    entries = json.loads(proc.stdout)["checks"]
    assert [e["id"] for e in entries] == list(catalogue.CHECKS)
    first = entries[0]
    assert set(first) >= {"id", "level", "area", "description", "probes"}
    by_id = {e["id"]: e for e in entries}
    assert by_id["execute.stdout-delivered"]["probes"] == ["echo"]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_list_text_and_markdown(octa_conform: Conform, fmt: str) -> None:
    proc = octa_conform("list", "--format", fmt)
    assert proc.returncode == 0
    for cid, spec in catalogue.CHECKS.items():
        start = f"| `{cid}` |" if fmt == "markdown" else f"  {cid} "
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(start))
        assert spec.level.value in line
    if fmt == "markdown":
        assert proc.stdout.startswith("| id | level |")
    assert octa_conform("list").stdout == octa_conform("list", "--format", "text").stdout


def test_list_probes(capsys: pytest.CaptureFixture[str]) -> None:
    from octa_conformance.probes import CONTRACTS

    text = conform_in_process(capsys, "list", "--probes")
    assert text.returncode == 0, text.stderr
    for name, contract in CONTRACTS.items():
        assert contract.usage in text.stdout and contract.does in text.stdout, name
    block = text.stdout.split("\nsleep {seconds}", 1)[1].split("\n\n", 1)[0]
    assert "cancellable" in block and "cancellation.shutdown-cancels-running" in block
    assert "`pwd` and `pwd -P`" in text.stdout  # logical or physical: both do

    data = json.loads(conform_in_process(capsys, "list", "--probes", "--format", "json").stdout)
    by_name = {p["name"]: p for p in data["probes"]}
    assert list(by_name) == list(CONTRACTS)
    assert {"id": "execute.exit-code", "level": "MUST"} in by_name["fail"]["checks"]
    needs = {c["id"] for p in data["probes"] for c in p["checks"]}
    assert needs == {cid for cid, s in catalogue.CHECKS.items() if s.probes}

    md = conform_in_process(capsys, "list", "--probes", "--format", "markdown").stdout
    assert md.startswith("| probe |") and "| `echo {text}` |" in md
    # the checks listing is unchanged
    assert conform_in_process(capsys, "list").stdout.startswith("launch:")


# --- session ----------------------------------------------------------------------


def test_session_prints_the_whole_exchange(octa_conform: Conform, tmp_path: Path) -> None:
    proc = octa_conform("session", EXAMPLE, "--", "echo hi", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    sent = [ln for ln in lines if "host   ->" in ln]
    got = [ln for ln in lines if "plugin <-" in ln]
    for kind in ("Hello", "Schema", "Execute", "Shutdown"):
        assert any(f'"type":"{kind}"' in ln for ln in sent), kind
    for kind in ("Hello", "Schema", "Started", "Stdout", "ExitStatus", "Shutdown"):
        assert any(f'"type":"{kind}"' in ln for ln in got), kind
    assert any('"line":"hi\\n"' in ln for ln in got)
    assert all(ln.strip()[0] in "+-" and "s " in ln for ln in sent + got)  # timestamps
    assert "session OK" in proc.stdout
    assert "\x1b[" not in proc.stdout


def test_session_colours_directions_on_a_terminal() -> None:
    from octa_conformance.reporting.live import frame_line

    host = frame_line(0.5, "host", '{"type":"Hello"}', color=True)
    plugin = frame_line(0.6, "plugin", '{"type":"Hello"}', color=True)
    assert "\x1b[" in host and "\x1b[" in plugin and host.split("m")[0] != plugin.split("m")[0]


def test_session_command_exit_code_is_not_misbehaviour(
    octa_conform: Conform, tmp_path: Path
) -> None:
    proc = octa_conform("session", EXAMPLE, "--dir", tmp_path, "--", "exit", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"code":3' in proc.stdout
    assert f'"dir":"{tmp_path}"' in proc.stdout


def test_session_exit_1_when_the_plugin_misbehaves(
    octa_conform: Conform, plugins: dict[str, Path]
) -> None:
    proc = octa_conform("session", plugins["exits"], "--", "echo hi")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "session FAILED" in proc.stdout and "cannot start" in proc.stdout


def test_session_exit_1_on_a_protocol_violation(octa_conform: Conform) -> None:
    mutant = "ExecuteOutputBeforeStarted"  # output frames before Started (tests/mutants)
    plugin = ROOT / "tests" / "mutants" / "plugin.py"
    proc = octa_conform("session", plugin, "--", "echo hi", env={"OCTA_MUTANT": mutant})
    if "unknown mutant" in proc.stdout:
        pytest.skip(f"mutant {mutant} is not defined")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "!! violation:" in proc.stdout and "session FAILED" in proc.stdout


def test_session_exit_1_when_octa_would_reject_the_plugin(octa_conform: Conform) -> None:
    proc = octa_conform("session", EXAMPLE, "--octa-version", "0.3.0", "--", "echo hi")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "rejects this plugin" in proc.stdout
    assert '"type":"Execute"' not in proc.stdout


def test_session_plugin_arg_and_timeout_scale(octa_conform: Conform, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    proc = octa_conform(
        "session",
        EXAMPLE,
        "--plugin-arg=--log-dir",
        "--plugin-arg",
        logs,
        "--timeout-scale",
        "2",
        "--",
        "echo hi",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"--log-dir {logs}" in proc.stdout  # the argv line
    assert list(logs.glob("*.log"))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["session", "MISSING", "--", "echo hi"], ["does not exist"]),
        (["session", str(EXAMPLE), "--octa-version", "x", "--", "echo hi"], ["--octa-version"]),
        (["session", str(EXAMPLE)], ["PARAMS"]),
    ],
)
def test_session_usage_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    assert_usage_error(conform_in_process(capsys, *args), *words)


# --- reports people look at -------------------------------------------------------

DEAD = ROOT / "tests" / "plugins" / "exits_at_once.py"  # prints a line, exits 3


def test_a_dead_plugin_report_fits_one_screen_and_names_the_cause_once(
    octa_conform: Conform, tmp_path: Path
) -> None:
    js, xml = tmp_path / "r.json", tmp_path / "r.xml"
    proc = octa_conform(DEAD, "--json", js, "--junit-xml", xml, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    output = proc.stdout + proc.stderr
    assert len(output.splitlines()) <= 60, output
    assert output.count("plugin exited with status 3 before listening") == 1, output
    assert output.count("exits_at_once: cannot frobnicate the socket") == 1, output
    root_line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("Root cause:"))
    assert root_line.startswith("Root cause: the plugin could not be started")
    assert proc.stdout.splitlines()[-1].startswith("verdict: FAIL: the plugin could not be started")
    assert f"rerun: octa-conform {DEAD} --select launch.listens" in proc.stdout
    data = report(js)
    assert data["verdict"] == "fail" and data["cause"]["kind"] == "launch"
    assert "cannot frobnicate" in data["cause"]["output"]
    assert len(data["checks"]) == len(catalogue.CHECKS)
    assert all(c["cause"] == "the plugin could not be started" for c in data["checks"])
    not_run = [c for c in data["checks"] if c["id"] != "launch.listens"]
    assert all(
        c["message"].removeprefix("could not measure: ").startswith("not run") for c in not_run
    )
    assert {c["outcome"] for c in not_run if c["level"] != "INFO"} == {"failed"}  # counted
    assert 'name="cause" value="launch: plugin exited with status 3' in xml.read_text()


def test_quiet_shows_failures_rerun_lines_and_the_verdict(
    octa_conform: Conform, tmp_path: Path, plugins: dict[str, Path]
) -> None:
    proc = octa_conform(
        plugins["rejects"],
        "-q",
        "--strict",
        "--select",
        "launch.*",
        "--octa-version",
        "0.2.1",
        "--probe",
        "quoting=shell",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Failures, warnings and errors:")  # no header, no live list
    assert not any(ln.startswith("PASS ") for ln in lines)
    assert "FAIL launch.unknown-flag (SHOULD)" in proc.stdout
    assert "wire transcript" not in proc.stdout
    assert (
        f"rerun: octa-conform {plugins['rejects']} --octa-version 0.2.1 --probe quoting=shell"
        " --strict --select launch.unknown-flag" in proc.stdout
    )
    assert "area " not in proc.stdout
    assert lines[-1].startswith("verdict: FAIL")


@pytest.mark.parametrize("option", [["-x"], ["--maxfail", "1"]])
def test_stop_after_the_first_failure(
    octa_conform: Conform, tmp_path: Path, plugins: dict[str, Path], option: list[str]
) -> None:
    out = tmp_path / "r.json"
    proc = octa_conform(
        plugins["rejects"], *option, "--strict", "--select", "launch.*", "--json", out
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = report(out)
    assert list(outcomes(data))[-1] == "launch.unknown-flag"  # nothing ran after it
    assert "launch.startup-time" not in outcomes(data)
    assert data["complete"] is False and data["verdict"] == "fail"
    assert "verdict: FAIL (stopped after 1 failure: not every check ran)" in proc.stdout


def test_json_to_stdout_and_the_rest_to_stderr(octa_conform: Conform, tmp_path: Path) -> None:
    proc = octa_conform(EXAMPLE, "--select", "launch.listens", "--json", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "pass"
    assert "PASS  launch.listens" in proc.stderr and "verdict: PASS" in proc.stderr
    assert not (tmp_path / "-").exists()
    xml = octa_conform(EXAMPLE, "--select", "launch.listens", "--junit-xml", "-", cwd=tmp_path)
    assert xml.stdout.startswith("<?xml") and "verdict: PASS" in xml.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--json", "-", "--junit-xml", "-"], ["only one report", "stdout"]),
        (["--maxfail", "0"], ["--maxfail", "positive"]),
    ],
)
def test_exit_2_report_and_stop_options(
    capsys: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    assert_usage_error(conform_in_process(capsys, EXAMPLE, *args), *words)


@pytest.mark.parametrize(
    ("env", "coloured"),
    [
        ({"NO_COLOR": ""}, False),  # not a terminal
        ({"NO_COLOR": "", "FORCE_COLOR": "1"}, True),  # CI logs
        # the other rules: in the quick loop by test_reports.py's use_color tests
        pytest.param(
            {"NO_COLOR": "", "CLICOLOR_FORCE": "1", "TERM": "dumb"}, True, marks=pytest.mark.slow
        ),
        pytest.param({"NO_COLOR": "1", "FORCE_COLOR": "1"}, False, marks=pytest.mark.slow),
    ],
)
def test_colour_follows_the_environment(
    octa_conform: Conform, tmp_path: Path, env: dict[str, str], coloured: bool
) -> None:
    proc = octa_conform(EXAMPLE, "--select", "launch.listens", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("\x1b[" in proc.stdout) is coloured


def test_list_wraps_to_the_terminal_and_links_sections(
    octa_conform: Conform, capsys: pytest.CaptureFixture[str]
) -> None:
    for columns in (80, 132):
        text = octa_conform("list", env={"COLUMNS": str(columns)}).stdout
        assert max(len(ln) for ln in text.splitlines()) <= columns
        first = next(ln for ln in text.splitlines() if ln.startswith("  launch.listens "))
        assert "MUST    §1" in first
        assert ("started as" in first) is (columns > 80)  # beside the id, or below it
    piped = octa_conform("list", env={"COLUMNS": ""}).stdout  # no terminal: a line per check
    assert sum(ln.startswith("  ") for ln in piped.splitlines()) == len(catalogue.CHECKS)
    md = conform_in_process(capsys, "list", "--format", "markdown").stdout
    line = next(ln for ln in md.splitlines() if ln.startswith("| `launch.quiet-before-hello`"))
    assert "| [§4.1](docs/protocol.md#s4.1) |" in line
    assert "[§3](docs/protocol.md#s3), [§4.1](docs/protocol.md#s4.1)" in md
