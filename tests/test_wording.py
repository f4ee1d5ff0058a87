"""The wording shared by the checks' failure messages."""

from __future__ import annotations

from octa_conformance.runs import RunResult
from octa_conformance.wording import describe_result


def test_a_short_result_is_quoted_whole() -> None:
    result = RunResult("1", stdout_lines=["hello\n"], exit_code=0)
    assert describe_result(result) == "exit code 0, error None, stdout 'hello'"


def test_a_flood_of_output_is_cut_with_its_length() -> None:
    result = RunResult("1", stdout_lines=["x" * 99 + "\n"] * 10_000, error="e" * 5_000)
    text = describe_result(result)
    assert len(text) < 1_000
    assert f"... ({len(result.stdout)} chars)" in text
    assert "... (5000 chars)" in text
