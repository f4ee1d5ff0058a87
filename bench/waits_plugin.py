"""A pytest plugin for the bench: per check, its wall time and its deadline time.

Loaded with ``-p waits_plugin`` (``bench/`` on ``PYTHONPATH``) in a ``pytest --octa-plugin``
run, also in xdist workers. For each check it reads the expired waits that the harness
records (:mod:`octa_conformance.waits`) and appends one JSON line to
``$OCTA_BENCH_WAITS/<pid>.jsonl``: the check id, the wall time of its setup, call and
teardown, the wall time of the waits that ran out during it (overlapping waits counted
once), and how long each kind of wait ran out for.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from octa_conformance import waits
from octa_conformance.checking import check_id_of

ENV = "OCTA_BENCH_WAITS"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    out = os.environ.get(ENV)
    position = waits.mark()
    started = time.monotonic()
    yield
    if not out:
        return
    ended = time.monotonic()
    records = waits.since(position)
    by_what: dict[str, float] = {}
    for rec in records:
        by_what[rec.what] = by_what.get(rec.what, 0.0) + rec.seconds
    line = {
        "id": check_id_of(item) or item.nodeid,
        "wall_s": round(ended - started, 4),
        "waited_s": round(waits.wall_seconds(records), 4),
        "expired": len(records),
        "by_what": {k: round(v, 4) for k, v in sorted(by_what.items(), key=lambda kv: -kv[1])},
    }
    path = Path(out) / f"{os.getpid()}.jsonl"
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
