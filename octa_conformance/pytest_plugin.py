"""The pytest plugin: ``pytest --octa-plugin ./my-plugin`` runs the bundled suites.

This module is the engine behind both front doors. The CLI runs pytest in-process with
this plugin; in a plugin author's repository pytest loads it through the ``pytest11``
entry point. Fixtures for custom tests: ``octa`` (a :class:`CheckContext`),
``octa_host`` (a launched, connected :class:`FakeOcta`) and ``octa_ready_host``
(handshaken).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from octa_conformance import catalogue, interrupts
from octa_conformance.catalogue import Level
from octa_conformance.checking import MARKER, CheckFailure, check_id_of
from octa_conformance.context import CheckContext, PluginInfo, gather_info
from octa_conformance.errors import LaunchError, OctaConformanceError
from octa_conformance.host import FakeOcta
from octa_conformance.probes import ConfigError
from octa_conformance.protocol import Dialect
from octa_conformance.results import (
    CAUSE_HANDSHAKE,
    CAUSE_LAUNCH,
    CheckResult,
    PluginFacts,
    RootCause,
    RunReport,
)
from octa_conformance.settings import RunOptions, resolve
from octa_conformance.supervisor import PluginProcess, kill_all

OPTIONS_KEY = pytest.StashKey[RunOptions]()
CONTEXT_KEY = pytest.StashKey[CheckContext]()
REPORT_KEY = pytest.StashKey[RunReport]()
HYPOTHESIS_HOME_KEY = pytest.StashKey[str]()
SIGNALS_KEY = pytest.StashKey[dict[int, Any]]()
UNRAISABLE_KEY = pytest.StashKey[Any]()
CAUSE_KEY = pytest.StashKey["RootCause | None"]()
INFO_KEY = pytest.StashKey[PluginInfo]()
# The checks that judge the launch itself: they run even when the plugin cannot be started.
LAUNCH_WITNESSES = frozenset({"launch.listens"})
RESULT_PROPERTY = "octa_result"


def suites_dir() -> Path:
    """Where the bundled suites are: inside the wheel, or beside the package in a checkout."""
    installed = Path(__file__).parent / "_suites"
    return installed if installed.is_dir() else Path(__file__).parent.parent / "suites"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("octa", "Octa plugin conformance (octa-conformance)")
    g.addoption("--octa-plugin", metavar="PATH", help="plugin executable to check")
    g.addoption("--octa-version", metavar="VERSION", help="target Octa version (default 0.2.1)")
    g.addoption("--octa-strict", action="store_true", default=None, help="SHOULD failures fail")
    g.addoption("--octa-select", action="append", default=[], metavar="GLOB", help="run only")
    g.addoption("--octa-skip", action="append", default=[], metavar="GLOB", help="do not run")
    g.addoption("--octa-probe", action="append", default=[], metavar="NAME=TEMPLATE")
    g.addoption("--octa-config", metavar="FILE", help="octa-conform.toml or pyproject.toml")
    g.addoption("--octa-baseline", metavar="FILE", help="known failures (reported as xfailed)")
    g.addoption("--octa-timeout-scale", type=float, metavar="X", help="stretch every timeout")
    g.addoption("--octa-plugin-arg", action="append", default=[], metavar="ARG")
    g.addoption("--octa-json", metavar="FILE", help="write the JSON report")
    g.addoption("--octa-junit-xml", metavar="FILE", help="write the JUnit XML report")
    g.addoption("--octa-html", metavar="FILE", help="write the HTML report (self-contained)")
    g.addoption("--octa-no-suites", action="store_true", help="only your own tests, no suites")
    g.addoption("--octa-verbose", action="store_true", help="transcripts for passing checks")
    g.addoption(
        "--octa-require-complete",
        action="store_true",
        help="fail the session when the verdict is INCOMPLETE (a MUST check did not run)",
    )
    g.addoption(
        "--octa-progress",
        action="store_true",
        # used by the CLI
        help="print one line per check instead of pytest's output",
    )
    g.addoption(
        "--octa-quiet",
        action="store_true",
        # used by the CLI with --octa-progress
        help="with --octa-progress: no line per check (failures and the verdict only)",
    )
    parser.addini("octa_plugin", "plugin executable to check (like --octa-plugin)", default="")


def options_from_config(config: pytest.Config) -> RunOptions | None:
    plugin = config.getoption("octa_plugin") or config.getini("octa_plugin")
    if not plugin:
        return None
    return resolve(
        plugin,
        octa_version=config.getoption("octa_version"),
        strict=config.getoption("octa_strict"),
        select=config.getoption("octa_select"),
        skip=config.getoption("octa_skip"),
        probes=config.getoption("octa_probe"),
        config=config.getoption("octa_config"),
        baseline=config.getoption("octa_baseline"),
        timeout_scale=config.getoption("octa_timeout_scale"),
        plugin_args=config.getoption("octa_plugin_arg"),
    )


@pytest.hookimpl(tryfirst=True)  # before pytest-asyncio's: see _loop_scope_default
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(id, level): an Octa conformance check from the catalogue"
    )
    try:
        options = options_from_config(config)
        if options is not None:
            check_report_paths(config)
        if options is not None and config.getoption("octa_html"):
            from octa_conformance.runner import check_report_path

            check_report_path(config.getoption("octa_html"), "HTML report")  # before any check
    except ConfigError as e:
        raise pytest.UsageError(str(e)) from None
    if options is None:
        return
    config.stash[OPTIONS_KEY] = options
    _loop_scope_default(config)
    _private_hypothesis_home(config)
    # Ctrl-C and SIGTERM unwind at once, so every plugin process is stopped
    config.stash[SIGNALS_KEY] = interrupts.install()
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Collector(config, options), "octa-collector")
    suites = str(suites_dir())  # xdist workers must collect the suites too
    if not config.getoption("octa_no_suites") and suites not in config.args:
        config.args.append(suites)


REPORT_OPTIONS = (
    ("octa_json", "--octa-json", "JSON report"),
    ("octa_junit_xml", "--octa-junit-xml", "JUnit report"),
    ("octa_html", "--octa-html", "HTML report"),
)


def check_report_paths(config: pytest.Config) -> None:
    """ConfigError (a usage error, before any check runs) for a report path that cannot be
    written; ``-`` (stdout) only for the CLI, whose own output then goes to stderr."""
    from octa_conformance.runner import STDOUT, check_one_stdout_report, check_report_path

    paths = [config.getoption(dest, None) for dest, _, _ in REPORT_OPTIONS]
    for (_, option, what), path in zip(REPORT_OPTIONS, paths, strict=True):
        if not path:
            continue
        if path == STDOUT and not config.getoption("octa_progress"):
            raise ConfigError(
                f"{option} -: pytest writes its own output to stdout; name a file"
                " (octa-conform can write a report to stdout)"
            )
        check_report_path(path, what)
    check_one_stdout_report(*paths)


LOOP_SCOPE_INI = "asyncio_default_fixture_loop_scope"


def _loop_scope_default(config: pytest.Config) -> None:
    """No pytest-asyncio deprecation warning about an unset ``asyncio_default_fixture_loop_scope``
    in a repository that only runs the checks: our async fixtures declare their loop scope
    (function), so the setting changes nothing for them. The warning is only silenced (for
    this run) when the setting is unset; behaviour stays what pytest-asyncio makes it."""
    try:
        value = config.getini(LOOP_SCOPE_INI)
    except ValueError:  # pytest-asyncio is not loaded
        return
    if not value:
        warnings.filterwarnings(
            "ignore",
            message=f'The configuration option "{LOOP_SCOPE_INI}" is unset',
            category=pytest.PytestDeprecationWarning,
        )


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if OPTIONS_KEY in config.stash:  # after every plugin's pytest_configure set its hook
        config.stash[UNRAISABLE_KEY] = sys.unraisablehook
        sys.unraisablehook = _unraisable_hook(sys.unraisablehook)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Start no check after Ctrl-C or SIGTERM, even if the interrupt got swallowed."""
    if interrupts.received() and OPTIONS_KEY in item.config.stash:
        raise KeyboardInterrupt("interrupted")


