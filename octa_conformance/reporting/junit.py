"""JUnit XML: one testcase per check, classname = area, name = id.

* failed MUST checks (and SHOULD checks with ``--strict``): ``<failure>`` whose message is the
  first line of the check's message and whose body is the whole message plus the transcript;
* failed SHOULD checks without ``--strict``: ``<skipped message="warning: ...">`` so CI
  dashboards stay green while the warning stays visible;
* harness errors: ``<error>``; skipped checks: ``<skipped>`` with the reason; a skipped check
  the verdict needs (MUST; with ``--strict`` SHOULD too) says so: ``not run, but a PASS
  needs this MUST check: ...``;
* baseline failures: ``<skipped message="known failure (baseline): ...">``;
* figures of INFO checks and stale baseline notes go to ``<system-out>``;
* when the plugin could not be started or handshaken at all (the run's root cause), the
  ``<testsuite>`` says so once (property ``cause``, and the plugin's output in its
  ``<system-out>``), and each check that only repeats it starts its message with the cause
  (``not run because the plugin could not be started: ...``, or ``the plugin's handshake
  failed: ...``); such a MUST check is still a ``<failure>``.

The ``<testsuite>`` properties carry the verdict (``pass``, ``fail`` or ``incomplete``), the
number of checks the verdict needs that did not run (``not_run``) and the probes that would
run them (``missing_probes``), so an INCOMPLETE run never reads as a green pass.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from octa_conformance.results import CheckResult, RunReport


def _body(c: CheckResult) -> str:
    if c.cause:  # the plugin's output is in the testsuite's system-out, once
        return f"{c.message}\n(the root cause: the testsuite's cause property and system-out)"
    return f"{c.message}\n\n{c.transcript}".strip() if c.transcript else c.message


def _system_out(c: CheckResult) -> str | None:
    parts = []
    if c.stale_baseline:
        parts.append("stale baseline entry: this check passes now, remove it from the baseline")
    if c.figures is not None:
        parts.append("figures: " + json.dumps(c.figures, sort_keys=True, default=str))
    if c.transcript and c.outcome == "passed":
        parts.append(c.transcript)
    return "\n".join(parts) or None


def _case(c: CheckResult, strict: bool) -> TestCase:
    case = TestCase(
        name=c.id,
        classname=c.area,
        elapsed_sec=round(c.duration_s, 4),
        stdout=_system_out(c),
    )
    summary = c.message.splitlines()[0] if c.message else c.outcome
    if c.cause and not summary.startswith("not run"):
        summary = f"{c.cause}: {summary}"
    if c.outcome == "failed" and c.is_warning(strict):
        case.add_skipped_info(f"warning: SHOULD check failed: {summary}", _body(c))
    elif c.outcome == "failed":
        case.add_failure_info(f"{c.level.value} check failed: {summary}", _body(c))
    elif c.outcome == "error":
        case.add_error_info(f"harness error: {summary}", _body(c))
    elif c.outcome == "skipped" and c.unrun(strict):
        case.add_skipped_info(
            f"not run, but a PASS needs this {c.level.value} check: {c.message or 'skipped'}"
        )
    elif c.outcome == "skipped":
        case.add_skipped_info(c.message or "skipped")
    elif c.outcome == "xfailed":
        case.add_skipped_info(f"known failure (baseline): {summary}", _body(c))
    return case


def junit_xml(report: RunReport) -> str:
    """The JUnit XML document for ``report`` (one ``<testsuite>``)."""
    cause = report.cause
    suite_out = None
    if cause is not None:
        suite_out = f"root cause: {cause.phrase}: {cause.summary}"
        if cause.command:
            suite_out += f"\ncommand: {cause.command}"
        if cause.output:
            suite_out += f"\n{cause.output}"
    suite = TestSuite(
        "octa-conformance",
        [_case(c, report.strict) for c in report.checks],
        properties={
            "plugin": report.plugin.path,
            "plugin.key": report.plugin.key or "",
            "plugin.requirement": report.plugin.requirement or "",
            "target": report.target,
            "verdict": report.verdict,
            "strict": str(report.strict).lower(),
            "complete": str(report.complete).lower(),
            "not_run": str(len(report.unrun)),
            "missing_probes": " ".join(report.by_missing_probe(report.unrun)),
            "cause": f"{cause.kind}: {cause.summary}" if cause is not None else "",
        },
        stdout=suite_out,
    )
    return to_xml_report_string([suite], encoding="utf-8")


def write_junit(report: RunReport, path: str | os.PathLike[str]) -> None:
    """Write :func:`junit_xml` to ``path``."""
    Path(path).write_text(junit_xml(report), encoding="utf-8")
