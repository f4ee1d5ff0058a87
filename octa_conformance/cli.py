"""``octa-conform``: the command-line front door.

``octa-conform ./my-plugin`` (short for ``octa-conform run ./my-plugin``) runs the bundled
suites in-process through the pytest plugin (see :mod:`octa_conformance.runner`);
``octa-conform list`` prints the catalogue; ``octa-conform session ./my-plugin -- PARAMS``
shows one whole exchange, frame by frame.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from octa_conformance import __version__, catalogue
from octa_conformance.probes import ConfigError

EXIT_CODES_HELP = """\b
Exit status:
  0    verdict PASS
  1    verdict FAIL (a MUST check failed; with --strict also a SHOULD check;
       also when -x/--maxfail stopped the run)
  2    usage or configuration error: bad option, missing / directory /
       non-executable plugin, bad --octa-version, bad config or baseline
       file, unknown check id in --select/--skip, unwritable report path
  3    the harness itself failed (a check ended in an error, or pytest
       could not collect or run the suites)
  4    verdict INCOMPLETE: nothing failed, but a MUST check did not run
       (a probe it needs is not configured; with --strict also a SHOULD
       check): configure the probes named, or --skip the checks
  130  interrupted (Ctrl-C, SIGTERM): the results so far are printed and
       the reports written with "complete": false
"""

SESSION_EXIT_HELP = """\b
Exit status:
  0    the exchange worked (whatever the command's own exit code)
  1    the plugin misbehaved (did not start, broke the protocol, refused
       or never finished the command, did not acknowledge Shutdown)
  2    usage error
  130  interrupted
"""


class UsageFailure(Exception):
    """A usage or configuration problem: one line on stderr, exit status 2."""


class DefaultGroup(click.Group):
    """A group whose ``run`` subcommand is implied: ``octa-conform ./plugin`` runs it."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[run] PLUGIN [OPTIONS] | list | session ...")


def _one_line(text: str) -> str:
    return "; ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())


def _color() -> bool:
    from octa_conformance.reporting.style import use_color

    return use_color(sys.stdout)


@click.group(
    cls=DefaultGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, "--version", prog_name="octa-conform")
def cli() -> None:
    """Check that an Octa task-runner plugin speaks the plugin protocol correctly.

    \b
      octa-conform ./my-plugin                 run every check
      octa-conform ./my-plugin --select 'execute.*' --json report.json
      octa-conform list                        the check catalogue
      octa-conform session ./my-plugin -- 'echo hi'   one exchange, frame by frame
    """


# --- run ----------------------------------------------------------------------------


