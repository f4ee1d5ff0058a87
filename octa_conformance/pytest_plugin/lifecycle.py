"""The engine's part in a pytest session: configure (options, the suites, signals, a private
hypothesis home), the order and ids of the checks, and the clean-up at the end."""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings

import pytest

from octa_conformance import catalogue, interrupts
from octa_conformance.checking import MARKER, check_id_of
from octa_conformance.context import discard_spare, plan_spares, takes_spare
from octa_conformance.probes import ConfigError
from octa_conformance.pytest_plugin.collector import Collector
from octa_conformance.pytest_plugin.interrupt_guards import unraisable_hook
from octa_conformance.pytest_plugin.options import check_report_paths, options_from_config
from octa_conformance.pytest_plugin.stash import (
    HYPOTHESIS_HOME_KEY,
    OPTIONS_KEY,
    SIGNALS_KEY,
    UNRAISABLE_KEY,
)
from octa_conformance.supervisor import kill_all


@pytest.hookimpl(tryfirst=True)  # before pytest-asyncio's: see _loop_scope_default
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(id, level): an Octa conformance check from the catalogue"
    )
    try:
        options = options_from_config(config)
        if options is not None:
            check_report_paths(config)  # before any check runs
    except ConfigError as e:
        raise pytest.UsageError(str(e)) from None
    if options is None:
        return
    config.stash[OPTIONS_KEY] = options
    _loop_scope_default(config)
    _private_hypothesis_home(config)
    # Ctrl-C and SIGTERM unwind at once, so every plugin process is stopped
    config.stash[SIGNALS_KEY] = interrupts.install()
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Collector(config, options), "octa-collector")
    suites = str(catalogue.suites_dir())  # xdist workers must collect the suites too
    if not config.getoption("octa_no_suites") and suites not in config.args:
        config.args.append(suites)


LOOP_SCOPE_INI = "asyncio_default_fixture_loop_scope"


def _loop_scope_default(config: pytest.Config) -> None:
    """No pytest-asyncio deprecation warning about an unset ``asyncio_default_fixture_loop_scope``
    in a repository that only runs the checks: our async fixtures declare their loop scope
    (function), so the setting changes nothing for them. The warning is only silenced (for
    this run) when the setting is unset; behaviour stays what pytest-asyncio makes it."""
    try:
        value = config.getini(LOOP_SCOPE_INI)
    except ValueError:  # pytest-asyncio is not loaded
        return
    if not value:
        warnings.filterwarnings(
            "ignore",
            message=f'The configuration option "{LOOP_SCOPE_INI}" is unset',
            category=pytest.PytestDeprecationWarning,
        )


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if OPTIONS_KEY in config.stash:  # after every plugin's pytest_configure set its hook
        config.stash[UNRAISABLE_KEY] = sys.unraisablehook
        sys.unraisablehook = unraisable_hook(sys.unraisablehook)


def pytest_unconfigure(config: pytest.Config) -> None:
    discard_spare()  # idle: SIGKILL at once, no grace period
    if OPTIONS_KEY in config.stash:
        plan_spares()  # back to the default: a later run in this process plans its own
    kill_all()
    interrupts.restore(config.stash.get(SIGNALS_KEY, {}))
    previous = config.stash.get(UNRAISABLE_KEY, None)
    if previous is not None and getattr(sys.unraisablehook, "octa_interrupt_filter", False):
        sys.unraisablehook = previous
    home = config.stash.get(HYPOTHESIS_HOME_KEY, None)
    if home is not None:
        from hypothesis.configuration import set_hypothesis_home_dir

        set_hypothesis_home_dir(None)  # a later hypothesis run must not recreate it
        shutil.rmtree(home, ignore_errors=True)


def _private_hypothesis_home(config: pytest.Config) -> None:
    """Keep hypothesis's caches in a temp dir: a run writes nothing into the user's tree."""
    from hypothesis.configuration import set_hypothesis_home_dir

    home = tempfile.mkdtemp(prefix="octa-conform-hypothesis-")
    config.stash[HYPOTHESIS_HOME_KEY] = home
    set_hypothesis_home_dir(home)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the checks not selected; run the others in catalogue order (area by area, as
    the reports list them; your own tests keep their places)."""
    options = config.stash.get(OPTIONS_KEY, None)
    if options is None:
        return
    keep, drop = [], []
    for item in items:
        cid = check_id_of(item)
        (drop if cid is not None and not options.selected(cid) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    order = {cid: i for i, cid in enumerate(catalogue.CHECKS)}
    slots = [i for i, item in enumerate(keep) if check_id_of(item) is not None]
    checks = sorted(
        (keep[i] for i in slots), key=lambda it: order.get(check_id_of(it) or "", len(order))
    )
    for i, item in zip(slots, checks, strict=True):
        keep[i] = item
    items[:] = keep


def _takes_spare(item: pytest.Item | None) -> bool:
    """Whether ``item`` spawns a plugin process (it uses the ``octa`` fixture) and may take
    the spare for its first spawn."""
    if item is None or "octa" not in getattr(item, "fixturenames", ()):
        return False
    return takes_spare(check_id_of(item) or "")


@pytest.hookimpl(tryfirst=True, specname="pytest_runtest_protocol")
def pytest_runtest_protocol_spares(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Before each test: start a spare plugin process only for a check that will take it —
    this one (the run's first handshake starts one alongside) or the next one (this one starts
    it while it runs). ``nextitem`` is None for the last test (of this xdist worker), so a
    one-check run starts no process it does not use. (A second ``pytest_runtest_protocol``
    beside the interrupt guard's; pytest reads hooks only from ``pytest_*`` names.)"""
    if OPTIONS_KEY in item.config.stash:
        plan_spares(now=_takes_spare(item), later=_takes_spare(nextitem))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each check's test carries its id as a parameter: ``test_large_frame[execute.large-frame]``
    (``@check`` asks for the ``octa_check_id`` fixture, which this parametrizes)."""
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is not None and "octa_check_id" in metafunc.fixturenames:
        cid = marker.args[0]
        metafunc.parametrize("octa_check_id", [cid], ids=[cid])


# --- fixtures ---------------------------------------------------------------------
