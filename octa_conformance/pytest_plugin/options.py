"""The engine's command-line options (``--octa-*``, the ``octa_plugin`` ini key), turned
into validated RunOptions; report paths checked before any check runs."""

from __future__ import annotations

import pytest

from octa_conformance.probes import ConfigError
from octa_conformance.settings import RunOptions, resolve


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


REPORT_OPTIONS = (
    ("octa_json", "--octa-json", "JSON report"),
    ("octa_junit_xml", "--octa-junit-xml", "JUnit report"),
    ("octa_html", "--octa-html", "HTML report"),
)


def check_report_paths(config: pytest.Config) -> None:
    """ConfigError (a usage error, before any check runs) for a report path that cannot be
    written; ``-`` (stdout) only for the CLI, whose own output then goes to stderr."""
    from octa_conformance.reporting import STDOUT, check_one_stdout_report, check_report_path

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
