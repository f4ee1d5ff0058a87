"""Reports written from a :class:`RunReport`: JSON, JUnit XML, HTML and the terminal.

A report path ``-`` means stdout (the CLI's own output then goes to stderr); both front doors
check report paths with :func:`check_report_path` before any check runs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from octa_conformance.probes import ConfigError
from octa_conformance.results import RunReport

STDOUT = "-"
PROTOCOL_DOC = "docs/protocol.md"  # where reports link a check's protocol sections


def check_report_path(path: str | os.PathLike[str], what: str) -> Path:
    """The absolute report path (``-``, stdout, stays ``-``); ConfigError if it cannot be
    written."""
    if str(path) == STDOUT:
        return Path(STDOUT)
    p = Path(path).expanduser().absolute()
    if p.is_dir():
        raise ConfigError(f"{what} {p} is a directory, not a file")
    parent = p.parent
    if not parent.is_dir():
        raise ConfigError(f"{what} {p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ConfigError(f"{what} {p} is not writable")
    return p


def check_one_stdout_report(*paths: str | os.PathLike[str] | None) -> None:
    """ConfigError if more than one report would be written to stdout (``-``)."""
    if sum(p is not None and str(p) == STDOUT for p in paths) > 1:
        raise ConfigError(
            "only one report can be written to stdout ('-'); name a file for the others"
        )


def _write(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to the file ``path``, or to stdout if ``path`` is ``-``."""
    if str(path) == STDOUT:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    Path(path).write_text(text, encoding="utf-8")


def write_json(report: RunReport, path: str | os.PathLike[str]) -> None:
    """Write the JSON report (schema: docs/report-schema.json)."""
    _write(path, json.dumps(report.to_json(), indent=2) + "\n")


def write_reports(
    report: RunReport,
    *,
    json_path: str | os.PathLike[str] | None = None,
    junit_path: str | os.PathLike[str] | None = None,
    html_path: str | os.PathLike[str] | None = None,
) -> None:
    """Write whichever reports were asked for."""
    if json_path:
        write_json(report, json_path)
    if junit_path:
        from octa_conformance.reporting.junit import junit_xml

        _write(junit_path, junit_xml(report))
    if html_path and str(html_path) == STDOUT:
        from octa_conformance.reporting.html import render_html

        _write(STDOUT, render_html(report))
    elif html_path:
        from octa_conformance.reporting.html import write_html

        write_html(report, html_path)
