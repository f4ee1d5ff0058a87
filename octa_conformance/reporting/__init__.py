"""Reports written from a :class:`RunReport`: JSON, JUnit XML, HTML and the terminal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from octa_conformance.results import RunReport

STDOUT = "-"


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
