"""The HTML report: complete, escaped, self-contained, and the same data as the JSON report.

Most tests render a RunReport built in-process (fast). The end-to-end tests run the example
plugin through both front doors with ``--html`` / ``--octa-html`` (in this process: the CLI's
``main()``, a nested pytest run), a few checks with real figures in the quick loop and the
whole catalogue, every chart, in the slow test; when a headless Chromium is on the machine,
the page is also opened in it (DOM dumped, screenshot taken).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conformance_run import EXAMPLE, octa_conform_here, outcomes, pytest_here

from octa_conformance import catalogue
from octa_conformance.reporting import write_reports
from octa_conformance.reporting.html import render_html, write_html
from octa_conformance.reporting.html_charts import charts
from octa_conformance.reporting.html_data import bytes_text, figure_rows, seconds_text, split_hint
from octa_conformance.results import CheckResult, PluginFacts, RunReport

pytest_plugins = ["pytester"]

HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
URL_ATTRS = {"src", "href", "action", "formaction", "xlink:href", "poster", "data"}


class Page(HTMLParser):
    """A strict reading of the page: balanced tags, ids, URL attributes, text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.ids: dict[str, dict[str, str | None]] = {}
        self.tags: dict[str, int] = {}
        self.urls: list[str] = []
        self.text: list[str] = []
        self.doctype = False
        self.feed(text)
        self.close()
        if self.stack:
            self.problems.append(f"unclosed: {self.stack}")

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        data = dict(attrs)
        if "id" in data:
            if data["id"] in self.ids:
                self.problems.append(f"duplicate id {data['id']}")
            self.ids[str(data["id"])] = {"tag": tag, **data}
        self.urls += [str(v) for k, v in attrs if k in URL_ATTRS]
        self.problems += [f"event handler {k} on <{tag}>" for k, _ in attrs if k.startswith("on")]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def parse(text: str) -> Page:
    page = Page(text)
    assert page.doctype, "no <!DOCTYPE html>"
    assert not page.problems, page.problems
    return page


def _latency(n: int, median: float) -> dict[str, float]:
    return {
        "n": n,
        "median_s": median,
        "p90_s": 2 * median,
        "p99_s": 3 * median,
        "max_s": 4 * median,
    }


def sample_report(*, hostile: bool = True, strict: bool = False) -> RunReport:
    """Every outcome, the version matrix and the performance figures; plugin-supplied strings
    (key, requirement, messages, transcripts, figures) hostile if asked."""
    evil = HOSTILE if hostile else "plain"
    requirement = f">=0.2.1, <0.3.0 {evil}"
    checks = [
        CheckResult("launch.listens", "passed", duration_s=0.12),
        CheckResult(
            "launch.startup-time",
            "passed",
            figures={"median_s": 0.2, "samples_s": [0.19, 0.2, 0.25]},
        ),
        CheckResult(
            "handshake.hello-reply",
            "failed",
            "expected: a Hello response\n     got: " + evil + "\n    hint: answer Hello with"
            " Hello\n      and nothing else",
            duration_s=0.4,
            transcript="wire transcript of connection 1 (2 entries):\n"
            '    +0.001s host   -> \'{"type":"Hello"}\'\n'
            f"    +0.002s plugin <- '{evil}\x1b[31m'\n"
            "    +0.003s note     !! violation: not JSON",
        ),
        CheckResult("handshake.key-usable", "failed", "expected: a key\n     got: none"),
        CheckResult(
            "execute.exit-code",
            "skipped",
            "probe 'fail' is not configured",
            missing_probes=["fail"],
        ),
        CheckResult("execute.started-first", "xfailed", "expected: Started\n     got: Stdout"),
        CheckResult("execute.stdout-delivered", "passed", stale_baseline=True),
        CheckResult("execute.large-frame", "error", "harness error in call:\nTraceback ..."),
        CheckResult(
            "version.matrix",
            "passed",
            figures={
                "requirement": requirement,
                "matrix": {"0.2.0": "rejected", "0.2.1": "accepted"},
                "reasons": {
                    "0.2.0": f"Version mismatch: the plugin requires {requirement!r}",
                    "0.2.1": f"{requirement!r} matches 0.2.1",
                },
            },
        ),
        CheckResult(
            "performance.handshake-latency",
            "passed",
            figures={
                "sessions": 50,
                "via": f"new connections {evil}",
                "hello": _latency(50, 0.0003),
                "schema": _latency(50, 0.0001),
            },
        ),
        CheckResult(
            "performance.execute-latency",
            "passed",
            figures={"command": "echo probe", "execute": _latency(500, 0.002)},
        ),
        CheckResult(
            "performance.throughput",
            "passed",
            figures={
                "command": "echo probe",
                "commands_per_s": {"in_flight_1": 380.5, "in_flight_8": 610.0, "in_flight_64": 550},
                "commands_per_level": 128,
            },
        ),
        CheckResult(
            "performance.memory-growth",
            "passed",
            figures={
                "command": "echo probe",
                "rss_bytes": {
                    "after_handshake": 24 << 20,
                    "after_100": 25 << 20,
                    "after_2000": 26 << 20,
                },
                "growth_bytes": 1 << 20,
                "growth_per_command_bytes": 551.9,
            },
        ),
    ]
    return RunReport(
        plugin=PluginFacts(
            "/plugins/p.py",
            key=f"sh{evil}",
            requirement=requirement,
            dialect="0.2.1",
            probes={"names": ["echo"], "quoting": "shell", "source": f"octa-conform.toml {evil}"},
        ),
        target="0.2.1",
        strict=strict,
        checks=checks,
        duration_s=3.2,
    )