def pytest_unconfigure(config: pytest.Config) -> None:
    kill_all()
    interrupts.restore(config.stash.get(SIGNALS_KEY, {}))
    previous = config.stash.get(UNRAISABLE_KEY, None)
    if previous is not None and getattr(sys.unraisablehook, "octa_interrupt_filter", False):
        sys.unraisablehook = previous
    home = config.stash.get(HYPOTHESIS_HOME_KEY, None)
    if home is not None:
        from hypothesis.configuration import set_hypothesis_home_dir

        set_hypothesis_home_dir(None)  # a later hypothesis run must not recreate it
        shutil.rmtree(home, ignore_errors=True)


def _unraisable_hook(previous: Any) -> Any:
    """``sys.unraisablehook`` that drops the KeyboardInterrupt of our own signal handler when
    it lands where Python cannot raise it (a weakref callback, a ``__del__``): the interrupt
    is remembered anyway (``interrupts.received()``), so it needs no traceback."""

    def hook(unraisable: Any) -> None:
        exc = unraisable.exc_value
        if isinstance(exc, KeyboardInterrupt) and str(exc).startswith("signal "):
            return
        previous(unraisable)

    hook.octa_interrupt_filter = True  # type: ignore[attr-defined]
    return hook


def _quiet_after_interrupt(loop: asyncio.AbstractEventLoop) -> list[bool]:
    """After Ctrl-C, keep asyncio from logging what abandoned tasks raise.

    The interrupt leaves the event loop and abandons the check's own task in the middle of
    an ``await``; when the check's clean-up then closes the plugin's connection, that task
    wakes up and ends with an exception nobody will retrieve, and asyncio would log "Task
    exception was never retrieved" with a traceback (whenever the task is collected). Once
    the returned flag is set (the clean-up does it after an interrupt), such reports of this
    loop are dropped; anything else goes to the loop's previous handler.
    """
    interrupted = [False]
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if (interrupted[0] or interrupts.received()) and "exception" in context:
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    return interrupted


