"""A check's test outcome turned into its CheckResult: failed, skipped (and for which probe),
an error of the harness, a known failure of the baseline, a repetition of the root cause;
and what pytest itself shows and counts for it."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from octa_conformance import catalogue
from octa_conformance.catalogue import Level
from octa_conformance.checking import CheckFailure, check_id_of
from octa_conformance.context import CheckContext, PluginInfo
from octa_conformance.errors import LaunchError, OctaConformanceError
from octa_conformance.pytest_plugin.root_cause import NotRun
from octa_conformance.pytest_plugin.stash import (
    CAUSE_KEY,
    CONTEXT_KEY,
    INFO_KEY,
    OPTIONS_KEY,
    RESULT_PROPERTY,
)
from octa_conformance.results import CAUSE_LAUNCH, CheckResult, RootCause

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
