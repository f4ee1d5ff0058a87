"""Make the test helpers importable; with ``-n N``, let idle workers steal tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """``-n N`` without ``--dist``: distribute by work stealing instead of xdist's ``load``.

    ``load`` hands each worker a chunk of consecutive tests up front, and the few tests that
    run the harness (test_cli ... test_reports) sit together before the thousands of quick
    ones (test_semver): one worker got nearly all of them and ran for ~95 s while the other
    was done after ~20 s. With ``worksteal`` a worker that runs out takes half of what
    another one still has queued. An explicit ``--dist`` is left alone.
    """
    if hasattr(config, "workerinput") or getattr(config.option, "dist", None) != "load":
        return
    given = [
        *config.invocation_params.args,
        *config.getini("addopts"),
        *os.environ.get("PYTEST_ADDOPTS", "").split(),
    ]
    if any(str(arg).startswith(("--dist", "-d")) for arg in given):
        return
    try:
        from xdist.scheduler import WorkStealingScheduling  # noqa: F401  (pytest-xdist >= 3.2)
    except ImportError:
        return
    config.option.dist = "worksteal"