def _private_hypothesis_home(config: pytest.Config) -> None:
    """Keep hypothesis's caches in a temp dir: a run writes nothing into the user's tree."""
    from hypothesis.configuration import set_hypothesis_home_dir

    home = tempfile.mkdtemp(prefix="octa-conform-hypothesis-")
    config.stash[HYPOTHESIS_HOME_KEY] = home
    set_hypothesis_home_dir(home)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the checks not selected; run the others in catalogue order (area by area, as
    the reports list them; your own tests keep their places)."""
    options = config.stash.get(OPTIONS_KEY, None)
    if options is None:
        return
    keep, drop = [], []
    for item in items:
        cid = check_id_of(item)
        (drop if cid is not None and not options.selected(cid) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    order = {cid: i for i, cid in enumerate(catalogue.CHECKS)}
    slots = [i for i, item in enumerate(keep) if check_id_of(item) is not None]
    checks = sorted(
        (keep[i] for i in slots), key=lambda it: order.get(check_id_of(it) or "", len(order))
    )
    for i, item in zip(slots, checks, strict=True):
        keep[i] = item
    items[:] = keep


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each check's test carries its id as a parameter: ``test_large_frame[execute.large-frame]``
    (``@check`` asks for the ``octa_check_id`` fixture, which this parametrizes)."""
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is not None and "octa_check_id" in metafunc.fixturenames:
        cid = marker.args[0]
        metafunc.parametrize("octa_check_id", [cid], ids=[cid])


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture
def octa_check_id(request: pytest.FixtureRequest) -> str:
    """The catalogue id of the running check ("" in a test that is not a check)."""
    return check_id_of(request.node) or ""


