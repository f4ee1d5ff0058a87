"""The results of every check (also from xdist workers) gathered into one RunReport: the live
list (CLI), the reports written, and the summary after pytest's own (pytest front door)."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from octa_conformance import interrupts
from octa_conformance.checking import check_id_of
from octa_conformance.context import discard_spare
from octa_conformance.pytest_plugin.stash import REPORT_KEY, RESULT_PROPERTY
from octa_conformance.results import (
    CheckResult,
    PluginFacts,
    RootCause,
    RunReport,
    catalogue_order,
)
from octa_conformance.settings import RunOptions
from octa_conformance.supervisor import kill_all


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
            from octa_conformance.reporting.style import isatty, terminal_width, use_color

            stream = progress_stream(self.config)
            self.live = LiveReporter(
                stream,
                total=self.total or len(self.results) + 1,
                strict=self.options.strict,
                color=use_color(stream),
                tty=isatty(stream),
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
        discard_spare()  # idle: SIGKILL at once, no grace period
        kill_all()
        if self.live is not None:
            self.live.finish()
        if interrupts.received():  # even if some code swallowed the KeyboardInterrupt
            session.exitstatus = exitstatus = pytest.ExitCode.INTERRUPTED
        checks = catalogue_order(self.results.values())
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
