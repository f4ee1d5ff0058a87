"""Isolation: a conformance run keeps to itself.

* The plugin's socket lives in a private (0700) directory with an unpredictable name, inside
  the temp dir (``$TMPDIR``), one directory per plugin process, removed after the run.
* A run writes nothing outside its temp dir and the report files it was told to write: run
  from an empty working directory with ``HOME`` pointing at another empty directory, both are
  still empty afterwards except for the named reports; the temp dir is empty again.
* The plugin's environment is the user's, plus exactly one variable: the documented marker
  ``OCTA_CONFORMANCE_SESSION`` (a per-launch token the harness tracks processes by).

The plugin under test is ``tests/hostile/dumps_env.py``: the example plugin, which on start
appends what it was given (argv, environment, socket directory...) to the file named by
``$OCTA_HOSTILE_DUMP``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from conformance_run import run_suites

from octa_conformance.launch_setup import HARNESS_ONLY_VARS
from octa_conformance.process_tree import SESSION_ENV_VAR

SNOOP = Path(__file__).resolve().parent / "hostile" / "dumps_env.py"
TAG_VAR = "OCTA_HOSTILE_TAG"
DUMP_VAR = "OCTA_HOSTILE_DUMP"
# Checks that spawn plugins in every way the suites do (custom socket names, extra flags,
# several processes per check) and make the plugin run commands.
SELECT = ("launch.*", "handshake.*", "execute.*")
DEFAULT_SOCKET = re.compile(r"octa\.(\d+)\.[0-9a-f]{16}\.sock")
SOCKET_DIR = re.compile(r"octa-conform-[A-Za-z0-9_]{8,}")
SETTLE = 5.0  # seconds for killed processes to leave the process table


@dataclass
class SnoopedRun:
    report: dict[str, Any]
    spawns: list[dict[str, Any]]  # one record per plugin process, from dumps_env.py
    user_env: dict[str, str]  # the environment the harness was started with
    cwd: Path
    home: Path
    tmp: Path
    cwd_after: list[str]
    home_after: list[str]
    tmp_after: list[str]
    leftovers: list[str]


def user_environment(overrides: Mapping[str, str | None]) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def leftover_processes(tag: str) -> list[str]:
    """Live processes of the run (environment tagged) still there after up to SETTLE s."""
    deadline = time.monotonic() + SETTLE
    while True:
        alive = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if (
                    proc.pid != os.getpid()
                    and proc.status() != psutil.STATUS_ZOMBIE
                    and proc.environ().get(TAG_VAR) == tag
                ):
                    alive.append(proc)
        if not alive or time.monotonic() >= deadline:
            break
        psutil.wait_procs(alive, timeout=0.5)
    out = []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            out.append(f"pid {proc.pid}: {' '.join(proc.cmdline())[:200]}")
            proc.kill()
    return out


@contextlib.contextmanager
def snoop(select: tuple[str, ...]) -> Iterator[SnoopedRun]:
    """Run the harness against dumps_env.py from empty dirs; yield what it saw and left."""
    base = Path(tempfile.mkdtemp(prefix="hz-iso-", dir="/tmp" if os.path.isdir("/tmp") else None))
    try:
        cwd, home, tmp, dumps = (base / name for name in ("cwd", "home", "t", "dumps"))
        for d in (cwd, home, tmp, dumps):
            d.mkdir()
        dump = dumps / "spawns.jsonl"
        tag = secrets.token_hex(8)
        overrides: dict[str, str | None] = {
            "HOME": str(home),
            "TMPDIR": str(tmp),
            DUMP_VAR: str(dump),
            TAG_VAR: tag,
            # `python3` as a plain interpreter: a launcher such as a pyenv shim edits the
            # environment itself, which is not the harness's doing.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            # what the pytest running *this* test set for itself is not the user's either
            **dict.fromkeys(HARNESS_ONLY_VARS),
        }
        report = run_suites(
            SNOOP,
            select=select,
            env=overrides,
            extra=[f"--octa-junit-xml={cwd / 'junit.xml'}"],
            workdir=cwd,
            timeout=300,
        )
        spawns = [json.loads(line) for line in dump.read_text().splitlines()]
        yield SnoopedRun(
            report=report,
            spawns=spawns,
            user_env=user_environment(overrides),
            cwd=cwd,
            home=home,
            tmp=tmp,
            cwd_after=listing(cwd),
            home_after=listing(home),
            tmp_after=listing(tmp),
            leftovers=leftover_processes(tag),
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def run() -> Iterator[SnoopedRun]:
    with snoop(SELECT) as snooped:
        yield snooped


def failures(report: dict[str, Any]) -> dict[str, str]:
    return {
        c["id"]: c["message"][:500]
        for c in report["checks"]
        if c["outcome"] not in ("passed", "skipped")
    }


def test_the_snooping_plugin_conforms(run: SnoopedRun) -> None:
    assert not failures(run.report), failures(run.report)
    assert len(run.spawns) >= 10, "expected a plugin process per check, and more"


def test_socket_dirs_are_private_and_unpredictable(run: SnoopedRun) -> None:
    dirs = [Path(s["socket_path"]).parent for s in run.spawns]
    for spawn, parent in zip(run.spawns, dirs, strict=True):
        assert parent.parent == run.tmp, f"socket dir {parent} is not in $TMPDIR {run.tmp}"
        assert SOCKET_DIR.fullmatch(parent.name), f"socket dir name {parent.name!r}"
        assert spawn["socket_dir_mode"] == 0o700, f"{parent}: {oct(spawn['socket_dir_mode'])}"
        assert spawn["socket_dir_uid"] == os.getuid(), parent
        assert spawn["socket_dir_entries"] == [], f"{parent} was not empty at spawn"
    assert len(set(dirs)) == len(dirs), "two plugin processes shared a socket directory"
    names = [Path(s["socket_path"]).name for s in run.spawns]
    defaults = [n for n in names if DEFAULT_SOCKET.fullmatch(n)]
    assert len(defaults) >= len(names) - 2, names  # only launch.socket-path-honoured names its own
    assert len(set(defaults)) == len(defaults), "a default socket name was reused"
    harness_pid = {n.split(".")[1] for n in defaults}
    assert len(harness_pid) == 1, harness_pid
    # Unpredictable: the random parts differ everywhere (not a counter, not the pid alone).
    dir_suffixes = {d.name.removeprefix("octa-conform-") for d in dirs}
    assert len(dir_suffixes) == len(dirs)
    for parent in dirs:
        assert not parent.exists(), f"{parent} still exists after the run"


def test_plugin_environment_is_the_users_plus_the_marker(run: SnoopedRun) -> None:
    tokens = []
    for spawn in run.spawns:
        env = dict(spawn["env"])
        token = env.pop(SESSION_ENV_VAR, None)
        assert token is not None and re.fullmatch(r"[0-9a-f]{32}", token), token
        tokens.append(token)
        added = {k: v for k, v in env.items() if k not in run.user_env}
        missing = sorted(k for k in run.user_env if k not in env)
        changed = sorted(k for k in env if k in run.user_env and env[k] != run.user_env[k])
        assert not (added or missing or changed), (
            f"plugin environment differs from the user's (besides {SESSION_ENV_VAR}):"
            f" added {added}, missing {missing}, changed {changed}"
        )
    assert len(set(tokens)) == len(tokens), "the session marker must be new for every launch"


def test_run_writes_nothing_outside_its_temp_dir(run: SnoopedRun) -> None:
    assert run.cwd_after == ["junit.xml", "report.json"], run.cwd_after
    assert run.home_after == [], run.home_after
    assert run.tmp_after == [], run.tmp_after
    assert not run.leftovers, run.leftovers


@pytest.mark.slow
def test_full_run_writes_nothing_outside_its_temp_dir() -> None:
    """The whole catalogue (hypothesis checks, performance figures...) against the plugin."""
    with snoop(("*",)) as full:
        assert not failures(full.report), failures(full.report)
        assert full.cwd_after == ["junit.xml", "report.json"], full.cwd_after
        assert full.home_after == [], full.home_after
        assert full.tmp_after == [], full.tmp_after
        assert not full.leftovers, full.leftovers
        for spawn in full.spawns:
            assert set(spawn["env"]) - set(full.user_env) == {SESSION_ENV_VAR}