# --- rendering in-process ------------------------------------------------------------


def test_every_check_is_there_with_its_outcome_level_and_section() -> None:
    report = sample_report()
    page = parse(render_html(report))
    words = {"passed": "PASS", "skipped": "SKIP", "xfailed": "XFAIL", "error": "ERROR"}
    for c in report.checks:
        assert c.id in page.ids, c.id
        assert page.ids[c.id]["tag"] == "details"
        word = words.get(c.outcome) or ("WARN" if c.is_warning(report.strict) else "FAIL")
        assert word.lower() in str(page.ids[c.id]["class"]).split(), (c.id, page.ids[c.id])
    text = page.all_text
    assert "\u00a74.1" in text and "docs/protocol.md" in text
    assert "handshake.key-usable" in text and "SHOULD" in text


def test_failed_checks_are_open_the_rest_folded() -> None:
    report = sample_report()
    page = parse(render_html(report))
    for c in report.checks:
        is_open = "open" in page.ids[c.id]
        assert is_open == (c.outcome in ("failed", "error") and not c.is_warning(False)), c.id


def test_plugin_strings_are_escaped_everywhere() -> None:
    text = render_html(sample_report())
    lowered = text.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    page = parse(text)
    assert "script" not in page.tags and "img" not in page.tags
    shown = page.all_text
    # the hostile text is shown as text: in the message, transcript, key, requirement,
    # figures, the version matrix's reasons and the probe source
    assert shown.count("<script>alert") >= 6, shown.count("<script>alert")


def test_no_network_no_script() -> None:
    text = render_html(sample_report(hostile=False))
    page = parse(text)
    assert "http://" not in text and "https://" not in text
    assert all(u.startswith("#") for u in page.urls), page.urls
    assert "script" not in page.tags
    assert "default-src 'none'" in text  # the CSP: nothing may be fetched or run
    assert "<style>" in text  # inline CSS, no stylesheet link
    assert "link" not in page.tags


def test_control_characters_are_made_visible() -> None:
    text = render_html(sample_report())
    assert "\x1b" not in text
    assert "\u241b[31m" in text