@pytest.fixture(scope="session")
def octa_options(request: pytest.FixtureRequest) -> RunOptions:
    """The validated run options (from --octa-* options and the config file)."""
    options = request.config.stash.get(OPTIONS_KEY, None)
    if options is None:
        pytest.skip("no plugin to check: pass --octa-plugin PATH (or set octa_plugin in ini)")
    return options


@pytest.fixture(scope="session")
def octa_plugin_info(request: pytest.FixtureRequest, octa_options: RunOptions) -> PluginInfo:
    """What one handshake told about the plugin (key, requirement, dialect, probes)."""
    info = gather_info(octa_options)
    request.config.stash[CAUSE_KEY] = root_cause(octa_options, info)
    request.config.stash[INFO_KEY] = info
    return info


class NotRun(OctaConformanceError):
    """A check not run because of the run's root cause (the plugin cannot be started)."""


@pytest.fixture(autouse=True)
def _octa_root_cause_guard(request: pytest.FixtureRequest) -> None:
    """Run no check that could only repeat the root cause: when the plugin cannot even be
    started, every check but the launch's own fails at once, saying so, without launching."""
    cid = check_id_of(request.node)
    if cid is None or cid in LAUNCH_WITNESSES or OPTIONS_KEY not in request.config.stash:
        return
    request.getfixturevalue("octa_plugin_info")
    cause = request.config.stash.get(CAUSE_KEY, None)
    if cause is not None and cause.kind == CAUSE_LAUNCH:
        raise NotRun(f"not run because {cause.phrase}: {cause.summary}")


def root_cause(options: RunOptions, info: PluginInfo) -> RootCause | None:
    """Why the first handshake failed, if it did: the plugin does not start (``launch``:
    checks are not run) or does not handshake (``handshake``: checks that fail the same
    way are marked). A plugin whose first handshake failed is launched once more to tell
    the two apart (and to confirm it); None when that second try works."""
    if info.key is not None or not info.error:
        return None
    first = info.error.splitlines()[0]
    if info.hello is not None:  # it started and answered Hello: the Schema step failed
        return RootCause(CAUSE_HANDSHAKE, first)
    return asyncio.run(_diagnose(options, first))


async def _diagnose(options: RunOptions, first_error: str) -> RootCause | None:
    config = options.harness_config()
    try:
        process = PluginProcess.spawn(options.plugin, config=config, extra_args=config.plugin_args)
    except LaunchError as e:
        return RootCause(CAUSE_LAUNCH, e.headline, str(options.plugin), e.output)
    command = shlex.join(process.argv)
    handshaken = False
    try:
        try:
            host = await FakeOcta.connect(
                process, config=config, dialect=Dialect.for_octa_version(options.octa_version)
            )
        except LaunchError as e:
            return RootCause(CAUSE_LAUNCH, e.headline, command, e.output)
        try:
            await host.hello()
            await host.schema()
            handshaken = True
        except OctaConformanceError:
            pass
        finally:
            await host.close()
    finally:
        await process.stop()
    if handshaken:
        return None  # it works now: no root cause to name
    return RootCause(CAUSE_HANDSHAKE, first_error, command, process.output_excerpt(1500))


@pytest_asyncio.fixture(loop_scope="function")
async def octa(
    request: pytest.FixtureRequest, octa_options: RunOptions, octa_plugin_info: PluginInfo
) -> AsyncIterator[CheckContext]:
    """A check context: launches fresh plugin processes and cleans them all up."""
    info = dataclasses.replace(octa_plugin_info, probes=octa_plugin_info.probes.fresh())
    ctx = CheckContext(octa_options, info, check_id_of(request.node) or "")
    request.node.stash[CONTEXT_KEY] = ctx
    interrupted = _quiet_after_interrupt(asyncio.get_running_loop())
    try:
        yield ctx
    finally:
        interrupted[0] = interrupts.received()
        await ctx.aclose()