@cli.command(
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

    try:
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
        if json_path:
            runner.check_report_path(json_path, "JSON report")
        if junit_xml:
            runner.check_report_path(junit_xml, "JUnit report")
        if html_path:
            runner.check_report_path(html_path, "HTML report")
        runner.check_one_stdout_report(json_path, junit_xml, html_path)
        if maxfail is not None and maxfail < 1:
            raise ConfigError(f"--maxfail expects a positive number of failures, got {maxfail}")
        if jobs is not None and jobs < 1:
            raise ConfigError(f"-j expects a positive number of workers, got {jobs}")
        if jobs:
            runner.check_xdist()
    except ConfigError as e:
        raise UsageFailure(str(e)) from None

    # a report on stdout: the human output goes to stderr
    err = runner.STDOUT in (json_path, junit_xml, html_path)
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
    try:
        code, report = runner.run(
            options,
            json_path=json_path,
            junit_path=junit_xml,
            html_path=html_path,
            jobs=jobs,
            verbose=verbose,
            progress=True,
            diagnostics=diagnostics,
            quiet=quiet,
            maxfail=1 if exitfirst else maxfail,
        )
    except ConfigError as e:  # pragma: no cover - checked above already
        raise UsageFailure(str(e)) from None
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


# --- list ---------------------------------------------------------------------------


def catalogue_entries() -> list[dict[str, Any]]:
    """Every check as a plain dict (the ``list --format json`` entries)."""
    return [
        {
            "id": s.id,
            "level": s.level.value,
            "area": s.area,
            "section": s.section,
            "description": s.description,
            "probes": list(s.probes),
        }
        for s in catalogue.CHECKS.values()
    ]


def probe_entries() -> list[dict[str, Any]]:
    """Every probe's contract and the checks that need it (``list --probes --format json``)."""
    from octa_conformance.probes import CONTRACTS, needed_by

    needs = needed_by()
    return [
        {
            "name": c.name,
            "placeholders": list(c.placeholders),
            "does": c.does,
            "stdout": c.stdout,
            "exit": c.exit,
            "notes": c.notes,
            "checks": [
                {"id": cid, "level": catalogue.get(cid).level.value} for cid in needs[c.name]
            ],
        }
        for c in CONTRACTS.values()
    ]


def _list_probes(fmt: str) -> None:
    from octa_conformance.probes import BUILTIN_SETS, CONFIG_FILE, CONTRACTS

    entries = probe_entries()
    if fmt == "json":
        click.echo(json.dumps({"version": __version__, "probes": entries}, indent=2))
        return

    def needs(e: dict[str, Any], fmt: str) -> str:
        ids = [f"`{c['id']}` ({c['level']})" if fmt == "markdown" else c["id"] for c in e["checks"]]
        return ", ".join(ids) or "no check requires it"

    if fmt == "markdown":
        click.echo("| probe | must make the plugin... | stdout | ending | notes | needed by |")
        click.echo("|---|---|---|---|---|---|")
        for e in entries:
            cells = [f"`{CONTRACTS[e['name']].usage}`", e["does"], e["stdout"], e["exit"]]
            cells += [e["notes"] or "-", needs(e, fmt)]
            click.echo("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return
    builtin = ", ".join(f"'{k}'" for k in BUILTIN_SETS)
    click.echo(
        f"Probes: command templates in the plugin's own language ({CONFIG_FILE} [probes] or"
        " --probe NAME=TEMPLATE;\nplaceholder values are quoted for a shell unless quoting ="
        f' "none"). Built-in sets for schema keys: {builtin}.'
    )
    for e in entries:
        musts = sum(c["level"] == "MUST" for c in e["checks"])
        n = len(e["checks"])
        click.echo(f"\n{CONTRACTS[e['name']].usage}  ({n} check{'s' * (n != 1)}, {musts} MUST)")
        click.echo(f"  must:    {e['does']}")
        click.echo(f"  stdout:  {e['stdout']}")
        click.echo(f"  ending:  {e['exit']}")
        if e["notes"]:
            click.echo(f"  note:    {e['notes']}")
        click.echo(f"  used by: {needs(e, fmt)}")


@cli.command("list", short_help="List every check of the catalogue (or every probe).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--probes",
    "probes",
    is_flag=True,
    help="List the probes instead: what each must do, and which checks need it.",
)
def list_command(fmt: str, probes: bool) -> int:
    """List every check: id, level, area, description and the probes it needs."""
    if probes:
        _list_probes(fmt)
        return 0
    entries = catalogue_entries()
    if fmt == "json":
        click.echo(json.dumps({"version": __version__, "checks": entries}, indent=2))
        return 0
    if fmt == "markdown":
        click.echo("| id | level | area | § | description | probes |")
        click.echo("|---|---|---|---|---|---|")
        for e in entries:
            probes_cell = ", ".join(f"`{p}`" for p in e["probes"]) or "-"
            desc = e["description"].replace("|", "\\|")
            click.echo(
                f"| `{e['id']}` | {e['level']} | {e['area']} | {section_links(e['section'])}"
                f" | {desc} | {probes_cell} |"
            )
        return 0
    from octa_conformance.reporting.style import terminal_width

    # wrapped to the terminal's width (or COLUMNS); piped, one line per check (for grep)
    wrap = sys.stdout.isatty() or bool(os.environ.get("COLUMNS"))
    for line in catalogue_lines(entries, terminal_width() if wrap else None):
        click.echo(line)
    return 0


PROTOCOL_DOC = "docs/protocol.md"


def section_links(section: str) -> str:
    """``3, 4.1`` -> ``[§3](docs/protocol.md#s3), [§4.1](docs/protocol.md#s4.1)``."""
    numbers = [n.strip() for n in section.split(",") if n.strip()]
    return ", ".join(f"[§{n}]({PROTOCOL_DOC}#s{n})" for n in numbers) or "-"


def catalogue_lines(entries: list[dict[str, Any]], width: int | None) -> list[str]:
    """The text catalogue, area by area, each description wrapped to ``width`` columns
    under its own column (or, when that leaves too little room, below the id); ``None``:
    one line per check."""
    import textwrap

    id_width = max(len(e["id"]) for e in entries)
    sec_width = max(len(f"§{e['section']}") for e in entries)
    lead = 2 + id_width + 2 + 6 + 2 + sec_width + 2
    width = width or 10**6
    room = width - lead
    out: list[str] = []
    area = None
    for e in entries:
        if e["area"] != area:
            area = e["area"]
            out += ([] if not out else [""]) + [f"{area}:"]
        needs = f"  [probes: {' '.join(e['probes'])}]" if e["probes"] else ""
        text = e["description"] + needs
        head = f"  {e['id']:<{id_width}}  {e['level']:<6}  {'§' + e['section']:<{sec_width}}  "
        if room >= 30:
            wrapped = textwrap.wrap(text, room, break_on_hyphens=False) or [""]
            out.append(head + wrapped[0])
            out += [" " * lead + ln for ln in wrapped[1:]]
        else:  # a narrow terminal: the description below, indented
            out.append(head.rstrip())
            wrapped = textwrap.wrap(text, max(20, width - 6), break_on_hyphens=False)
            out += ["      " + ln for ln in wrapped]
    return out


# --- session ------------------------------------------------------------------------


def _frame_text(raw: bytes, limit: int = 4000) -> str:
    data = raw.rstrip(b"\n")
    try:
        text = data[:limit].decode("utf-8")
    except UnicodeDecodeError:
        text = repr(data[:limit])[2:-1]
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if len(data) > limit:
        text += f" ... ({len(data)} bytes in all)"
    return text


def _live_transcript(emit: Callable[[str, str], None], label: str) -> Any:
    """A Transcript that also prints every entry as it is recorded."""
    from octa_conformance.protocol import Violation
    from octa_conformance.transcript import NOTE, Transcript

    class LiveTranscript(Transcript):
        def add(self, direction: str, raw: bytes, item: Any = None) -> None:
            super().add(direction, raw, item)
            if direction == NOTE:
                prefix = "!! violation: " if isinstance(item, Violation) else "-- "
                emit(NOTE, f"{prefix}{item}")
            else:
                emit(direction, _frame_text(raw))

    return LiveTranscript(label=label)


async def run_session(
    plugin: Path,
    params: str,
    *,
    octa_version: str,
    plugin_args: Sequence[str] = (),
    timeout_scale: float = 1.0,
    directory: str | None = None,
    color: bool = False,
) -> int:
    """Launch, handshake, one Execute, Shutdown; print every frame. 0 ok, 1 misbehaved."""
    from octa_conformance.config import HarnessConfig, Timeouts
    from octa_conformance.errors import LaunchError, OctaConformanceError
    from octa_conformance.host import FakeOcta
    from octa_conformance.protocol import Dialect
    from octa_conformance.reporting.live import frame_line
    from octa_conformance.reporting.style import paint
    from octa_conformance.semver import matches
    from octa_conformance.supervisor import PluginProcess

    config = HarnessConfig(
        octa_version=octa_version,
        timeouts=Timeouts().scaled(timeout_scale),
        plugin_args=tuple(plugin_args),
    )
    timeouts = config.timeouts
    t0 = time.monotonic()
    problems: list[str] = []
    warnings: list[str] = []

    def emit(direction: str, text: str) -> None:
        click.echo(frame_line(time.monotonic() - t0, direction, text, color))

    def note(text: str) -> None:
        emit("note", f"-- {text}")

    def problem(text: str) -> None:
        problems.append(text)
        emit("note", f"!! {text}")

    dialect = Dialect.for_octa_version(octa_version)
    note(f"fake Octa {octa_version} (dialect {dialect.value}) launching {plugin}")
    try:
        process = PluginProcess.spawn(plugin, config=config, extra_args=config.plugin_args)
    except LaunchError as e:
        problem(f"cannot start the plugin: {_one_line(str(e))}")
        return _session_verdict(problems, warnings, color, paint)
    try:
        note("argv: " + " ".join(process.argv))
        try:
            host = await FakeOcta.connect(process, config=config, dialect=dialect)
        except LaunchError as e:
            problem(f"no connection: {e.headline}")
            host = None
        if host is not None:
            host.transcript = _live_transcript(emit, "session")
            note(f"connected to {process.socket_path} after {process.startup_seconds or 0:.3f} s")
            shut_down = False
            try:
                shut_down = await _exchange(
                    host, params, octa_version, directory, problem, note, matches
                )
            except OctaConformanceError as e:
                problem(_one_line(str(e)))
            if shut_down:  # frames after the Shutdown response are violations: wait a moment
                await host.wait_plugin_close(timeouts.exit)
                status = await process.wait_exit(timeouts.exit)
                if status is None:
                    warnings.append(
                        f"the plugin did not exit within {timeouts.exit:.1f} s of its Shutdown"
                        " response (Octa kills it then)"
                    )
                elif status != 0:
                    warnings.append(f"the plugin exited with status {status} (expected 0)")
                else:
                    note("the plugin exited with status 0")
            else:
                note("stopping the plugin, as Octa would")
            for v in host.violations:
                problems.append(f"protocol violation: {v}")
            await host.close()
    finally:
        await process.stop()
    excerpt = process.output_excerpt(3000)
    if excerpt.strip():
        click.echo(paint("plugin's own stdout/stderr:", "bold", color))
        click.echo("\n".join("  " + ln for ln in excerpt.splitlines()))
    return _session_verdict(problems, warnings, color, paint)


async def _exchange(
    host: Any,
    params: str,
    octa_version: str,
    directory: str | None,
    problem: Callable[[str], None],
    note: Callable[[str], None],
    matches: Callable[[str, str], bool],
) -> bool:
    """The Octa start-up handshake, one Execute and a Shutdown; True once shut down."""
    hello = await host.hello()
    try:
        ok = matches(octa_version, hello.version)
    except ValueError as e:
        problem(f"the plugin's version requirement does not parse ({e}): Octa would panic")
        return False
    if not ok:
        problem(
            f"Octa {octa_version} rejects this plugin: it requires Octa {hello.version!r}"
            " (use --octa-version to try another host version)"
        )
        return False
    schema = await host.schema()
    note(f"handshake done: key {schema.key!r}, requires Octa {hello.version!r}")
    run = await host.execute(params, dir=directory or os.getcwd())
    run_id = await run.started()
    result = await run.result()
    outcome = (
        f"exit code {result.exit_code}"
        if result.error is None
        else f"Error {result.error!r} as its terminal frame"
    )
    note(
        f"command {run_id!r} finished: {outcome}, {len(result.stdout_lines)} stdout"
        f" and {len(result.stderr_lines)} stderr line(s)"
    )
    await host.shutdown()
    note("Shutdown acknowledged")
    return True


def _session_verdict(problems: list[str], warnings: list[str], color: bool, paint: Any) -> int:
    for w in warnings:
        click.echo(paint(f"warning: {w}", "yellow", color))
    if problems:
        click.echo(paint("session FAILED: the plugin misbehaved:", "red", color))
        for p in problems:
            click.echo(f"  - {p}")
        return 1
    click.echo(paint("session OK: the exchange worked as Octa expects", "green", color))
    return 0


@cli.command(
    "session", epilog=SESSION_EXIT_HELP, short_help="Show one whole exchange, frame by frame."
)
@click.argument("plugin")
@click.argument("params", nargs=-1, required=True)
@click.option("--octa-version", metavar="VERSION", help="Host version to pretend to be.")
@click.option("--plugin-arg", multiple=True, metavar="ARG", help="Extra plugin argument.")
@click.option("--timeout-scale", type=float, default=1.0, metavar="X", help="Stretch timeouts.")
@click.option(
    "--dir",
    "directory",
    metavar="DIR",
    help="The Execute's working directory (default: the current one).",
)
def session_command(
    plugin: str,
    params: tuple[str, ...],
    octa_version: str | None,
    plugin_arg: tuple[str, ...],
    timeout_scale: float,
    directory: str | None,
) -> int:
    """Launch PLUGIN, handshake, run one Execute with PARAMS, shut down: every frame shown.

    \b
      octa-conform session ./my-plugin -- 'echo hi'

    Frames are printed as they cross the wire, with the time since launch:
    "host   ->" from the fake Octa, "plugin <-" from the plugin.
    """
    from octa_conformance.config import DEFAULT_OCTA_VERSION
    from octa_conformance.semver import parse_version
    from octa_conformance.settings import check_plugin_path

    version = octa_version or DEFAULT_OCTA_VERSION
    try:
        path = check_plugin_path(plugin)
        try:
            parse_version(version)
        except ValueError as e:
            raise ConfigError(f"--octa-version {version!r} is not a semver version: {e}") from None
        if timeout_scale <= 0:
            raise ConfigError(f"timeout scale must be a positive number, got {timeout_scale!r}")
        if directory is not None and not Path(directory).is_dir():
            raise ConfigError(f"--dir {directory} is not a directory")
    except ConfigError as e:
        raise UsageFailure(str(e)) from None
    from octa_conformance.interrupts import signals_interrupt

    with signals_interrupt():
        return asyncio.run(
            run_session(
                path,
                " ".join(params),
                octa_version=version,
                plugin_args=plugin_arg,
                timeout_scale=timeout_scale,
                directory=str(Path(directory).absolute()) if directory else None,
                color=_color(),
            )
        )


# --- entry point --------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """The ``octa-conform`` console script: returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        click.echo(cli.get_help(click.Context(cli, info_name="octa-conform")))
        click.echo("octa-conform: error: missing PLUGIN (see 'octa-conform --help')", err=True)
        return 2
    try:
        rv = cli.main(args=args, prog_name="octa-conform", standalone_mode=False)
    except UsageFailure as e:
        click.echo(f"octa-conform: error: {_one_line(str(e))}", err=True)
        return 2
    except click.ClickException as e:
        click.echo(f"octa-conform: error: {_one_line(e.format_message())}", err=True)
        return 2
    except (click.Abort, KeyboardInterrupt):
        from octa_conformance.supervisor import kill_all

        kill_all()
        click.echo("octa-conform: interrupted", err=True)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