def test_hint_is_shown_apart() -> None:
    message, hint = split_hint(
        "expected: a\n     got: b\n    hint: do c\n      and d\n quoting: values are quoted"
    )
    assert hint == "do c and d"
    assert message == "expected: a\n     got: b\n quoting: values are quoted"
    assert split_hint("no hint here") == ("no hint here", "")
    page = parse(render_html(sample_report()))
    assert "answer Hello with Hello and nothing else" in page.all_text


def test_banner_fail_names_the_failed_checks() -> None:
    page = parse(render_html(sample_report()))
    banner = page.ids["verdict"]
    assert "fail" in str(banner["class"]).split()
    assert "handshake.hello-reply (MUST)" in page.all_text
    assert "the harness itself failed in: execute.large-frame" in page.all_text


def test_banner_incomplete_names_the_probes_that_would_run_the_must_checks() -> None:
    report = sample_report(hostile=False)
    report.checks = [c for c in report.checks if c.outcome in ("passed", "skipped")]
    report.checks.append(
        CheckResult("cancellation.no-orphans", "skipped", "no sleep", missing_probes=["sleep"])
    )
    assert report.verdict == "incomplete"
    page = parse(render_html(report))
    assert "incomplete" in str(page.ids["verdict"]["class"]).split()
    text = page.all_text
    assert "INCOMPLETE" in text
    assert "probe 'fail' is not configured; it would run 1 check: execute.exit-code" in text
    assert "probe 'sleep' is not configured" in text and "cancellation.no-orphans" in text


def test_banner_pass_and_interrupted() -> None:
    report = sample_report(hostile=False)
    report.checks = [c for c in report.checks if c.outcome == "passed"]
    page = parse(render_html(report))
    assert "pass" in str(page.ids["verdict"]["class"]).split()
    assert "every MUST check ran and passed" in page.all_text
    report.complete = False
    assert "the run was interrupted after" in parse(render_html(report)).all_text


def test_plugin_facts_and_area_table() -> None:
    report = sample_report(hostile=False)
    text = parse(render_html(report)).all_text
    for fact in ("/plugins/p.py", "shplain", ">=0.2.1, <0.3.0 plain", "0.2.1", "echo", "shell"):
        assert fact in text, fact
    assert "octa-conform.toml plain" in text
    for area in report.by_area():
        assert f"#area-{area}" in render_html(report)


def test_version_matrix_table() -> None:
    page = parse(render_html(sample_report(hostile=False)))
    text = page.all_text
    assert "0.2.1 (target)" in text and "accepted" in text and "rejected" in text
    assert "Version mismatch: the plugin requires" in text


def test_figures_are_drawn_as_inline_svg() -> None:
    report = sample_report(hostile=False)
    drawn = charts(report)
    assert [c.id for c in drawn] == [
        "chart-startup",
        "chart-handshake",
        "chart-execute",
        "chart-throughput",
        "chart-memory",
    ]
    page = parse(render_html(report))
    assert page.tags.get("svg") == len(drawn)
    for c in drawn:
        assert c.id in page.ids
        assert all(0 <= b.width <= c.plot for b in c.bars)
    text = page.all_text
    assert "only these percentiles are recorded" in text  # no raw samples: said so
    assert "64 in flight" in text and "610/s" in text
    assert "after 2000 commands" in text and "26 MiB" in text
    # the longest bar fills at most the axis; values on one scale from 0
    throughput = next(c for c in drawn if c.id == "chart-throughput")
    widths = [b.width for b in throughput.bars]
    assert widths[1] == max(widths) and widths[0] / widths[1] == pytest.approx(380.5 / 610)


def test_no_figures_no_charts() -> None:
    report = sample_report(hostile=False)
    report.checks = [c for c in report.checks if not c.id.startswith(("performance", "launch"))]
    page = parse(render_html(report))
    assert "svg" not in page.tags
    assert "performance.* checks did not run" in page.all_text