@pytest_asyncio.fixture(loop_scope="function")
async def octa_host(octa: CheckContext) -> FakeOcta:
    """A fresh plugin process with a connected fake host (no handshake yet)."""
    return await octa.launch()


@pytest_asyncio.fixture(loop_scope="function")
async def octa_ready_host(octa: CheckContext) -> FakeOcta:
    """A fresh plugin process with a handshaken fake host."""
    return await octa.ready()


# --- turning test outcomes into check results -------------------------------------

FAILURES = (AssertionError, OctaConformanceError)


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    notes = getattr(exc, "__notes__", None)
    if notes:
        text += "\n" + "\n".join(str(n) for n in notes)
    return text


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep: pytest.TestReport = outcome.get_result()
    if rep.when == "teardown" and CONTEXT_KEY in item.stash:
        # The check is reported: drop its context (hosts, kept frames, transcripts), or the
        # traffic of every check (a flood: hundreds of MB) stays in memory until the run ends.
        del item.stash[CONTEXT_KEY]
    cid = check_id_of(item)
    options = item.config.stash.get(OPTIONS_KEY, None)
    if cid is None or options is None:
        return
    if rep.when == "teardown" or (rep.when == "setup" and rep.passed):
        return
    level = catalogue.get(cid).level
    ctx = item.stash.get(CONTEXT_KEY, None)
    exc = call.excinfo.value if call.excinfo else None
    verbose = item.config.getoption("octa_verbose")
    transcript = ctx.transcripts() if ctx is not None and (rep.failed or verbose) else ""
    if rep.passed:
        result = CheckResult(cid, "passed", "")
    elif rep.skipped:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        result = CheckResult(cid, "skipped", reason.removeprefix("Skipped: "))
        if ctx is not None:
            result.missing_probes = list(dict.fromkeys(ctx.missing_probes))
    else:
        if exc is not None and isinstance(exc, FAILURES):
            result = CheckResult(cid, "failed", _message(exc) + _quoting_note(exc, ctx))
        else:
            tb = _short_traceback(exc) if exc else str(rep.longrepr)
            result = CheckResult(cid, "error", f"harness error in {rep.when}:\n{tb}")
    result.duration_s = rep.duration
    result.transcript = transcript
    if ctx is not None and ctx.figures:
        result.figures = dict(ctx.figures)
    if result.outcome == "failed" and level is Level.INFO:
        result.outcome, result.message = "skipped", f"could not measure: {result.message}"
    cause = item.config.stash.get(CAUSE_KEY, None)
    if cause is not None and _repeats(cause, exc, result):
        result.cause = cause.phrase
    if cid in options.baseline:
        if result.outcome == "failed":
            result.outcome = "xfailed"
        elif result.outcome == "passed":
            result.stale_baseline = True
    facts = ctx.info if ctx is not None else item.config.stash.get(INFO_KEY, None)
    rep.user_properties.append((RESULT_PROPERTY, _result_dict(result, facts, cause)))
    # What pytest itself shows and counts.
    if result.outcome == "failed" or result.outcome == "error":
        rep.longrepr = f"[{cid}] {level.value} check failed\n{result.message}\n\n{transcript}"
        if result.outcome == "failed" and level is Level.SHOULD and not options.strict:
            rep.outcome = "skipped"
            rep.wasxfail = f"[{cid}] SHOULD check failed (a warning; --octa-strict fails it)"
    elif result.outcome == "xfailed":
        rep.outcome = "skipped"
        rep.wasxfail = f"[{cid}] known failure listed in the baseline"
    elif result.outcome == "skipped" and rep.failed:
        rep.outcome = "skipped"
        rep.longrepr = (str(item.path), 0, result.message)


