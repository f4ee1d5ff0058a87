"""What the engine keeps in pytest's stash (and in a report's user properties), shared by
its hooks and fixtures."""

from __future__ import annotations

from typing import Any

import pytest

from octa_conformance.context import CheckContext, PluginInfo
from octa_conformance.results import RootCause, RunReport
from octa_conformance.settings import RunOptions

# on the config
OPTIONS_KEY = pytest.StashKey[RunOptions]()  # the validated run options (no plugin: unset)
REPORT_KEY = pytest.StashKey[RunReport]()  # the run's report, once the session finished
HYPOTHESIS_HOME_KEY = pytest.StashKey[str]()  # hypothesis's private home, removed at the end
SIGNALS_KEY = pytest.StashKey[dict[int, Any]]()  # the signal handlers to restore
UNRAISABLE_KEY = pytest.StashKey[Any]()  # the sys.unraisablehook to restore
CAUSE_KEY = pytest.StashKey[RootCause | None]()  # the run's root cause, once looked for
INFO_KEY = pytest.StashKey[PluginInfo]()  # what the first handshake told
# on a check's item
CONTEXT_KEY = pytest.StashKey[CheckContext]()  # the check's context, until it is reported
# the user property of a check's test report that carries its result (also from xdist workers)
RESULT_PROPERTY = "octa_result"
