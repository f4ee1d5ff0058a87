"""The engine's fixtures: ``octa`` (a CheckContext) and the hosts built on it, the run's
options and plugin facts, and the guard that runs no check that could only repeat the
run's root cause."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from octa_conformance import interrupts
from octa_conformance.checking import check_id_of
from octa_conformance.context import CheckContext, PluginInfo, gather_info
from octa_conformance.host import FakeOcta
from octa_conformance.pytest_plugin.interrupt_guards import quiet_after_interrupt
from octa_conformance.pytest_plugin.root_cause import NotRun, root_cause
from octa_conformance.pytest_plugin.stash import CAUSE_KEY, CONTEXT_KEY, INFO_KEY, OPTIONS_KEY
from octa_conformance.results import CAUSE_LAUNCH
from octa_conformance.settings import RunOptions

# The checks that judge the launch itself: they run even when the plugin cannot be started.
LAUNCH_WITNESSES = frozenset({"launch.listens"})


@pytest.fixture
def octa_check_id(request: pytest.FixtureRequest) -> str:
    """The catalogue id of the running check ("" in a test that is not a check)."""
    return check_id_of(request.node) or ""


@pytest.fixture(scope="session")
def octa_options(request: pytest.FixtureRequest) -> RunOptions:
    """The validated run options (from --octa-* options and the config file)."""
    options = request.config.stash.get(OPTIONS_KEY, None)
    if options is None:
        pytest.skip("no plugin to check: pass --octa-plugin PATH (or set octa_plugin in ini)")
    return options


@pytest.fixture(scope="session")
def octa_plugin_info(request: pytest.FixtureRequest, octa_options: RunOptions) -> PluginInfo:
    """What one handshake told about the plugin (key, requirement, dialect, probes)."""
    info = gather_info(octa_options)
    request.config.stash[CAUSE_KEY] = root_cause(octa_options, info)
    request.config.stash[INFO_KEY] = info
    return info


@pytest.fixture(autouse=True)
def _octa_root_cause_guard(request: pytest.FixtureRequest) -> None:
    """Run no check that could only repeat the root cause: when the plugin cannot even be
    started, every check but the launch's own fails at once, saying so, without launching."""
    cid = check_id_of(request.node)
    if cid is None or cid in LAUNCH_WITNESSES or OPTIONS_KEY not in request.config.stash:
        return
    request.getfixturevalue("octa_plugin_info")
    cause = request.config.stash.get(CAUSE_KEY, None)
    if cause is not None and cause.kind == CAUSE_LAUNCH:
        raise NotRun(f"not run because {cause.phrase}: {cause.summary}")


@pytest_asyncio.fixture(loop_scope="function")
async def octa(
    request: pytest.FixtureRequest, octa_options: RunOptions, octa_plugin_info: PluginInfo
) -> AsyncIterator[CheckContext]:
    """A check context: launches fresh plugin processes and cleans them all up."""
    info = dataclasses.replace(octa_plugin_info, probes=octa_plugin_info.probes.fresh())
    ctx = CheckContext(octa_options, info, check_id_of(request.node) or "")
    request.node.stash[CONTEXT_KEY] = ctx
    interrupted = quiet_after_interrupt(asyncio.get_running_loop())
    try:
        yield ctx
    finally:
        interrupted[0] = interrupts.received()
        await ctx.aclose()


@pytest_asyncio.fixture(loop_scope="function")
async def octa_host(octa: CheckContext) -> FakeOcta:
    """A fresh plugin process with a connected fake host (no handshake yet)."""
    return await octa.launch()


@pytest_asyncio.fixture(loop_scope="function")
async def octa_ready_host(octa: CheckContext) -> FakeOcta:
    """A fresh plugin process with a handshaken fake host."""
    return await octa.ready()


# --- turning test outcomes into check results -------------------------------------
