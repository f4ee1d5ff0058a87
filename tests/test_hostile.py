"""Never hang, never leak: full conformance runs against hostile plugins (tests/hostile/).

Each hostile plugin misbehaves in one nasty way: it never listens, never answers, floods the
host or its own pipes, crashes, ignores signals, leaves a grandchild behind... For each, the
harness runs a subset of the checks that covers the misbehaviour, and this test asserts that
the run

* ends, without any harness error (a check ``error``): ``RUN_BOUND`` is a generous bound
  that only catches a hung run, not a timing assertion,
* reports the right checks as failed, with words that say why,
* leaves no process behind (neither the plugin's nor the zoo's own helpers),
* leaves no temp dir or socket behind,
* keeps the harness's own memory (peak RSS) under ``RSS_BOUND``.

The runs use a private ``TMPDIR`` (the harness puts its sockets and scratch dirs there) and
tag their environment with a random ``OCTA_HOSTILE_TAG``, which every process of the run
inherits, so that leftovers are found even while other test runs share the machine.

Where the runs go: the quick cases run ``octa-conform`` in this process (``cli.main``, as
tests/test_cli.py does), with no interpreter to start; nothing they judge needs a process of
its own. The plugins are still separate processes (their crashes, floods, closed sockets and
leftovers are real), and the harness's exit status, its report, the processes and files it
leaves and its memory are all still judged (the memory as the peak of this whole process
during the run, an upper bound of the harness's own). The slow cases run ``python -m pytest
--octa-plugin`` in a fresh interpreter (``fresh_process``), as a user would: they are the
floods and the full catalogue, where the harness's own peak memory is the point and is
measured apart from the test process, and the runs whose hang guard may have to SIGTERM,
then SIGKILL the harness (a run in this process can only be interrupted); outside the inner
loop, the interpreter start costs nothing, and they keep the pytest front door covered.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from conformance_run import run_suites, run_suites_here

HOSTILE = Path(__file__).resolve().parent / "hostile"
HOSTILE_BASE = "hostile_base.py"  # the pieces the hostile scripts share, not a plugin
RUN_BOUND = 120.0  # s; catches a hung run only (a run takes ~5-15 s): no timing assertion
RSS_BOUND = 300 * 1024 * 1024  # the harness's peak resident memory
TAG_VAR = "OCTA_HOSTILE_TAG"
SETTLE = 5.0  # seconds allowed for killed processes to vanish from the process table
LAUNCH = ["launch.*", "handshake.hello-reply"]
FAILING = ("failed",)


@dataclass(frozen=True)
class Hostile:
    """One hostile plugin and what a run against it must report."""

    script: str
    select: tuple[str, ...]
    fails: dict[str, tuple[str, ...]]  # check id -> words its message must contain
    passes: frozenset[str] = frozenset()  # checks that must still pass
    somewhere: tuple[str, ...] = ()  # words at least one failure message must contain
    timeout_scale: float | None = None  # stretch/shrink the harness's timeouts
    slow: bool = False
    extra: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return self.script.removesuffix(".py")

    @property
    def fresh_process(self) -> bool:
        """Run the harness as ``python -m pytest`` in a new interpreter (see the docstring)."""
        return self.slow


# Checks a plugin that never gets as far as a connection fails; the messages name the cause.
NO_CONNECTION = ("launch.listens", "launch.socket-path-honoured", "launch.quiet-before-hello")

ZOO = [
    Hostile(
        "never_listens.py",
        (*LAUNCH,),
        {
            **{cid: ("did not accept a connection",) for cid in NO_CONNECTION},
            "launch.unknown-flag": ("did not accept a connection",),
            "handshake.hello-reply": ("did not accept a connection",),
        },
        somewhere=("never_listens: up",),  # the plugin's stderr is quoted
        timeout_scale=0.2,  # the connect deadline is all it costs: 1 s instead of 5 s
    ),
    Hostile(
        "binds_no_listen.py",
        (*LAUNCH,),
        {
            **{cid: ("did not accept a connection",) for cid in NO_CONNECTION},
            "handshake.hello-reply": ("did not accept a connection",),
        },
        somewhere=("connection refused", "binds_no_listen: bound"),
        timeout_scale=0.2,
    ),
    Hostile(
        "listens_never_accepts.py",
        (*LAUNCH,),
        {"launch.unknown-flag": ("no reply to hello",), "handshake.hello-reply": ("no reply",)},
        passes=frozenset({"launch.listens"}),  # the kernel completes connect() by itself
        timeout_scale=0.5,  # the Hello reply deadline is all it costs
        slow=True,  # that deadline once per launch check: ~15 s
    ),
    Hostile(
        "accepts_then_closes.py",
        (*LAUNCH,),
        {"launch.unknown-flag": (), "handshake.hello-reply": ("closed the connection",)},
        passes=frozenset({"launch.listens"}),
    ),
    Hostile(
        "exits_mid_handshake.py",
        (*LAUNCH,),
        {
            "launch.unknown-flag": ("malformed", "unterminated"),
            "handshake.hello-reply": ("unterminated", "middle of a frame"),
        },
        passes=frozenset({"launch.listens"}),
    ),
    Hostile(
        "huge_line.py",
        (*LAUNCH,),
        {
            "launch.unknown-flag": ("frame-too-long", "exceeds the harness limit"),
            "handshake.hello-reply": ("frame-too-long", "no newline"),
        },
        passes=frozenset({"launch.listens", "launch.quiet-before-hello"}),
    ),
    Hostile(
        "invalid_utf8.py",
        (*LAUNCH,),
        {
            "launch.unknown-flag": ("not valid utf-8",),
            "handshake.hello-reply": ("not valid utf-8",),
        },
        passes=frozenset({"launch.listens"}),
    ),
    Hostile(
        "frame_flood.py",
        (*LAUNCH, "execute.stdout-delivered"),
        {"execute.stdout-delivered": ("flood 0", "exitstatus")},
        passes=frozenset({"launch.listens", "handshake.hello-reply"}),
        # The host parses the first 50,000 lines of each flood and skims the rest
        # (connection.py), which still means reading ~60 MB per flooded command: ~8 s a run.
        slow=True,
    ),
    Hostile(
        "stray_flood.py",
        (*LAUNCH, "execute.nothing-after-terminal"),
        {"execute.nothing-after-terminal": ("stray-flood", "no started")},
        passes=frozenset({"launch.listens", "handshake.hello-reply"}),
        slow=True,  # as for frame_flood: ~7 s a run
    ),
    Hostile(
        "string_exit_code.py",
        (),  # the whole catalogue: every check that runs a command is judged at once
        {
            cid: ("exitstatus.code must be", "octa drops this frame", "would never finish")
            for cid in (
                "version.compatible-host-accepted",
                "execute.exit-code",
                "execute.stdout-delivered",
                "execute.frames-well-formed",
                "concurrency.distinct-ids",
                "shutdown.after-work",
            )
        },
        passes=frozenset({"launch.listens", "handshake.hello-reply", "shutdown.acknowledged"}),
        slow=True,  # a full run (it took over 10 minutes when each check waited its bound)
    ),
    Hostile(
        "stdio_flood.py",
        (*LAUNCH, "execute.stdout-delivered"),
        {},  # Octa drains the pipes too: the noise is not a protocol failure
        passes=frozenset({"launch.listens", "handshake.hello-reply", "execute.stdout-delivered"}),
    ),
    Hostile(
        "ignores_sigterm.py",
        (*LAUNCH, "cancellation.sigterm", "shutdown.process-exits"),
        {"cancellation.sigterm": ("sigterm",)},
        passes=frozenset({"launch.listens", "handshake.hello-reply", "shutdown.process-exits"}),
        slow=True,  # every stop waits the SIGTERM grace before SIGKILL
    ),
    Hostile(
        "setsid_grandchild.py",
        (*LAUNCH, "cancellation.no-orphans", "shutdown.acknowledged"),
        {"cancellation.no-orphans": ("still alive", "pid ")},
        passes=frozenset({"launch.listens", "handshake.hello-reply", "shutdown.acknowledged"}),
        # ~4 s a run (the escapee gets SIGKILL once the plugin is gone, no grace of its
        # own); test_supervisor's escapee test covers that in the inner loop
        slow=True,
    ),
    Hostile(
        "no_shutdown_reply.py",
        (*LAUNCH, "shutdown.acknowledged", "shutdown.process-exits"),
        {
            "shutdown.acknowledged": ("no reply to shutdown",),
            "shutdown.process-exits": ("still running",),
        },
        passes=frozenset({"launch.listens", "handshake.hello-reply"}),
        timeout_scale=0.5,  # the Shutdown reply deadline is all it costs
        slow=True,  # the reply and exit deadlines run out in several checks: ~15 s
    ),
    Hostile(
        "foreign_ids.py",
        (*LAUNCH, "execute.nothing-after-terminal", "execute.stdout-delivered"),
        {"execute.nothing-after-terminal": ("stray-", "no started")},
        passes=frozenset(
            {"launch.listens", "handshake.hello-reply", "execute.stdout-delivered"}
        ),  # Octa 0.2.1 silently drops frames with other ids
    ),
    Hostile(
        "aborts_mid_command.py",
        (*LAUNCH, "execute.started-first", "execute.stdout-delivered"),
        {
            "execute.stdout-delivered": ("closed the connection",),
            "execute.started-first": ("closed the connection",),
        },
        somewhere=("killed by sigabrt",),  # the host says the plugin crashed
        passes=frozenset({"launch.listens", "handshake.hello-reply"}),
    ),
]


# --- what a run leaves behind ---------------------------------------------------------


def tagged(tag: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose environment carries ``tag``."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get(TAG_VAR) == tag:
                found.append(proc)
    return found


def leftover_processes(tag: str) -> list[str]:
    """Tagged processes still alive after up to SETTLE s (SIGKILLed ones need a moment)."""
    deadline = time.monotonic() + SETTLE
    while True:
        alive = tagged(tag)
        if not alive or time.monotonic() >= deadline:
            break
        psutil.wait_procs(alive, timeout=min(0.5, max(0.0, deadline - time.monotonic())))
    described = []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            described.append(f"pid {proc.pid}: {' '.join(proc.cmdline())[:200]}")
            proc.kill()  # do not leak into the next test
    return described


def octa_dirs(base: Path) -> set[Path]:
    return set(base.glob("octa-conform-*"))


def owned_by_run(path: Path, harness_pid: int) -> bool:
    """A leftover dir in the shared /tmp that names the harness run (its default socket)."""
    with contextlib.suppress(OSError):
        return any(p.name.startswith(f"octa.{harness_pid}.") for p in path.iterdir())
    return False


def sockets_under(base: Path) -> list[Path]:
    return [p for p in base.rglob("*") if p.is_socket()]


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A short private TMPDIR for the harness run (socket paths must stay short)."""
    path = Path(tempfile.mkdtemp(prefix="hz-", dir="/tmp" if os.path.isdir("/tmp") else None))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_against(
    hostile: Hostile, private_tmp: Path
) -> tuple[dict[str, Any], list[str], list[str], float]:
    """Run the harness against ``hostile``; return (report, leftovers, stray files, secs)."""
    tag = secrets.token_hex(8)
    shared_tmp = Path("/tmp")
    before = octa_dirs(shared_tmp)
    extra = list(hostile.extra)
    # The pytest front door and octa-conform spell the option differently.
    scale = "--octa-timeout-scale" if hostile.fresh_process else "--timeout-scale"
    if hostile.timeout_scale is not None:
        extra.append(f"{scale}={hostile.timeout_scale}")
    run = run_suites if hostile.fresh_process else run_suites_here
    started = time.monotonic()
    report = run(
        HOSTILE / hostile.script,
        select=hostile.select,
        env={TAG_VAR: tag, "TMPDIR": str(private_tmp)},
        extra=extra,
        timeout=RUN_BOUND + 30,  # beyond the bound: the assertion below says by how much
        measure=True,
    )
    elapsed = time.monotonic() - started
    leftovers = leftover_processes(tag)
    stray = [str(p) for p in sorted(private_tmp.rglob("*"))]
    stray += [
        str(p)
        for p in sorted(octa_dirs(shared_tmp) - before)
        if owned_by_run(p, report["_harness_pid"])
    ]
    return report, leftovers, stray, elapsed


