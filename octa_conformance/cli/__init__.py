"""``octa-conform``: the command-line front door.

``octa-conform ./my-plugin`` (short for ``octa-conform run ./my-plugin``) runs the bundled
suites in-process through the pytest plugin (see :mod:`octa_conformance.runner`);
``octa-conform list`` prints the catalogue; ``octa-conform session ./my-plugin -- PARAMS``
shows one whole exchange, frame by frame. One module per command (``run_command``,
``list_command``, ``session_command``), added to the group here; ``usage`` holds what they
share (usage errors, exit statuses).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from octa_conformance import __version__
from octa_conformance.cli.list_command import list_command
from octa_conformance.cli.run_command import run_command
from octa_conformance.cli.session_command import session_command
from octa_conformance.cli.usage import EXIT_CODES_HELP, UsageFailure, one_line


class DefaultGroup(click.Group):
    """A group whose ``run`` subcommand is implied: ``octa-conform ./plugin`` runs it."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[run] PLUGIN [OPTIONS] | list | session ...")


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


cli.add_command(run_command)
cli.add_command(list_command)
cli.add_command(session_command)


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
        click.echo(f"octa-conform: error: {one_line(str(e))}", err=True)
        return 2
    except click.ClickException as e:
        click.echo(f"octa-conform: error: {one_line(e.format_message())}", err=True)
        return 2
    except (click.Abort, KeyboardInterrupt):
        from octa_conformance.supervisor import kill_all

        kill_all()
        click.echo("octa-conform: interrupted", err=True)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
    return rv if isinstance(rv, int) else 0