def test_figures_for_people() -> None:
    assert seconds_text(0.000323) == "0.323 ms"
    assert seconds_text(0.25) == "250 ms"
    assert seconds_text(1.8) == "1.80 s"
    assert bytes_text(172032) == "168 KiB"
    assert bytes_text(25509888) == "24.3 MiB"
    assert bytes_text(512) == "512 B"
    rows = dict(figure_rows({"rss_bytes": {"after_100": 2 << 20}, "hello": {"median_s": 0.002}}))
    assert rows == {"rss_bytes.after_100": "2 MiB", "hello.median_s": "2 ms"}


def test_same_data_as_the_json_report() -> None:
    report = sample_report(hostile=False, strict=True)
    data = report.to_json()
    page = parse(render_html(report))
    by_area = [c.id for checks in report.by_area().values() for c in checks]
    assert sorted(c["id"] for c in data["checks"]) == sorted(by_area)
    assert by_area == [i for i in page.ids if i in catalogue.CHECKS]  # grouped by area
    text = page.all_text
    s = data["summary"]
    assert f"{s['total']} checks in" in text
    assert f"{s['passed']} passed, {s['failed']} failed" in text
    assert "strict: SHOULD failures fail the verdict" in text


def test_written_to_a_file_and_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    report = sample_report()
    report.checks[2].message += "\udcff"  # undecodable bytes kept by surrogateescape
    out = tmp_path / "r.html"
    write_reports(report, html_path=out)
    parse(out.read_text(encoding="utf-8"))
    write_html(report, "-")
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")


# --- end to end ----------------------------------------------------------------------

BROWSER = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
# The version matrix and one chart drawn from real figures (the quickest performance check);
# every chart is drawn from real figures in test_full_run_of_the_example_plugin.
QUICK = ["version.*", "performance.handshake-latency", "execute.stdout-delivered"]


def cli_html(select: list[str], workdir: Path) -> tuple[str, dict[str, Any], int, str]:
    """``octa-conform EXAMPLE --html --json`` (in this process): (html, json, exit, output)."""
    html, js = workdir / "report.html", workdir / "report.json"
    args = [EXAMPLE, "--html", html, "--json", js, *(f"--select={s}" for s in select)]
    proc = octa_conform_here(*args, cwd=workdir)
    output = proc.stdout + proc.stderr
    assert html.exists(), output
    return html.read_text(encoding="utf-8"), json.loads(js.read_text()), proc.returncode, output


def assert_matches_json(text: str, data: dict[str, Any]) -> Page:
    page = parse(text)
    ids = [c["id"] for c in data["checks"]]
    assert ids and all(i in page.ids for i in ids), set(ids) - set(page.ids)
    word = {"passed": "pass", "skipped": "skip", "xfailed": "xfail", "error": "error"}
    for c in data["checks"]:
        classes = str(page.ids[c["id"]]["class"]).split()
        assert word.get(c["outcome"], "fail") in classes or "warn" in classes, (c, classes)
    assert data["verdict"] in str(page.ids["verdict"]["class"]).split()
    return page


def open_in_browser(html: Path, png: Path) -> str:
    """The DOM Chromium builds from ``html`` (and a screenshot in ``png``)."""
    assert BROWSER is not None
    with tempfile.TemporaryDirectory(prefix="octa-html-browser-") as profile:
        common = [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
        ]
        run = {"capture_output": True, "timeout": 120, "stdin": subprocess.DEVNULL}
        dom = subprocess.run([*common, "--dump-dom", html.as_uri()], text=True, **run)
        shot = subprocess.run(
            [*common, f"--screenshot={png}", "--window-size=1280,1800", html.as_uri()], **run
        )
    assert png.exists(), shot.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return dom.stdout


@pytest.fixture(scope="module")
def quick_cli_run() -> Any:
    with tempfile.TemporaryDirectory(prefix="octa-html-e2e-") as tmp:
        yield (Path(tmp), *cli_html(QUICK, Path(tmp)))


