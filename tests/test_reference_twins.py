"""Verdicts on plugins nobody here wrote: the reference twins in ``tests/plugins``.

``sdk_twin.py`` reproduces the official Octa 0.2.1 SDK's ``octa_plugin_shell`` (docs/protocol.md
§7), which the real Octa host works with: it must get no MUST failure, so its verdict is PASS,
and exactly four SHOULD warnings (its known quirks). ``constant_id.py`` behaves like the Octa
repository's ``plugins/test.py``: every command gets the id ``"test-execution-id"``; with no
probe configured (its key is not ``shell``) the protocol checks must still catch that, so its
verdict is FAIL.

Each twin's whole outcome table (every catalogue id) is pinned, through both front doors
(``octa-conform --json`` and ``pytest --octa-plugin``), and the two doors must agree on every
outcome and on the verdict. A new check therefore needs a decision here: the SDK twin is
expected to pass it, the constant-id twin's row must be written down.

The small wire tests at the end pin the twins' own behaviour (the quirks the tables rest on),
so that a twin cannot drift away from what it stands for without a test saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conformance_run import ROOT, outcomes, run_suites

from octa_conformance.catalogue import CHECKS, Level

SDK_TWIN = ROOT / "tests" / "plugins" / "sdk_twin.py"
CONSTANT_ID = ROOT / "tests" / "plugins" / "constant_id.py"

P, F, S = "passed", "failed", "skipped"

# The SDK's four known quirks, all SHOULD: the newline-less protocol_error after the handshake,
# SIGTERM not handled, invalid UTF-8 ending the session, Error (not Shutdown) before the
# handshake is complete. Everything else passes.
SDK_FAILS = {
    "handshake.repeated-hello-refused",
    "cancellation.sigterm",
    "robustness.fuzz-lines",
    "shutdown.in-any-stage",
}
SDK_TABLE = {check_id: F if check_id in SDK_FAILS else P for check_id in CHECKS}

# plugins/test.py, no probe configured. A skip names a missing probe unless said otherwise.
CONSTANT_ID_TABLE = {
    "launch.listens": P,
    "launch.socket-path-honoured": P,
    "launch.quiet-before-hello": P,
    "launch.unknown-flag": P,  # it ignores every argument but --socket-path
    "launch.startup-time": P,
    "handshake.hello-reply": P,
    "handshake.requirement-parses": P,
    "handshake.requirement-matches-target": P,  # "0.2.0" means ^0.2.0, which holds 0.2.1
    "handshake.schema-reply": P,
    "handshake.key-usable": P,  # "key" is a plain identifier, not a built-in attribute
    "handshake.execute-before-hello-refused": S,  # touch
    "handshake.execute-before-schema-refused": S,  # touch
    "handshake.repeated-hello-refused": F,  # deserved: a second Hello gets a second Hello
    "handshake.features-tolerated": P,
    "version.incompatible-host-rejected": P,  # answers Shutdown; killed after 1 s: allowed
    "version.compatible-host-accepted": P,
    "version.no-wildcard": P,
    "version.matrix": P,
    "version.dialect": P,
    "execute.started-first": P,
    "execute.one-terminal-frame": P,
    "execute.nothing-after-terminal": P,  # one command per session here: reuse is judged below
    "execute.stdout-delivered": S,  # echo
    "execute.stderr-delivered": S,  # stderr
    "execute.exit-code": S,  # fail
    "execute.output-order": S,  # lines
    "execute.unicode-roundtrip": S,  # echo
    # Deserved: a host line over 64 KiB (asyncio's default readline limit) ends the
    # connection; real Octa has no line limit and would lose the plugin mid-task.
    "execute.large-frame": F,
    "execute.long-params": P,
    "execute.dry-run": S,  # touch
    "execute.dir-honoured": S,  # pwd
    "execute.envs-honoured": S,  # env
    "execute.frames-well-formed": P,
    "concurrency.distinct-ids": F,  # deserved: the defect this twin stands for
    "concurrency.started-in-order": S,  # echo
    "concurrency.output-attributed": S,  # echo
    "concurrency.not-serialised": S,  # sleep
    "concurrency.ids-unique-session": F,  # deserved: the same id for every command
    "cancellation.shutdown-cancels-running": S,  # sleep
    "cancellation.no-orphans": S,  # sleep
    "cancellation.sigint": S,  # sleep
    "cancellation.sigterm": S,  # sleep
    "cancellation.eof": S,  # sleep
    "cancellation.abandoned-command": S,  # echo
    "cancellation.exit-code": S,  # sleep
    "shutdown.acknowledged": P,
    "shutdown.in-any-stage": F,  # deserved: acknowledged, but the process never exits
    "shutdown.nothing-after": P,
    "shutdown.process-exits": F,  # deserved: it never exits (Octa kills it after 1 s)
    "shutdown.exit-status": S,  # it did not exit, so this cannot be judged
    "shutdown.socket-removed": S,  # it did not exit, so this cannot be judged
    "shutdown.after-work": P,
    "robustness.malformed-json": F,  # deserved: silence, no Error
    "robustness.unknown-command": F,  # deserved: silence, no Error
    "robustness.missing-fields": F,  # deserved: Started for an Execute without dir/envs
    "robustness.fuzz-execute": F,  # deserved: a 64 KiB vars value ends the connection
    "robustness.fuzz-lines": F,  # deserved: invalid UTF-8 ends the connection
    "robustness.second-connection": P,
    "performance.handshake-latency": P,
    "performance.execute-latency": P,
    "performance.throughput": P,
    "performance.memory-growth": P,
}

TWINS = {
    # twin: (plugin, table, verdict, exit status of both doors, what its Hello/Schema said)
    "sdk": (SDK_TWIN, SDK_TABLE, "pass", 0, ("shell", "0.2.1", "0.2.1")),
    "constant-id": (CONSTANT_ID, CONSTANT_ID_TABLE, "fail", 1, ("key", "0.2.0", "0.2.1")),
}


def cli_report(plugin: Path) -> dict[str, Any]:
    """``python -m octa_conformance PLUGIN --json R`` in a temp dir: the report + exit status."""
    with tempfile.TemporaryDirectory(prefix="octa-twin-") as tmp:
        out = Path(tmp) / "r.json"
        proc = subprocess.run(
            [sys.executable, "-m", "octa_conformance", str(plugin), "--json", str(out)],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        assert out.exists(), proc.stdout[-4000:] + proc.stderr[-4000:]
        data = json.loads(out.read_text())
        data["_exit"] = proc.returncode
        data["_output"] = (proc.stdout + proc.stderr)[-20000:]
        return data


def table_problems(report: dict[str, Any], table: dict[str, str], door: str) -> list[str]:
    """One line per check whose outcome differs from the pinned table, with its message."""
    got = outcomes(report)
    messages = {c["id"]: c.get("message", "") for c in report["checks"]}
    problems = []
    for check_id in sorted(set(table) | set(got)):
        want, have = table.get(check_id, "(not pinned)"), got.get(check_id, "(not run)")
        if want != have:
            first = messages.get(check_id, "").strip().splitlines()[:3]
            problems.append(f"{door}: {check_id}: expected {want}, got {have}: {' / '.join(first)}")
    return problems


def test_tables_cover_the_catalogue() -> None:
    assert set(CONSTANT_ID_TABLE) == set(CHECKS)
    assert SDK_FAILS.issubset(CHECKS)
    assert all(CHECKS[c].level is Level.SHOULD for c in SDK_FAILS)  # no MUST failure


@pytest.mark.slow
@pytest.mark.parametrize("twin", sorted(TWINS))
def test_twin_outcome_table(twin: str) -> None:
    """The whole table, the verdict and the exit status, the same through both front doors."""
    plugin, table, verdict, exit_status, (key, requirement, dialect) = TWINS[twin]
    cli = cli_report(plugin)
    door = run_suites(plugin)
    problems = table_problems(cli, table, "CLI") + table_problems(door, table, "pytest")
    assert not problems, "\n".join(problems) + f"\n\nCLI output:\n{cli['_output'][-6000:]}"
    assert outcomes(cli) == outcomes(door)
    for report in (cli, door):
        assert report["verdict"] == verdict, report["_output"][-4000:]
        assert report["_exit"] == exit_status, report["_output"][-4000:]
        plugin_info = report["plugin"]
        assert (plugin_info["key"], plugin_info["requirement"], plugin_info["dialect"]) == (
            key,
            requirement,
            dialect,
        )
    must_failed = [
        c["id"] for c in cli["checks"] if c["level"] == "MUST" and c["outcome"] != "passed"
    ]
    if twin == "sdk":
        assert not must_failed  # the real host works with the SDK: no MUST may fail it
    else:
        assert "concurrency.distinct-ids" in must_failed


# --------------------------------------------------------------------------- the twins themselves


class Wire:
    """A bounded line-by-line client of one plugin connection."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        # the socket file exists from bind() on, but connect() is refused until listen():
        # retry like Octa does (every 5 ms here), up to the timeout
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(path)
                break
            except ConnectionRefusedError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        self.buf = b""

    def send(self, obj: Any) -> None:
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.sock.sendall(data + b"\n")

    def line(self) -> bytes:
        """The next ``\\n``-terminated line; ``b""`` at EOF (socket.timeout if none comes)."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buf = self.buf, b""
                return rest
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def frame(self) -> dict[str, Any]:
        return json.loads(self.line())

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def started(plugin: Path, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The plugin listening on a fresh socket path; killed (if still alive) afterwards."""
    with tempfile.TemporaryDirectory(prefix="twin-") as tmp:
        path = os.path.join(tmp, "p.sock")
        proc = subprocess.Popen(
            [sys.executable, str(plugin), "--socket-path", path, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(path):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
                assert time.monotonic() < deadline, "the twin did not listen within 10 s"
                time.sleep(0.005)
            yield proc, path
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            if proc.stderr:
                proc.stderr.close()


HELLO = {"type": "Hello", "payload": {"version": "0.2.1", "features": []}}
SCHEMA = {"type": "Schema"}


def execute(params: str, **extra: Any) -> dict[str, Any]:
    payload = {"params": params, "args": [], "dir": "/", "envs": {}, "vars": {}, "dry": False}
    return {"type": "Execute", "payload": {**payload, **extra}}


def test_sdk_twin_command_line_is_claps() -> None:
    """``--log-dir`` is accepted; an unknown flag or a missing ``--socket-path`` is exit 2."""
    for argv in (["--socket-path", "/nonexistent/x.sock", "--bogus"], []):
        proc = subprocess.run(
            [sys.executable, str(SDK_TWIN), *argv], capture_output=True, text=True, timeout=30
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: "), proc.stderr


def test_sdk_twin_quirks_on_the_wire() -> None:
    """Stages that advance, the newline-less protocol_error, Shutdown after the commands."""
    with tempfile.TemporaryDirectory(prefix="twin-log-") as log_dir:
        with started(SDK_TWIN, "--log-dir", log_dir) as (proc, path):
            first = Wire(path)  # Shutdown as the first command: refused, the stage advances
            first.send({"type": "Shutdown"})
            assert first.frame()["payload"] == {
                "id": "protocol_error",
                "message": "Expected Hello command",
            }
            first.send(b"not json")
            assert first.frame()["payload"]["id"] == "parse_error"  # the Schema stage
            first.send(execute("printf 'a\\nb'"))  # now the execute stage, no handshake
            started_id = first.frame()["payload"]["id"]
            assert [first.frame()["payload"] for _ in range(3)] == [
                {"id": started_id, "line": "a\n"},
                {"id": started_id, "line": "b"},
                {"id": started_id, "code": 0},
            ]
            first.send(HELLO)
            first.send(execute("", dry=True))
            glued = first.line()  # the Error runs into the next frame
            assert glued.startswith(b'{"type":"Error","payload":{"id":"protocol_error"')
            assert b"Unexpected Hello command" in glued and b'"Started"' in glued
            assert first.frame()["type"] == "ExitStatus"

            second = Wire(path)  # another connection, its own handshake
            second.send(HELLO)
            assert second.frame()["payload"] == {"version": "0.2.1", "features": []}
            second.send(SCHEMA)
            assert second.frame()["payload"] == {"key": "shell"}
            second.send(execute("x" * (200 * 1024)))  # over the exec limit
            big_id = second.frame()["payload"]["id"]
            assert second.frame()["payload"] == {
                "id": big_id,
                "message": "Command execution error: Argument list too long (os error 7)",
            }
            second.send(b"\xff\n")  # invalid UTF-8 ends this session with a Shutdown
            assert second.frame() == {
                "type": "Shutdown",
                "payload": {"message": "Plugin shutting down"},
            }
            assert second.line() == b""

            first.send({"type": "Shutdown"})
            assert first.frame()["type"] == "Shutdown"
            assert proc.wait(10) == 0
            assert not os.path.exists(path)
        assert (Path(log_dir) / "sdk_twin.log").read_text().startswith("[")


def test_constant_id_twin_on_the_wire() -> None:
    """The same id for every command, no stages, and no exit after Shutdown."""
    with started(CONSTANT_ID, "--some-future-flag") as (proc, path):
        wire = Wire(path)
        for _ in range(2):
            wire.send(execute("anything"))  # before Hello, too
            assert [wire.frame()["payload"].get("id") for _ in range(3)] == [
                "test-execution-id"
            ] * 3
        wire.send(HELLO)
        assert wire.frame()["payload"] == {"version": "0.2.0", "features": []}
        wire.send(SCHEMA)
        assert wire.frame()["payload"] == {"key": "key"}
        wire.send({"type": "Shutdown"})
        assert wire.frame() == {"type": "Shutdown", "payload": {"message": "Shutting down"}}
        assert wire.line() == b""
        assert proc.poll() is None  # still listening: a new connection is served
        again = Wire(path)
        again.send(SCHEMA)
        assert again.frame()["payload"] == {"key": "key"}
