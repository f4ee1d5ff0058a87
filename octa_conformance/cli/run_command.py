"""``octa-conform run PLUGIN`` (the default command): the checks, in-process through the
pytest plugin (:mod:`octa_conformance.runner`), a live list, the summary and the verdict."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from octa_conformance.cli.usage import EXIT_CODES_HELP, usage_errors


@click.command(
    "run", epilog=EXIT_CODES_HELP, short_help="Run the checks against PLUGIN (the default command)."
)
@click.argument("plugin")
@click.option("--octa-version", metavar="VERSION", help="Target Octa version (default 0.2.1).")
@click.option("--strict", is_flag=True, help="SHOULD failures fail the verdict too.")
@click.option(
    "--select", multiple=True, metavar="GLOB", help="Run only matching check ids (repeatable)."
)
@click.option("--skip", multiple=True, metavar="GLOB", help="Skip matching check ids (repeatable).")
@click.option(
    "--probe",
    multiple=True,
    metavar="NAME=TEMPLATE",
    help="A probe template, e.g. --probe 'echo=say {text}', or --probe quoting=none|shell"
    " (how values are quoted; repeatable). See 'octa-conform list --probes'.",
)
@click.option(
    "--config",
    metavar="FILE",
    help="octa-conform.toml or pyproject.toml (default: found from the plugin's directory up).",
)
@click.option(
    "--baseline",
    metavar="FILE",
    help="Known failures (ids, one per line, or a JSON report): reported as xfailed;"
    " entries that pass now are reported as stale.",
)
@click.option("--junit-xml", "junit_xml", metavar="FILE", help="Write a JUnit XML report.")
@click.option("--json", "json_path", metavar="FILE", help="Write the JSON report.")
@click.option(
    "--html",
    "html_path",
    metavar="FILE",
    help="Write the HTML report: one self-contained page (no network, works without JavaScript).",
)
@click.option("--timeout-scale", type=float, metavar="X", help="Multiply every timeout by X.")
@click.option(
    "-j",
    "--jobs",
    type=int,
    metavar="N",
    help="Run checks in N worker processes (needs pytest-xdist: the 'parallel' extra).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show transcripts of passing checks too.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Show only failures and the verdict (no line per check)."
)
@click.option("-x", "--exitfirst", is_flag=True, help="Stop after the first failure.")
@click.option(
    "--maxfail",
    type=int,
    metavar="N",
    help="Stop after N failures (the verdict is then FAIL, never PASS).",
)
@click.option(
    "--plugin-arg",
    multiple=True,
    metavar="ARG",
    help="Extra argument for every plugin launch (repeatable).",
)
def run_command(
    plugin: str,
    octa_version: str | None,
    strict: bool,
    select: tuple[str, ...],
    skip: tuple[str, ...],
    probe: tuple[str, ...],
    config: str | None,
    baseline: str | None,
    junit_xml: str | None,
    json_path: str | None,
    html_path: str | None,
    timeout_scale: float | None,
    jobs: int | None,
    verbose: bool,
    quiet: bool,
    exitfirst: bool,
    maxfail: int | None,
    plugin_arg: tuple[str, ...],
) -> int:
    """Run the conformance checks against PLUGIN (an executable, or a .py file).

    A report written to '-' goes to stdout; everything else is then written to stderr.
    """
    from octa_conformance import runner
    from octa_conformance.reporting.style import plural, terminal_width, use_color
    from octa_conformance.reporting.summary import header_text, rerun_command, summary_text
    from octa_conformance.settings import resolve

    with usage_errors():
        options = resolve(
            plugin,
            octa_version=octa_version,
            strict=True if strict else None,
            select=select,
            skip=skip,
            probes=probe,
            config=config,
            baseline=baseline,
            timeout_scale=timeout_scale,
            plugin_args=plugin_arg,
        )
        plan = runner.plan_run(
            json_path=json_path,
            junit_path=junit_xml,
            html_path=html_path,
            jobs=jobs,
            maxfail=maxfail,
            exitfirst=exitfirst,
            verbose=verbose,
            quiet=quiet,
        )

    # a report on stdout: the human output goes to stderr
    err = plan.reports_on_stdout
    stream = sys.stderr if err else sys.stdout
    color = use_color(stream)
    count = len(runner.selected_ids(options))
    if not quiet:
        click.echo(
            header_text(
                str(options.plugin), options.octa_version, count, options.strict, jobs, color
            ),
            err=err,
        )
    diagnostics: list[str] = []
    code, report = runner.run(options, plan, diagnostics=diagnostics)
    if report is not None:
        rerun = rerun_command(
            _rerun_base(plugin, octa_version, strict, probe, config, timeout_scale, plugin_arg),
            "--select",
        )
        summary = summary_text(
            report,
            color=color,
            verbose=verbose,
            quiet=quiet,
            rerun=rerun,
            width=terminal_width(stream),
        )
        click.echo(summary, err=err)
    for problem in diagnostics:
        click.echo(f"octa-conform: harness error: {problem}", err=True)
    if code == runner.EXIT_INTERRUPTED:
        done = len(report.checks) if report else 0
        click.echo(
            f"octa-conform: interrupted after {done} of {plural(count, 'check')}"
            " (reports written with complete=false)",
            err=True,
        )
    return code


def _rerun_base(
    plugin: str,
    octa_version: str | None,
    strict: bool,
    probe: Sequence[str],
    config: str | None,
    timeout_scale: float | None,
    plugin_arg: Sequence[str],
) -> list[str]:
    """``octa-conform PLUGIN`` and the options of this run that change what a check does."""
    base = ["octa-conform", plugin]
    if octa_version:
        base += ["--octa-version", octa_version]
    if config:
        base += ["--config", config]
    for p in probe:
        base += ["--probe", p]
    for a in plugin_arg:
        base.append(f"--plugin-arg={a}")
    if timeout_scale is not None:
        base += ["--timeout-scale", f"{timeout_scale:g}"]
    if strict:
        base.append("--strict")
    return base
