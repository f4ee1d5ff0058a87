"""The HTML report: one self-contained file a reviewer can open, written from a RunReport.

Rendered with Jinja2 from ``templates/report.html.j2`` with autoescaping on: every string a
plugin can influence (messages, transcripts, keys, requirements, figures) is escaped. The page
loads nothing (inline CSS and SVG, no script at all; a Content-Security-Policy forbids any
fetch or script) and works with JavaScript off: checks fold with ``<details>``.

What the page shows is prepared in :mod:`~octa_conformance.reporting.html_data` (from the JSON
report's data, so the two reports always agree) and
:mod:`~octa_conformance.reporting.html_charts` (the performance figures as bar charts).
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path

import jinja2

from octa_conformance.reporting.html_charts import charts
from octa_conformance.reporting.html_data import page_data, seconds_text, visible
from octa_conformance.results import RunReport

TEMPLATE = "report.html.j2"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("octa_conformance.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["visible"] = visible
    env.filters["seconds"] = seconds_text
    return env


def render_html(report: RunReport, generated: datetime.datetime | None = None) -> str:
    """The whole HTML page for ``report``."""
    generated = generated or datetime.datetime.now().astimezone()
    page = (
        _environment()
        .get_template(TEMPLATE)
        .render(
            **page_data(report),
            charts=charts(report),
            generated=generated.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        )
    )
    # undecodable bytes a plugin sent (kept as lone surrogates) become visible escapes
    return page.encode("utf-8", "backslashreplace").decode("utf-8")


def write_html(report: RunReport, path: str | os.PathLike[str]) -> None:
    """Write the HTML report to ``path`` (``-``: standard output)."""
    text = render_html(report)
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    Path(path).write_text(text, encoding="utf-8")
