"""Run the bundled suites in-process, through the same pytest plugin as ``pytest --octa-plugin``.

One engine, two front doors: the CLI builds a pytest command line of ``--octa-*`` options
and calls :func:`pytest.main` with it. The run is hermetic, so the user's pytest setup
cannot change what is checked:

* ``--disable-plugin-autoload`` (and ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` for older pytest
  and xdist workers): no installed pytest plugin loads unless named with ``-p``. Named are
  the engine (``octa_conformance.pytest_plugin``), ``pytest_asyncio.plugin``, Hypothesis'
  ``_hypothesis_pytestplugin`` (it is loaded in the pytest front door too) and, with
  ``-j``, ``xdist.plugin``.
* ``-c <tmp>/pytest.ini`` (our own ini), ``--rootdir <tmp>``, ``--confcutdir <suites>``:
  no user ini, ``addopts`` or ``conftest.py`` from above the suites is read;
  ``PYTEST_ADDOPTS`` and ``PYTEST_PLUGINS`` are removed from the environment for the run.
* ``-p no:cacheprovider``, ``--basetemp <tmp>/basetemp``, Hypothesis' storage moved to
  the temp dir, no bytecode written: nothing lands outside the temp dir except the
  requested reports.
* ``-p no:terminal``: pytest prints nothing itself; the engine's ``--octa-progress`` mode
  prints one line per check (``--octa-quiet``: none), the CLI prints the summary.

A report path ``-`` means stdout; the human output then goes to stderr. What the run writes
and how it is driven (reports, workers, when to stop) is validated once, by
:func:`plan_run`, before anything is printed or started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from octa_conformance import catalogue, interrupts
from octa_conformance.interrupts import signals_interrupt
from octa_conformance.probes import ConfigError
from octa_conformance.pytest_plugin import REPORT_KEY, suites_dir
from octa_conformance.reporting import (
    STDOUT,
    check_one_stdout_report,
    check_report_path,
    write_reports,
)
from octa_conformance.results import PluginFacts, RunReport
from octa_conformance.settings import RunOptions
from octa_conformance.supervisor import kill_all

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_HARNESS, EXIT_INCOMPLETE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
VERDICT_EXIT = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "incomplete": EXIT_INCOMPLETE}

ENGINE_PLUGINS = ("octa_conformance.pytest_plugin", "pytest_asyncio.plugin")
OPTIONAL_PLUGINS = ("_hypothesis_pytestplugin",)  # loaded when importable
XDIST_PLUGIN = "xdist.plugin"
XDIST_MISSING = (
    "-j needs pytest-xdist, which is not installed (pip install 'octa-conformance[parallel]')"
)
INI = """\
# written by octa-conform: the only pytest configuration the run sees
[pytest]
addopts =
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
python_files = test_*.py
"""
_SCRUBBED_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


def check_xdist() -> None:
    """ConfigError unless pytest-xdist can be imported."""
    try:
        import xdist.plugin  # noqa: F401
    except ImportError:
        raise ConfigError(XDIST_MISSING) from None


@dataclass(frozen=True)
class RunPlan:
    """How a run is carried out: its reports (absolute paths, or ``-`` for stdout), its
    workers, when it stops, what it prints. Made by :func:`plan_run`, which validates it."""

    json_path: Path | None = None
    junit_path: Path | None = None
    html_path: Path | None = None
    jobs: int | None = None
    maxfail: int | None = None  # stop after this many failures
    verbose: bool = False  # transcripts of passing checks too
    quiet: bool = False  # no line per check
    progress: bool = True  # the engine prints a line per check

    @property
    def reports_on_stdout(self) -> bool:
        """Whether a report goes to stdout (the human output then goes to stderr)."""
        return any(
            p is not None and str(p) == STDOUT
            for p in (self.json_path, self.junit_path, self.html_path)
        )


def plan_run(
    *,
    json_path: str | os.PathLike[str] | None = None,
    junit_path: str | os.PathLike[str] | None = None,
    html_path: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    maxfail: int | None = None,
    exitfirst: bool = False,
    verbose: bool = False,
    quiet: bool = False,
    progress: bool = True,
) -> RunPlan:
    """The validated RunPlan; ConfigError (exit status 2) for a report path that cannot be
    written, more than one report on stdout (``-``), ``jobs`` or ``maxfail`` below 1, or
    ``jobs`` without pytest-xdist. ``exitfirst``: stop after the first failure."""
    reports = {
        "json_path": check_report_path(json_path, "JSON report") if json_path else None,
        "junit_path": check_report_path(junit_path, "JUnit report") if junit_path else None,
        "html_path": check_report_path(html_path, "HTML report") if html_path else None,
    }
    check_one_stdout_report(json_path, junit_path, html_path)
    if maxfail is not None and maxfail < 1:
        raise ConfigError(f"--maxfail expects a positive number of failures, got {maxfail}")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"-j expects a positive number of workers, got {jobs}")
    if jobs:
        check_xdist()
    return RunPlan(
        **reports,
        jobs=jobs,
        maxfail=1 if exitfirst else maxfail,
        verbose=verbose,
        quiet=quiet,
        progress=progress,
    )


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _supports_disable_autoload() -> bool:
    major, minor = (int(x) for x in pytest.__version__.split(".")[:2])
    return (major, minor) >= (8, 4)


def pytest_args(options: RunOptions, workdir: Path, plan: RunPlan) -> list[str]:
    """The hermetic pytest command line for ``options`` (paths must be absolute, or ``-``)."""
    suites = suites_dir()
    args = ["--disable-plugin-autoload"] if _supports_disable_autoload() else []
    for name in ENGINE_PLUGINS:
        args += ["-p", name]
    for name in OPTIONAL_PLUGINS:
        if _importable(name):
            args += ["-p", name]
    if plan.jobs:
        args += ["-p", XDIST_PLUGIN, "-n", str(plan.jobs)]
    args += [
        "-p",
        "no:cacheprovider",
        "-p",
        "no:terminal",
        "-c",
        str(workdir / "pytest.ini"),
        "--rootdir",
        str(workdir),
        "--confcutdir",
        str(suites),
        "--basetemp",
        str(workdir / "basetemp"),
        "--octa-plugin",
        str(options.plugin),
        "--octa-version",
        options.octa_version,
        f"--octa-timeout-scale={options.timeout_scale!r}",
    ]
    if options.strict:
        args.append("--octa-strict")
    if options.config_path is not None:
        args.append(f"--octa-config={options.config_path.absolute()}")
    if options.baseline_path is not None:
        args.append(f"--octa-baseline={options.baseline_path.absolute()}")
    args += [f"--octa-select={p}" for p in options.select]
    args += [f"--octa-skip={p}" for p in options.skip]
    args += [f"--octa-probe={n}={t}" for n, t in options.probe_options.items()]
    args += [f"--octa-plugin-arg={a}" for a in options.plugin_args]
    if plan.json_path is not None:
        args.append(f"--octa-json={plan.json_path}")
    if plan.junit_path is not None:
        args.append(f"--octa-junit-xml={plan.junit_path}")
    if plan.html_path is not None:
        args.append(f"--octa-html={plan.html_path}")
    if plan.verbose:
        args.append("--octa-verbose")
    if plan.progress:
        args.append("--octa-progress")
    if plan.quiet:
        args.append("--octa-quiet")
    if plan.maxfail:
        args.append(f"--maxfail={plan.maxfail}")
    args.append(str(suites))
    return args


@dataclass
class _Watcher:
    """Registered with pytest.main: what went wrong besides check outcomes."""

    config: pytest.Config | None = None
    collect_errors: list[str] = field(default_factory=list)
    internal_error: str | None = None
    interrupted: bool = False
    collected: int | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid or 'collection'}: {report.longreprtext}")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = len(session.items)

    def pytest_internalerror(self, excrepr: Any, excinfo: Any) -> bool:
        self.internal_error = str(excrepr)
        return True  # we print it ourselves

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True


@contextlib.contextmanager
def _hermetic(workdir: Path, jobs: int | None) -> Iterator[None]:
    """Scrubbed environment, Hypothesis storage in ``workdir``, no bytecode written."""
    saved_env = {k: os.environ.get(k) for k in (*_SCRUBBED_ENV, "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    saved_env["PYTHONDONTWRITEBYTECODE"] = os.environ.get("PYTHONDONTWRITEBYTECODE")
    saved_bytecode = sys.dont_write_bytecode
    from hypothesis import configuration

    try:
        for k in _SCRUBBED_ENV:
            os.environ.pop(k, None)
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        if jobs:  # xdist workers are fresh interpreters
            os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
        sys.dont_write_bytecode = True
        configuration.set_hypothesis_home_dir(workdir / ".hypothesis")
        yield
    finally:
        configuration.set_hypothesis_home_dir(None)
        sys.dont_write_bytecode = saved_bytecode
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _fallback_report(options: RunOptions, complete: bool) -> RunReport:
    return RunReport(
        plugin=PluginFacts(str(options.plugin)),
        target=options.octa_version,
        strict=options.strict,
        complete=complete,
    )


def selected_ids(options: RunOptions) -> list[str]:
    """The catalogue ids the run will check."""
    return [cid for cid in catalogue.CHECKS if options.selected(cid)]


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(
    options: RunOptions, plan: RunPlan | None = None, *, diagnostics: list[str] | None = None
) -> tuple[int, RunReport | None]:
    """Run the selected checks as ``plan`` says (default: no reports, one process); return
    (exit status, report).

    Exit status: 0 verdict pass, 1 verdict fail, 4 verdict incomplete (nothing failed but
    a MUST check did not run), 3 the harness failed (a check errored, pytest could not
    collect or run the suites), 130 interrupted (reports are still written, marked
    incomplete; whatever the verdict). With ``plan.maxfail`` the run stops after that many
    failures (the report is then incomplete). Harness diagnostics (why the status is 3)
    are appended to ``diagnostics`` if given, else printed to stderr.
    """
    plan = plan or RunPlan()
    workdir = Path(tempfile.mkdtemp(prefix="octa-conform-run-")).resolve()
    watcher = _Watcher()
    status: int | pytest.ExitCode | None = None
    crashed: str | None = None
    try:
        (workdir / "pytest.ini").write_text(INI, encoding="utf-8")
        args = pytest_args(options, workdir, plan)
        with signals_interrupt(), _hermetic(workdir, plan.jobs):
            try:
                status = pytest.main(args, plugins=[watcher])
            except KeyboardInterrupt:
                watcher.interrupted = True
            except Exception as e:  # an exception escaping pytest itself
                crashed = f"{type(e).__name__}: {e}"
            if interrupts.received():  # even if some code swallowed the KeyboardInterrupt
                watcher.interrupted = True
    except KeyboardInterrupt:
        watcher.interrupted = True
    finally:
        kill_all()
        shutil.rmtree(workdir, ignore_errors=True)

    report = watcher.config.stash.get(REPORT_KEY, None) if watcher.config else None
    interrupted = watcher.interrupted or (
        status == pytest.ExitCode.INTERRUPTED and not watcher.collect_errors
    )
    if interrupted:
        if report is None:  # the engine did not get to write its reports
            report = _fallback_report(options, complete=False)
            with contextlib.suppress(OSError):
                write_reports(
                    report,
                    json_path=plan.json_path,
                    junit_path=plan.junit_path,
                    html_path=plan.html_path,
                )
        report.complete = False
        return EXIT_INTERRUPTED, report

    problems = []
    if crashed:
        problems.append(f"pytest crashed: {crashed}")
    if watcher.internal_error:
        problems.append(f"pytest internal error:\n{watcher.internal_error}")
    if watcher.collect_errors:
        problems.append("the suites could not be collected:\n" + "\n".join(watcher.collect_errors))
    if status == pytest.ExitCode.USAGE_ERROR:
        problems.append("pytest rejected the harness' own command line (a bug in octa-conform)")
    if status == pytest.ExitCode.NO_TESTS_COLLECTED or (report is not None and not report.checks):
        problems.append(
            "no checks ran: the selected ids have no implementation in the bundled suites"
            f" ({suites_dir()})"
        )
    if report is not None and report.harness_errors:
        problems.append(
            "check(s) ended in a harness error: " + ", ".join(c.id for c in report.harness_errors)
        )
    if report is None and not problems:  # pragma: no cover - pytest ran no session
        problems.append(f"pytest exited with status {status} and no report")
    if problems:
        if diagnostics is None:
            for p in problems:
                _say(f"octa-conform: harness error: {p}")
        else:
            diagnostics.extend(problems)
        return EXIT_HARNESS, report
    assert report is not None
    return VERDICT_EXIT[report.verdict], report