def _repeats(cause: RootCause, exc: BaseException | None, result: CheckResult) -> bool:
    """Does ``result`` only repeat the root cause (or say it could not run because of it)?"""
    if result.outcome not in ("failed", "skipped"):
        return False
    if isinstance(exc, NotRun) or (cause.kind == CAUSE_LAUNCH and isinstance(exc, LaunchError)):
        return True
    text = result.message.removeprefix("could not measure: ")
    if result.outcome == "skipped" and not isinstance(exc, FAILURES):  # a skip that cites it
        return cause.summary in text
    return bool(text) and text.splitlines()[0] == cause.summary


def _quoting_note(exc: BaseException, ctx: CheckContext | None) -> str:
    """A line on the probes' quoting when it may be why a probe check failed (else "")."""
    if ctx is None or not isinstance(exc, CheckFailure):
        return ""
    from octa_conformance.wording import quoting_hint

    hint = quoting_hint(ctx.info.probes, exc.got)
    return f"\n quoting: {hint}" if hint else ""


_PLUMBING = ("_pytest", "pluggy", "pytest_asyncio", "asyncio")


def _short_traceback(exc: BaseException) -> str:
    """The traceback without pytest's, pluggy's and asyncio's own frames."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not any(f"/{part}/" in f.filename.replace("\\", "/") for part in _PLUMBING)
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "Traceback (most recent call last):\n" + "".join(lines)


def _result_dict(
    result: CheckResult, info: PluginInfo | None, cause: RootCause | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": result.id,
        "outcome": result.outcome,
        "message": result.message,
        "duration_s": result.duration_s,
        "figures": result.figures,
        "transcript": result.transcript,
        "stale_baseline": result.stale_baseline,
        "missing_probes": list(result.missing_probes),
        "cause": result.cause,
    }
    if cause is not None:
        data["root_cause"] = cause.to_json()
    if info is not None:
        data["plugin"] = {
            "key": info.key,
            "requirement": info.requirement,
            "dialect": info.dialect.value if info.dialect else None,
            "error": info.error,
            "probes": {
                "names": list(info.probes.templates),
                "quoting": info.probes.quoting,
                "source": info.probes.source,
            },
        }
    return data


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def progress_stream(config: pytest.Config) -> Any:
    """Where the CLI's human output goes: stdout, or stderr when a report is written there."""
    paths = (config.getoption(name, None) for name in ("octa_json", "octa_junit_xml", "octa_html"))
    return sys.stderr if "-" in paths else sys.stdout


