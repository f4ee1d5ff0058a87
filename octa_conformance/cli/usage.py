"""What every ``octa-conform`` command shares: usage errors and the exit statuses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


class UsageFailure(Exception):
    """A usage or configuration problem: one line on stderr, exit status 2."""


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """A ConfigError raised inside becomes a UsageFailure."""
    try:
        yield
    except ConfigError as e:
        raise UsageFailure(str(e)) from None


def one_line(text: str) -> str:
    """``text``'s non-blank lines joined with ``; ``: an error message fits one line."""
    return "; ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())
