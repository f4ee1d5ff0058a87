"""The check catalogue: every check id, its level, section and purpose.

The ids are a public interface: reports, baselines, ``--select``/``--skip`` and JUnit
names use them. Add checks freely; never rename or reuse an id.
"""

from __future__ import annotations

import enum
import fnmatch
from dataclasses import dataclass


class CatalogueError(Exception):
    """A check declaration that cannot go into the catalogue."""


class Level(str, enum.Enum):
    """MUST fails the verdict; SHOULD warns (fails with ``--strict``); INFO never fails."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    INFO = "INFO"


@dataclass(frozen=True)
class CheckSpec:
    """One catalogue entry."""

    id: str
    level: Level
    section: str
    description: str
    probes: tuple[str, ...] = ()

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]


def _spec(id: str, level: str, section: str, description: str, probes: str = "") -> CheckSpec:
    return CheckSpec(id, Level(level), section, description, tuple(probes.split()))


CHECKS: dict[str, CheckSpec] = {
    s.id: s
    for s in (
        _spec(
            "launch.listens",
            "MUST",
            "1",
            "started as `<plugin> --socket-path P`, the plugin accepts a connection on P within 5 s",
        ),
        _spec(
            "launch.socket-path-honoured",
            "MUST",
            "1",
            "it listens on exactly the path given (tried with two different paths, one containing spaces), not a fixed or derived one",
        ),
        _spec(
            "launch.quiet-before-hello",
            "MUST",
            "4.1",
            "after the connection opens, the plugin sends nothing until it has received `Hello`",
        ),
        _spec(
            "launch.unknown-flag",
            "SHOULD",
            "1",
            "started with an extra `--log-dir DIR`, it still listens (future Octa versions may pass more flags)",
        ),
        _spec(
            "launch.startup-time",
            "INFO",
            "1",
            "time from spawn to accepting, median of 3",
        ),
        _spec(
            "handshake.hello-reply",
            "MUST",
            "3, 4.1",
            "`Hello` is answered with a well-formed `Hello` response of the target dialect (`version` string, `features` array of strings)",
        ),
        _spec(
            "handshake.requirement-parses",
            "MUST",
            "5",
            "`Hello.version` parses as a Cargo semver requirement (Octa 0.2.1 panics on one that does not)",
        ),
        _spec(
            "handshake.requirement-matches-target",
            "MUST",
            "5",
            "the requirement matches the target Octa version (default `0.2.1`, option `--octa-version`)",
        ),
        _spec(
            "handshake.schema-reply",
            "MUST",
            "3, 4.1",
            "`Schema` is answered with `Schema{key}`, `key` a non-empty string",
        ),
        _spec(
            "handshake.key-usable",
            "SHOULD",
            "4.1",
            "the key is a plain identifier (`[A-Za-z_][A-Za-z0-9_-]*`) and not one of the built-in task attributes",
        ),
        _spec(
            "handshake.execute-before-hello-refused",
            "SHOULD",
            "4.1",
            "an `Execute` sent first is answered with an `Error` frame and is **not** executed (side-effect probe: no file appears)",
            "touch",
        ),
        _spec(
            "handshake.execute-before-schema-refused",
            "SHOULD",
            "4.1",
            "after `Hello`, an `Execute` instead of `Schema` gets an `Error` and is not executed",
            "touch",
        ),
        _spec(
            "handshake.repeated-hello-refused",
            "SHOULD",
            "4.2",
            "a second `Hello` after the handshake gets a newline-terminated `Error` frame, and the session still works afterwards",
        ),
        _spec(
            "handshake.features-tolerated",
            "SHOULD",
            "3",
            "a host `Hello` with unknown strings in `features` and unknown extra fields is still accepted",
        ),
        _spec(
            "version.incompatible-host-rejected",
            "MUST",
            "4.1, 5, 7",
            "the harness offers host versions outside the plugin's requirement (derived from it: just below, just above, next major); for each, the fake host rejects the plugin exactly as Octa does (its `Shutdown` right after the plugin's `Hello`), no `Execute` is possible, and the plugin process ends, by itself or killed by the host after Octa's 1 s, leaving no process of its tree and without crashing on the unfamiliar version. **Answering that `Shutdown` with an `Error` passes this check** (the SDK does; §7): it is judged by `shutdown.in-any-stage`",
        ),
        _spec(
            "version.compatible-host-accepted",
            "MUST",
            "5",
            "versions inside the requirement (lowest matching, target) are accepted",
        ),
        _spec(
            "version.no-wildcard",
            "SHOULD",
            "5",
            "the requirement is not `*` or unbounded above (it would claim compatibility with every future Octa major)",
        ),
        _spec(
            "version.matrix",
            "INFO",
            "5",
            "the verdict for each Octa version in a published list (0.1.0, 0.2.0, 0.2.1, 0.3.0, 1.0.0 and the target)",
        ),
        _spec(
            "version.dialect",
            "INFO",
            "3",
            "which dialect the plugin's responses use (`0.2.0` internally tagged, `0.2.1` adjacently tagged); a mismatch with the target dialect fails `handshake.hello-reply`",
        ),
        _spec(
            "execute.started-first",
            "MUST",
            "4.2",
            "every `Execute` is answered first by `Started{id}`, `id` a non-empty string",
        ),
        _spec(
            "execute.one-terminal-frame",
            "MUST",
            "4.2",
            "every started id gets exactly one terminal frame (`ExitStatus` or `Error`)",
        ),
        _spec(
            "execute.nothing-after-terminal",
            "MUST",
            "4.2",
            "no frame for an id after its terminal frame; no frame ever for an id that was never started",
        ),
        _spec(
            "execute.stdout-delivered",
            "MUST",
            "4.2",
            "probe `echo`: the text arrives in `Stdout` frames of that id, and `ExitStatus` is 0",
            "echo",
        ),
        _spec(
            "execute.stderr-delivered",
            "SHOULD",
            "4.2",
            "probe `stderr`: the text arrives in `Stderr` frames",
            "stderr",
        ),
        _spec(
            "execute.exit-code",
            "MUST",
            "4.2",
            "probe `fail`: `ExitStatus.code` equals the requested non-zero code (tried with 1 and 3)",
            "fail",
        ),
        _spec(
            "execute.output-order",
            "MUST",
            "4.2",
            "probe `lines`: 2,000 numbered lines arrive complete and in order",
            "lines",
        ),
        _spec(
            "execute.unicode-roundtrip",
            "MUST",
            "2",
            "probe `echo` with non-ASCII text, quotes, backslashes and a tab: the text comes back unchanged",
            "echo",
        ),
        _spec(
            "execute.large-frame",
            "MUST",
            "2",
            "framing of big frames both ways: a 256 KiB `Execute` frame (the bulk in a `vars` value no command looks at) is parsed, i.e. answered by `Started` and one terminal frame, never by `parse_error`/`protocol_error`, and the session goes on; and probe `echo` with a 96 KiB text (under Linux's 128 KiB limit for one exec argument) arrives intact",
            "echo",
        ),
        _spec(
            "execute.long-params",
            "INFO",
            "2, 7",
            'whether a command whose `params` is over 128 KiB runs, or is answered with an `Error` (as the SDK\'s `sh -c` does: "Argument list too long")',
        ),
        _spec(
            "execute.dry-run",
            "SHOULD",
            "4.2",
            "probe `touch` with `dry: true`: `Started` and `ExitStatus{code:0}` arrive and the file is not created; the same without `dry` creates it",
            "touch",
        ),
        _spec(
            "execute.dir-honoured",
            "SHOULD",
            "3",
            "probe `pwd`: output equals the `dir` sent (a fresh temp dir)",
            "pwd",
        ),
        _spec(
            "execute.envs-honoured",
            "SHOULD",
            "3",
            "probe `env`: a variable passed only in `envs` is visible to the command",
            "env",
        ),
        _spec(
            "execute.frames-well-formed",
            "MUST",
            "2",
            "every frame the plugin sent during the suite was one UTF-8 JSON object on one `\\n`-terminated line, of a known type, with the required fields and types",
        ),
        _spec(
            "concurrency.distinct-ids",
            "MUST",
            "4.2",
            "64 `Execute`s written back to back on one connection get 64 distinct ids",
        ),
        _spec(
            "concurrency.started-in-order",
            "MUST",
            "4.2",
            "probe `echo` with a distinct marker per command: the k-th `Started` answers the k-th `Execute` (its id's output carries the k-th marker)",
            "echo",
        ),
        _spec(
            "concurrency.output-attributed",
            "MUST",
            "4.2",
            "with 16 commands printing 200 marked lines each, interleaved: every line arrives under the id of the command that printed it, none lost",
            "echo",
        ),
        _spec(
            "concurrency.not-serialised",
            "SHOULD",
            "4.2",
            "probe `sleep` (2 s) then probe `echo`: the echo finishes before the sleep (commands run concurrently)",
            "echo sleep",
        ),
        _spec(
            "concurrency.ids-unique-session",
            "MUST",
            "4.2",
            "property test (hypothesis): across a session of many sequential and overlapping commands, no id is ever reused",
        ),
        _spec(
            "cancellation.shutdown-cancels-running",
            "MUST",
            "4.3, 4.4",
            "probe `sleep` (30 s) in flight, then `Shutdown`: every running id gets a terminal frame, then `Shutdown` arrives, all within 5 s",
            "sleep",
        ),
        _spec(
            "cancellation.no-orphans",
            "MUST",
            "4.3",
            "after that, no process started for the command is still alive (the harness watches the plugin's process tree, including processes that left its process group)",
            "sleep",
        ),
        _spec(
            "cancellation.sigint",
            "SHOULD",
            "4.3",
            "SIGINT to the plugin with a command in flight: the command gets a terminal frame and the process exits within 2 s",
            "sleep",
        ),
        _spec(
            "cancellation.sigterm",
            "SHOULD",
            "4.3",
            "the same with SIGTERM",
            "sleep",
        ),
        _spec(
            "cancellation.eof",
            "SHOULD",
            "4.3",
            "the host closes the connection with a command in flight: the plugin does not crash, leaves no orphan once it is shut down, and (if it keeps listening) a new connection can handshake again",
            "sleep",
        ),
        _spec(
            "cancellation.abandoned-command",
            "MUST",
            "4.3",
            "the host stops reading one command's output (as Octa does on its own Ctrl-C) while another runs: the other command still completes normally",
            "echo sleep",
        ),
        _spec(
            "cancellation.exit-code",
            "SHOULD",
            "4.3",
            "a command cancelled by `Shutdown` reports a non-zero code (the SDK uses -1) or an `Error`",
            "sleep",
        ),
        _spec(
            "shutdown.acknowledged",
            "MUST",
            "4.4",
            "`Shutdown` on an idle session is answered by `Shutdown{message}` within 5 s",
        ),
        _spec(
            "shutdown.in-any-stage",
            "SHOULD",
            "4.4, 7",
            "`Shutdown` sent before the handshake is complete (right after `Hello`, as Octa does when it rejects a version; and as the first command) is answered by `Shutdown{message}` and the process exits within 1 s; the SDK answers `Error` and costs Octa 1 s and a SIGKILL",
        ),
        _spec(
            "shutdown.nothing-after",
            "MUST",
            "4.4",
            "no frame after the `Shutdown` response",
        ),
        _spec(
            "shutdown.process-exits",
            "SHOULD",
            "4.4",
            "the process exits by itself within 1 s of its `Shutdown` response (Octa kills it after that)",
        ),
        _spec(
            "shutdown.exit-status",
            "SHOULD",
            "4.4",
            "it exits with status 0",
        ),
        _spec(
            "shutdown.socket-removed",
            "SHOULD",
            "4.4",
            "the socket file is gone after exit",
        ),
        _spec(
            "shutdown.after-work",
            "MUST",
            "4.4",
            "`Shutdown` after several completed commands behaves like the idle case",
        ),
        _spec(
            "robustness.malformed-json",
            "SHOULD",
            "4.2",
            "an unparsable line during execution gets an `Error` frame and the session keeps working (a following command gets `Started` and one terminal frame; `echo` too, if configured)",
        ),
        _spec(
            "robustness.unknown-command",
            "SHOULD",
            "4.2",
            '`{"type":"Bogus"}` gets an `Error` and the session keeps working',
        ),
        _spec(
            "robustness.missing-fields",
            "SHOULD",
            "4.2",
            "an `Execute` without `dir`/`envs` gets an `Error` and the session keeps working",
        ),
        _spec(
            "robustness.fuzz-execute",
            "MUST",
            "2, 4.2",
            "hypothesis-generated `Execute` payloads (unicode, empty and huge strings, odd env names, nested `vars`, both `dry` values) never kill the plugin or corrupt its framing; the session still answers a command afterwards (`echo` too, if configured)",
        ),
        _spec(
            "robustness.fuzz-lines",
            "SHOULD",
            "2",
            "hypothesis-generated garbage lines (invalid UTF-8, truncated JSON, wrong types, 1 MiB lines) never kill the plugin",
        ),
        _spec(
            "robustness.second-connection",
            "INFO",
            "1",
            "whether a second connection after the first one closed can handshake",
        ),
        _spec(
            "performance.handshake-latency",
            "INFO",
            "4.2",
            "Hello→Hello and Schema→Schema round trips, median and p99 over 50 sessions' worth",
        ),
        _spec(
            "performance.execute-latency",
            "INFO",
            "4.2",
            "`Execute`→`ExitStatus` for probe `echo`, p50/p99 over 500 sequential commands",
            "echo",
        ),
        _spec(
            "performance.throughput",
            "INFO",
            "4.2",
            "commands completed per second with 1, 8 and 64 in flight",
            "echo",
        ),
        _spec(
            "performance.memory-growth",
            "INFO",
            "4.2",
            "the plugin's RSS after 100 and after 2,000 commands (a leak shows as growth)",
            "echo",
        ),
    )
}

AREAS: tuple[str, ...] = tuple(dict.fromkeys(s.area for s in CHECKS.values()))


def get(check_id: str) -> CheckSpec:
    """The catalogue entry for ``check_id`` (KeyError if unknown)."""
    return CHECKS[check_id]


def match(patterns: list[str] | tuple[str, ...]) -> set[str]:
    """Ids matched by any of the glob ``patterns`` (``execute.*``, ``*.dry-run``...)."""
    return {cid for cid in CHECKS for p in patterns if fnmatch.fnmatchcase(cid, p)}


def unmatched(patterns: list[str] | tuple[str, ...]) -> list[str]:
    """The patterns that match no check id (a usage error)."""
    return [p for p in patterns if not match([p])]