class Collector:
    """Gathers check results (also from xdist workers) into one RunReport."""

    def __init__(self, config: pytest.Config, options: RunOptions) -> None:
        self.config = config
        self.options = options
        self.results: dict[str, CheckResult] = {}
        self.facts = PluginFacts(str(options.plugin))
        self.progress = config.getoption("octa_progress")
        self.started = time.monotonic()
        self.report: RunReport | None = None
        self.cause: RootCause | None = None
        self.total = 0  # checks collected (selected)
        self.live: Any = None  # the LiveReporter, in --octa-progress mode

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = sum(check_id_of(item) is not None for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.total = max(self.total, len(ids))  # every worker collects the same items

    def _live(self) -> Any:
        if self.live is None:
            from octa_conformance.reporting.live import LiveReporter
            from octa_conformance.reporting.style import terminal_width, use_color

            stream = progress_stream(self.config)
            self.live = LiveReporter(
                stream,
                total=self.total or len(self.results) + 1,
                strict=self.options.strict,
                color=use_color(stream),
                tty=_isatty(stream),
                quiet=self.config.getoption("octa_quiet"),
                ordered=not getattr(self.config.option, "numprocesses", None),
                width=terminal_width(stream),
            )
        return self.live

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, data in report.user_properties:
            if name != RESULT_PROPERTY:
                continue
            plugin = data.get("plugin")
            if plugin and self.facts.key is None and self.facts.requirement is None:
                self.facts = PluginFacts(str(self.options.plugin), **plugin)
            if data.get("root_cause") and self.cause is None:
                self.cause = RootCause(**data["root_cause"])
            fields = {k: v for k, v in data.items() if k not in ("plugin", "root_cause")}
            result = CheckResult(**fields)
            self.results[report.nodeid] = result
            if self.progress:
                self._live().add(result)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        kill_all()
        if self.live is not None:
            self.live.finish()
        if interrupts.received():  # even if some code swallowed the KeyboardInterrupt
            session.exitstatus = exitstatus = pytest.ExitCode.INTERRUPTED
        order = {cid: i for i, cid in enumerate(catalogue.CHECKS)}
        checks = sorted(self.results.values(), key=lambda r: order.get(r.id, len(order)))
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        # -x / --maxfail: pytest stopped before every selected check ran
        stopped = bool(session.shouldfail) and not interrupted and len(checks) < self.total
        self.report = RunReport(
            plugin=self.facts,
            target=self.options.octa_version,
            strict=self.options.strict,
            checks=checks,
            complete=not interrupted and not stopped,
            duration_s=time.monotonic() - self.started,
            cause=self.cause,
            max_failures=self.config.getoption("maxfail") if stopped else None,
        )
        self.config.stash[REPORT_KEY] = self.report
        if (
            self.config.getoption("octa_require_complete")
            and self.report.verdict == "incomplete"
            and exitstatus == pytest.ExitCode.OK
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        from octa_conformance.reporting import write_reports

        write_reports(
            self.report,
            json_path=self.config.getoption("octa_json"),
            junit_path=self.config.getoption("octa_junit_xml"),
            html_path=self.config.getoption("octa_html"),
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None or self.progress:
            return
        from octa_conformance.reporting.summary import summary_text

        writer = self.config.get_terminal_writer()
        terminalreporter.write_sep("=", "octa-conformance")
        text = summary_text(
            self.report,
            color=writer.hasmarkup,
            option="--octa-",
            quiet=self.config.get_verbosity() < 0,
            rerun=rerun_for_pytest(self.config),
            label=VERDICT_LABEL,
            width=writer.fullwidth,
        )
        for line in text.splitlines():
            terminalreporter.write_line(line)
        own = own_failures(terminalreporter.stats)
        if own:
            terminalreporter.write_line(
                f"note: {own} of your own tests failed too: pytest's"
                " summary counts them; the verdict above covers the conformance checks only"
            )
        if self.report.verdict == "incomplete" and self.report.complete:
            if self.config.getoption("octa_require_complete"):
                terminalreporter.write_line(
                    "--octa-require-complete: the INCOMPLETE verdict fails this session"
                )
            else:
                terminalreporter.write_line(
                    "pytest does not fail a session for skipped tests: add"
                    " --octa-require-complete to make an INCOMPLETE verdict fail it"
                )


VERDICT_LABEL = "octa-conformance verdict (bundled checks only)"


def own_failures(stats: dict[str, list[Any]]) -> int:
    """How many failed or erroring tests (in pytest's terminal stats) are not checks."""
    count = 0
    for key in ("failed", "error"):
        for rep in stats.get(key, []):
            props = getattr(rep, "user_properties", None) or []
            if not any(name == RESULT_PROPERTY for name, _ in props):
                count += 1
    return count


def rerun_for_pytest(config: pytest.Config) -> Any:
    """``rerun(id)``: the pytest command line that runs one check again, with the options
    of this run that change what it does."""
    from octa_conformance.reporting.summary import rerun_command

    base = ["pytest"]
    plugin = config.getoption("octa_plugin")
    if plugin:
        base += ["--octa-plugin", plugin]
    for option, name in (
        ("octa_version", "--octa-version"),
        ("octa_config", "--octa-config"),
        ("octa_timeout_scale", "--octa-timeout-scale"),
    ):
        value = config.getoption(option)
        if value is not None:
            base.append(f"{name}={value}")
    base += [f"--octa-probe={v}" for v in config.getoption("octa_probe")]
    base += [f"--octa-plugin-arg={v}" for v in config.getoption("octa_plugin_arg")]
    if config.getoption("octa_strict"):
        base.append("--octa-strict")
    return rerun_command(base, "--octa-select")
