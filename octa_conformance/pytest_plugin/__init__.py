"""The pytest plugin: ``pytest --octa-plugin ./my-plugin`` runs the bundled suites.

This module is the engine behind both front doors. The CLI runs pytest in-process with
this plugin; in a plugin author's repository pytest loads it through the ``pytest11``
entry point. Fixtures for custom tests: ``octa`` (a :class:`CheckContext`),
``octa_host`` (a launched, connected :class:`FakeOcta`) and ``octa_ready_host``
(handshaken).

pytest finds hooks and fixtures as attributes of the plugin module it registers (this one),
so every hook and fixture of the pieces below is imported here:

* ``options`` — the ``--octa-*`` options and the ``octa_plugin`` ini key, as RunOptions;
* ``lifecycle`` — configure (the suites, signals, hypothesis's home), check order and ids,
  which checks take a spare plugin process (``pytest_runtest_protocol_spares``), clean-up;
* ``fixtures`` — ``octa``, ``octa_host``, ``octa_ready_host``, ``octa_options``,
  ``octa_plugin_info``, ``octa_check_id`` and the root-cause guard;
* ``root_cause`` — why a plugin that failed its first handshake failed it;
* ``check_results`` — a check's test outcome as a CheckResult;
* ``collector`` — every result into one RunReport: live list, reports, summary;
* ``interrupt_guards`` — what Ctrl-C and SIGTERM must not set off;
* ``stash`` — what they share through pytest's stash.
"""

from __future__ import annotations

from octa_conformance.catalogue import suites_dir
from octa_conformance.pytest_plugin.check_results import pytest_runtest_makereport
from octa_conformance.pytest_plugin.fixtures import (
    _octa_root_cause_guard,
    octa,
    octa_check_id,
    octa_host,
    octa_options,
    octa_plugin_info,
    octa_ready_host,
)
from octa_conformance.pytest_plugin.interrupt_guards import pytest_runtest_protocol
from octa_conformance.pytest_plugin.lifecycle import (
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_generate_tests,
    pytest_runtest_protocol_spares,
    pytest_sessionstart,
    pytest_unconfigure,
)
from octa_conformance.pytest_plugin.options import pytest_addoption
from octa_conformance.pytest_plugin.stash import CONTEXT_KEY, OPTIONS_KEY, REPORT_KEY

__all__ = [
    "CONTEXT_KEY",
    "OPTIONS_KEY",
    "REPORT_KEY",
    "_octa_root_cause_guard",
    "octa",
    "octa_check_id",
    "octa_host",
    "octa_options",
    "octa_plugin_info",
    "octa_ready_host",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_runtest_makereport",
    "pytest_runtest_protocol",
    "pytest_runtest_protocol_spares",
    "pytest_sessionstart",
    "pytest_unconfigure",
    "suites_dir",
]
