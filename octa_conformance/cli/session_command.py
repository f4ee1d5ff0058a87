"""``octa-conform session PLUGIN -- PARAMS``: one whole exchange, every frame shown as it
crosses the wire.

Launch, the start-up handshake (judged like Octa: :func:`octa_accepts`), one Execute,
Shutdown, on the engine's own pieces: :class:`PluginProcess`, :class:`FakeOcta` and the
configuration a run would use (:meth:`RunOptions.harness_config`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from octa_conformance.cli.usage import one_line, usage_errors

SESSION_EXIT_HELP = """\b
Exit status:
  0    the exchange worked (whatever the command's own exit code)
  1    the plugin misbehaved (did not start, broke the protocol, refused
       or never finished the command, did not acknowledge Shutdown)
  2    usage error
  130  interrupted
"""


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
    from octa_conformance.errors import LaunchError, OctaConformanceError
    from octa_conformance.host import FakeOcta
    from octa_conformance.protocol import Dialect
    from octa_conformance.reporting.live import frame_line
    from octa_conformance.reporting.style import paint
    from octa_conformance.settings import RunOptions
    from octa_conformance.supervisor import PluginProcess

    options = RunOptions(
        plugin=plugin,
        octa_version=octa_version,
        timeout_scale=timeout_scale,
        plugin_args=tuple(plugin_args),
    )
    config = options.harness_config()
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
        problem(f"cannot start the plugin: {one_line(str(e))}")
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
                shut_down = await _exchange(host, params, octa_version, directory, problem, note)
            except OctaConformanceError as e:
                problem(one_line(str(e)))
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
) -> bool:
    """The Octa start-up handshake, one Execute and a Shutdown; True once shut down."""
    from octa_conformance.compatibility import octa_accepts

    hello = await host.hello()
    accepted, reason = octa_accepts(hello.version, octa_version)
    if not accepted:
        problem(
            f"Octa {octa_version} rejects this plugin: {reason}"
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


@click.command(
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
    from octa_conformance.interrupts import signals_interrupt
    from octa_conformance.probes import ConfigError
    from octa_conformance.reporting.style import use_color
    from octa_conformance.settings import (
        check_octa_version,
        check_plugin_path,
        check_timeout_scale,
    )

    with usage_errors():
        path = check_plugin_path(plugin)
        version = check_octa_version(octa_version or DEFAULT_OCTA_VERSION)
        scale = check_timeout_scale(timeout_scale)
        if directory is not None and not Path(directory).is_dir():
            raise ConfigError(f"--dir {directory} is not a directory")
    with signals_interrupt():
        return asyncio.run(
            run_session(
                path,
                " ".join(params),
                octa_version=version,
                plugin_args=plugin_arg,
                timeout_scale=scale,
                directory=str(Path(directory).absolute()) if directory else None,
                color=use_color(),
            )
        )