def test_cli_html_of_the_example_plugin(quick_cli_run: Any) -> None:
    _, text, data, code, output = quick_cli_run
    assert code == 0, output
    page = assert_matches_json(text, data)
    assert {c["id"] for c in data["checks"]} == set(catalogue.match(QUICK))
    assert "PASS" in page.all_text
    assert page.tags.get("svg") == 1 and "chart-handshake" in page.ids  # real figures
    assert "0.2.1 (target)" in page.all_text


@pytest.mark.slow  # two Chromium starts; test_full_run_of_the_example_plugin opens it too
@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium on this machine")
def test_opens_in_a_headless_browser(quick_cli_run: Any) -> None:
    workdir, _, data, _, _ = quick_cli_run
    dom = open_in_browser(workdir / "report.html", workdir / "report.png")
    page = Page(dom)  # the browser's own serialisation: every check is in its DOM
    assert all(c["id"] in page.ids for c in data["checks"])
    assert (workdir / "report.png").stat().st_size > 10_000


def pytest_door(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """``pytest --octa-plugin EXAMPLE ARGS``, a nested run in this process."""
    return pytest_here(pytester, "-q", "--octa-plugin", str(EXAMPLE), *args)


def test_pytest_octa_html(pytester: pytest.Pytester) -> None:
    html, js = pytester.path / "r.html", pytester.path / "r.json"
    select = ["version.*", "performance.handshake-latency"]
    result = pytest_door(
        pytester,
        *(f"--octa-select={s}" for s in select),
        f"--octa-html={html}",
        f"--octa-json={js}",
    )
    assert result.ret == 0, result.stdout.str()
    data = json.loads(js.read_text(encoding="utf-8"))
    assert {c["id"] for c in data["checks"]} == set(catalogue.match(select))
    page = assert_matches_json(html.read_text(encoding="utf-8"), data)
    assert "chart-handshake" in page.ids  # drawn from the run's own figures


def test_bad_html_path_is_a_usage_error_before_any_check(
    tmp_path: Path, pytester: pytest.Pytester
) -> None:
    bad = tmp_path / "missing" / "r.html"
    cli = octa_conform_here(EXAMPLE, "--html", bad, cwd=tmp_path)
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert "HTML report" in cli.stderr and "does not exist" in cli.stderr
    assert "PASS" not in cli.stdout and "Traceback" not in cli.stderr
    door = pytest_door(pytester, "--octa-html", str(bad))
    assert door.ret == pytest.ExitCode.USAGE_ERROR, door.stdout.str() + door.stderr.str()
    assert "HTML report" in door.stderr.str()
    assert "Traceback" not in door.stdout.str() + door.stderr.str()
    assert not bad.parent.exists()


@pytest.mark.slow
def test_full_run_of_the_example_plugin(tmp_path: Path) -> None:
    text, data, code, output = cli_html([], tmp_path)
    assert code == 0, output
    page = assert_matches_json(text, data)
    assert {c["id"] for c in data["checks"]} == set(catalogue.CHECKS)
    assert page.tags.get("svg") == 5
    assert outcomes(data) == {cid: "passed" for cid in catalogue.CHECKS}
    if BROWSER is not None:
        dom = open_in_browser(tmp_path / "report.html", tmp_path / "report.png")
        assert all(cid in Page(dom).ids for cid in catalogue.CHECKS)


class _WithCause(RunReport):
    """A report whose JSON names a root cause (as a dead plugin's report does)."""

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["cause"] = {"summary": f"the plugin exited {HOSTILE}", "output": "junk\n\x1b[1mmore"}
        data["checks"][0]["cause"] = "launch failed"
        return data


def test_a_root_cause_is_shown_once_at_the_top() -> None:
    base = sample_report()
    report = _WithCause(base.plugin, base.target, checks=base.checks)
    text = render_html(report)
    page = parse(text)
    assert "cause" in page.ids and "<script" not in text.lower()
    shown = page.all_text
    assert shown.count("the plugin exited </script>") == 1
    assert "junk\n\u241b[1mmore" in shown
    assert "Not run because of the root cause above: launch failed" in shown