def messages(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: (c["message"] or "") for c in report["checks"]}


def summary(report: dict[str, Any]) -> str:
    lines = [f"{c['id']}: {c['outcome']} {c['message'][:300]!r}" for c in report["checks"]]
    return "\n".join(lines) + "\n" + report["_output"][-3000:]


@pytest.mark.parametrize(
    "hostile",
    [pytest.param(h, id=h.id, marks=[pytest.mark.slow] if h.slow else []) for h in ZOO],
)
def test_hostile_plugin(hostile: Hostile, private_tmp: Path) -> None:
    assert (HOSTILE / hostile.script).stat().st_mode & 0o111, f"{hostile.script} not executable"
    report, leftovers, stray, elapsed = run_against(hostile, private_tmp)
    outcomes = {c["id"]: c["outcome"] for c in report["checks"]}
    texts = messages(report)

    assert elapsed < RUN_BOUND, f"the run hung: {elapsed:.1f} s\n{summary(report)}"
    errors = {cid: texts[cid][:2000] for cid, o in outcomes.items() if o == "error"}
    assert not errors, f"harness errors (the harness, not the plugin, broke): {errors}"
    for cid, words in hostile.fails.items():
        assert outcomes.get(cid) in FAILING, (
            f"{cid} should fail against {hostile.script}\n{summary(report)}"
        )
        for word in words:
            assert word in texts[cid].lower(), (
                f"{cid}: the message should say {word!r}:\n{texts[cid]}"
            )
    failing = " ".join(texts[cid].lower() for cid, o in outcomes.items() if o in FAILING)
    for word in hostile.somewhere:
        assert word in failing, f"no failure message says {word!r}\n{summary(report)}"
    for cid in hostile.passes:
        assert outcomes.get(cid) == "passed", f"{cid} should pass\n{summary(report)}"
    # 0 or 1 (some checks failed). Otherwise the harness gave up: from pytest 2-4 (an
    # interrupted run, an internal or a usage error), from octa-conform 2 (usage), 3 (the
    # harness failed), 4 (incomplete: a check did not run) or 130 (interrupted).
    assert report["_exit"] in (0, 1), f"harness exit status {report['_exit']}\n{summary(report)}"
    assert not leftovers, f"processes left running after the run: {leftovers}"
    assert not stray, f"temp dirs, files or sockets left behind: {stray}"
    assert report["_peak_rss"] < RSS_BOUND, (
        f"harness peak RSS {report['_peak_rss'] / 2**20:.0f} MB over {RSS_BOUND / 2**20:.0f} MB"
    )
    print(  # shown with -s / -rP: how long and how big each run was
        f"{hostile.id}: {elapsed:.1f} s, peak RSS {report['_peak_rss'] / 2**20:.0f} MB,"
        f" failed {sorted(c for c, o in outcomes.items() if o == 'failed')}",
        file=sys.stderr,
    )


def test_zoo_is_complete_and_executable() -> None:
    """Every script in tests/hostile/ is exercised here (or by the isolation tests)."""
    scripts = {p.name for p in HOSTILE.glob("*.py")} - {HOSTILE_BASE}
    covered = {h.script for h in ZOO} | {"dumps_env.py"}
    assert scripts == covered, f"untested: {scripts - covered}, missing: {covered - scripts}"
    for name in scripts:
        path = HOSTILE / name
        assert path.read_text().startswith("#!/usr/bin/env python3\n"), name
        assert os.access(path, os.X_OK), f"{name} is not executable"
        assert re.fullmatch(r"[a-z0-9_]+\.py", name), name
