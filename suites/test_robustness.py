"""Robustness (docs/protocol.md §2, §4.2).

A plugin serves one long-lived connection for a whole Octa run, so a single bad line must
never end it. The Octa SDK's behaviour is the model:

* a line it cannot parse (not UTF-8, not JSON, an unknown ``type``, a required field missing
  or of the wrong type) is answered with ``Error{id: "parse_error", message: ...}`` and the
  session goes on;
* any ``Execute`` payload that *is* well-formed (whatever its strings, environment names or
  nested ``vars``) gets ``Started`` and exactly one terminal frame, or an ``Error`` instead of
  ``Started`` (e.g. a ``dir`` that does not exist): the plugin never dies, and every frame it
  writes stays one valid UTF-8 JSON object per line.

Two checks here are property tests (hypothesis): many generated payloads are sent through
**one** plugin process; after each one the plugin must still run, the connection stay open
and the framing stay intact. The examples are derandomized (the same ones on every run) and
bounded; a failure names the smallest payload found that still breaks the plugin.

None of these checks needs a probe: "the session keeps working" means that the *opaque
command* (the ``noop`` probe if configured, else empty ``params``) sent afterwards still gets
``Started`` and one terminal frame (any code, or ``Error``), and, if the ``echo`` probe is
configured, that an echo still prints its text.

``robustness.second-connection`` only reports whether a plugin accepts a new connection after
the first one closed (the SDK's listener does; Octa never needs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from octa_conformance.checking import CheckFailure, check, check_id_of, fail
from octa_conformance.context import CheckContext, PluginInfo
from octa_conformance.errors import LaunchError, OctaConformanceError
from octa_conformance.host import ConnectionClosed, FakeOcta, HostError, PluginRefused, ReplyTimeout
from octa_conformance.protocol import (
    DECODE_KINDS,
    Closed,
    Dialect,
    ErrorReply,
    ExecuteCommand,
    HelloCommand,
    Kind,
    Received,
    SchemaCommand,
    Started,
    Violation,
    decode_command,
    encode_command,
)
from octa_conformance.pytest_plugin import CONTEXT_KEY
from octa_conformance.settings import RunOptions
from octa_conformance.suite_helpers import session_still_works
from octa_conformance.supervisor import SESSION_ENV_VAR
from octa_conformance.wording import describe_event

FUZZ_EXECUTE_EXAMPLES = 30
FUZZ_LINES_EXAMPLES = 40
SHRINK_RUNS = 40  # examples run for real after the first failure, to bound shrinking
MIB = 1024 * 1024


def abbreviate(value: Any, limit: int = 60) -> str:
    """``repr`` with long strings and bytes shortened, so failing examples stay readable."""
    if isinstance(value, (str, bytes)) and len(value) > limit:
        if len(set(value)) == 1:
            return f"{value[:1]!r} * {len(value)}"
        return (
            f"{value[:limit]!r}... ({len(value)} {'chars' if isinstance(value, str) else 'bytes'})"
        )
    if isinstance(value, dict):
        return "{" + ", ".join(f"{abbreviate(k)}: {abbreviate(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(abbreviate(v) for v in value) + "]"
    return repr(value)


def digest(*parts: Any) -> str:
    """A short key that tells generated examples apart."""
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


# --- the simple checks -----------------------------------------------------------------


async def refused_then_still_working(
    octa: CheckContext, host: FakeOcta, line: bytes, what: str, hint: str
) -> None:
    """Send ``line``; the first frame back must be an ``Error``; then the session must still
    run commands."""
    mark = host.mark()
    await host.send_raw(line)
    bound = octa.timeouts.reply
    try:
        ev = await host.wait_for(
            lambda ev: not isinstance(ev, Closed),
            timeout=bound,
            since=mark,
            what=f"a frame answering {what}",
        )
    except ReplyTimeout:
        fail(f"an Error frame answering {what}", f"no frame within {bound:.1f} s", hint)
    except ConnectionClosed:
        fail(f"an Error frame answering {what}", "the plugin closed the connection", hint)
    if not (isinstance(ev, Received) and isinstance(ev.frame, ErrorReply)):
        got = describe_event(ev)
        if isinstance(ev, Violation) and isinstance(ev.frame, Started):
            raw = ev.data.decode("utf-8", "replace")[:200]
            got = f"a Started frame {raw}: the plugin accepted it and ran it"
        fail(f"an Error frame answering {what}", got, hint)
    await session_still_works(octa, host, what)


@check(
    "robustness.malformed-json",
    "SHOULD",
    section="4.2",
    summary=(
        "an unparsable line during execution gets an `Error` frame and the session keeps working "
        "(a following command gets `Started` and one terminal frame; `echo` too, if configured)"
    ),
)
async def test_malformed_json(octa: CheckContext) -> None:
    """An unparsable line during execution gets an ``Error`` frame (the SDK's ``parse_error``)
    and the session keeps working: a following command still runs."""
    host = await octa.ready()
    await refused_then_still_working(
        octa,
        host,
        b'{"type":"Execute","payload":{"params":"echo never run",\n',
        "a truncated JSON line",
        'answer a line that is not valid JSON with Error{id: "parse_error"} and read on',
    )


@check(
    "robustness.unknown-command",
    "SHOULD",
    section="4.2",
    summary='`{"type":"Bogus"}` gets an `Error` and the session keeps working',
)
async def test_unknown_command(octa: CheckContext) -> None:
    """``{"type":"Bogus"}`` gets an ``Error`` and the session keeps working."""
    host = await octa.ready()
    await refused_then_still_working(
        octa,
        host,
        b'{"type":"Bogus"}\n',
        'the unknown command {"type":"Bogus"}',
        "answer a command type you do not know with an Error frame and read on",
    )


@check(
    "robustness.missing-fields",
    "SHOULD",
    section="4.2",
    summary="an `Execute` without `dir`/`envs` gets an `Error` and the session keeps working",
)
async def test_missing_fields(octa: CheckContext) -> None:
    """An ``Execute`` without ``dir`` and ``envs`` gets an ``Error`` (serde rejects a frame
    that lacks a required field) and the session keeps working."""
    host = await octa.ready()
    # a command the plugin surely runs, so that only the missing fields can be refused
    if octa.has_probe("echo"):
        params = octa.probe("echo", text="incomplete Execute")
    else:
        params = octa.opaque()
    payload = {
        octa.dialect.execute_field: params,
        "args": [],
        "vars": {},
        "dry": False,
    }
    line = json.dumps({"type": "Execute", "payload": payload}).encode() + b"\n"
    await refused_then_still_working(
        octa,
        host,
        line,
        "an Execute without 'dir' and 'envs'",
        "validate Execute: refuse one that lacks a required field with an Error instead of"
        " guessing a directory and environment",
    )


# --- property tests: one plugin process shared by all examples ----------------------------


class FuzzSession:
    """Runs hypothesis examples against one shared plugin, on an event loop of its own.

    Hypothesis drives a synchronous test function, so each example's coroutine runs to
    completion on ``loop`` (bounded). The plugin is respawned only after an example failed
    (so shrinking tests every candidate on a healthy plugin). Verdicts of failing examples
    are remembered: hypothesis replays the final example and must see the same failure, and
    after ``SHRINK_RUNS`` real runs past the first failure, unseen candidates count as passing
    so that shrinking stops at the smallest failing example found so far.
    """

    def __init__(self, ctx: CheckContext, loop: asyncio.AbstractEventLoop) -> None:
        self.ctx = ctx
        self.loop = loop
        self.host: FakeOcta | None = None
        self.dirty = False  # the current plugin failed an example: use a fresh one next
        self.previous = ""  # the example run before the current one
        self.failures: dict[str, tuple[str, str, str, FakeOcta | None]] = {}
        self.real_runs_after_failure = 0
        self.retired: list[FakeOcta] = []

    def run(self, coro: Awaitable[Any], bound: float) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, bound))

    async def ensure(self) -> FakeOcta:
        """The shared host, or a fresh plugin if the last one failed."""
        host = self.host
        if host is not None and not self.dirty:
            if not host.plugin_closed and host.process.returncode is None:
                return host
            raise _Problem(
                f"the plugin was found {self._state(host)} before this example, after it had"
                f" passed the previous one ({self.previous})"
            )
        if host is not None:
            await self.retire(host)
            self.host = None
        try:
            self.host = host = await self.ctx.ready()
        except OctaConformanceError as e:
            raise _Problem(f"a fresh plugin process could not be started: {e}") from None
        self.dirty = False
        return host

    async def retire(self, host: FakeOcta) -> None:
        """Stop a failed plugin; keep its transcript out of the report unless it is needed."""
        await host.close()
        if host.process is not None:
            await host.process.stop()
            with contextlib.suppress(ValueError):
                self.ctx.processes.remove(host.process)
        with contextlib.suppress(ValueError):
            self.ctx.hosts.remove(host)
        self.retired.append(host)

    @staticmethod
    def _state(host: FakeOcta) -> str:
        rc = host.process.returncode if host.process is not None else None
        if rc is not None:
            return f"dead (exit status {rc})"
        if host.plugin_closed:
            return "disconnected (it closed the connection)"
        return "running"

    def example(
        self,
        key: str,
        shown: str,
        body: Callable[[FakeOcta], Awaitable[None]],
        kinds: frozenset[Kind] | None,
        expected: str,
    ) -> None:
        """Run one example; raise :class:`CheckFailure` (naming the example) if it broke the
        plugin. ``kinds``: violations that count (None: all of them).

        There is a single ``raise`` for every failure, fresh or remembered: hypothesis tells
        bugs apart by where they are raised, and must see one bug here.
        """
        record = self.failures.get(key)
        if record is None:
            record = self._run(key, shown, body, kinds, expected)
        if record is not None:
            raise self._failure(record)

    def _run(
        self,
        key: str,
        shown: str,
        body: Callable[[FakeOcta], Awaitable[None]],
        kinds: frozenset[Kind] | None,
        expected: str,
    ) -> tuple[str, str, str, FakeOcta | None] | None:
        """Run an example not seen before; its failure record, or None if it passed."""
        if self.failures:
            if self.real_runs_after_failure >= SHRINK_RUNS:
                return None  # shrinking budget spent: keep the smallest failure found so far
            self.real_runs_after_failure += 1
        bound = self.ctx.timeouts.reply * 3 + self.ctx.timeouts.connect
        hosts: list[FakeOcta | None] = []

        async def one() -> str | None:
            host = await self.ensure()
            hosts.append(host)
            seen = host.violation_log.mark()
            try:
                await body(host)
            except HostError as e:
                problem = str(e)
            else:
                problem = None
            broken = [v for v in host.violation_log.since(seen) if kinds is None or v.kind in kinds]
            if broken:
                problem = (problem + "; " if problem else "") + "; ".join(map(str, broken[:3]))
            elif problem is None and host.plugin_closed:
                problem = "the plugin closed the connection afterwards"
            elif problem is None and host.process.returncode is not None:
                problem = "the plugin process ended afterwards"
            if problem is not None and host.plugin_closed:
                # Did it die? A crash closes the connection as the process ends, so the
                # exit shows within moments: a tenth of Octa's exit window, not all of it
                # (a plugin that hung up and lives on must not cost a second per example).
                await host.process.wait_exit(self.ctx.timeouts.exit / 10)
            if problem is not None and host.process.returncode is not None:
                problem += f" (the plugin process is {self._state(host)})"
            return problem

        try:
            problem = self.run(one(), bound)
        except _Problem as e:
            problem = str(e)
            hosts.append(self.host)
        except asyncio.TimeoutError:
            problem = f"the example did not finish within {bound:.1f} s"
        self.previous = shown
        if problem is None:
            return None
        self.dirty = True
        record = (expected, f"{problem}; the example: {shown}", key, hosts[-1] if hosts else None)
        self.failures[key] = record
        return record

    @staticmethod
    def _failure(record: tuple[str, str, str, FakeOcta | None]) -> CheckFailure:
        expected, got, _, host = record
        err = CheckFailure(expected, got)
        err.host = host  # type: ignore[attr-defined]
        return err

    def hypothesis(self, test: Callable[[], None]) -> None:
        """Run the hypothesis test; on failure, show only the failing plugin's transcript."""
        try:
            test()
        except CheckFailure as e:
            host = getattr(e, "host", None)
            if host is not None:
                self.ctx.hosts[:] = [host]
                self.ctx.processes[:] = [p for p in (host.process,) if p is not None]
            raise

    def final_check(self, what: str) -> None:
        """After all examples, the shared session still runs commands."""
        octa = self.ctx
        host = self.host
        if host is None:
            return
        if host.plugin_closed or host.process.returncode is not None:
            fail(
                f"the plugin still running and connected after {what}",
                f"it is {self._state(host)}",
            )
        self.run(session_still_works(octa, host, what), octa.timeouts.reply * 3)

    async def aclose(self) -> None:
        """Stop the current plugin and everything the context holds (retired hosts are
        closed already; they stay listed only for their transcripts)."""
        if self.host is not None and self.host not in self.ctx.hosts:
            await self.host.close()
        if self.host is not None and self.host.process is not None:
            await self.host.process.stop()
        shown = list(self.ctx.hosts)
        self.ctx.hosts[:] = [h for h in shown if h not in self.retired]
        try:
            await self.ctx.aclose()
        finally:
            self.ctx.hosts[:] = shown


class _Problem(Exception):
    """An example found the plugin already broken."""


@contextlib.contextmanager
def fuzz_session(
    request: pytest.FixtureRequest, options: RunOptions, info: PluginInfo
) -> Iterator[FuzzSession]:
    """A check context and an event loop for a synchronous (hypothesis) check."""
    ctx = CheckContext(options, info, check_id_of(request.node) or "")
    request.node.stash[CONTEXT_KEY] = ctx  # transcripts and figures reach the report
    loop = asyncio.new_event_loop()
    fuzz = FuzzSession(ctx, loop)
    try:
        yield fuzz
    finally:
        try:
            loop.run_until_complete(fuzz.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


FUZZ_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    report_multiple_bugs=False,
    print_blob=False,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=list(HealthCheck),
)


# --- robustness.fuzz-execute -----------------------------------------------------------

# The ids a plugin chooses are judged by execute.started-first (non-empty) and the
# concurrency checks (unique), which say exactly what is wrong; a fuzzed payload has no
# part in it.
FUZZ_EXECUTE_KINDS = frozenset(Kind) - {Kind.DUPLICATE_ID, Kind.EMPTY_ID}
SCRATCH = "<scratch dir>"
TEXT_VAR = "octa_fuzz_text"  # without an echo probe, the generated text rides in vars
ODD_DIRS = ("", "relative/dir", "/nonexistent/octa-fuzz", "/dev/null", SCRATCH + "/ünïcødé gone")
ODD_ENV_NAMES = ("", "=", "A=B", "1LEADING_DIGIT", "WITH SPACE", "ÜNICODE_ñ", "x\x00y", "-", "a.b")
# Names that would change how the shell or the harness behaves, not the plugin: renamed.
RESERVED_ENV_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC", "PYTHON")
RESERVED_ENV_NAMES = frozenset(
    {"PATH", "IFS", "ENV", "BASH_ENV", "HOME", "SHELL", "SHELLOPTS", "BASHOPTS", "PS4",
     "CDPATH", "TMPDIR", "POSIXLY_CORRECT", SESSION_ENV_VAR}
)  # fmt: skip


def harmless_env_name(name: str) -> str:
    upper = name.upper()
    if upper in RESERVED_ENV_NAMES or upper.startswith(RESERVED_ENV_PREFIXES):
        return "OCTA_FUZZ_" + name
    return name


class ExecutePayload:
    """One generated ``Execute``: ``params`` is the echo probe of ``text`` (the opaque command
    if ``text`` is None; without an echo probe, the opaque command, and ``text`` travels in
    ``vars[TEXT_VAR]``)."""

    def __init__(
        self,
        text: str | None,
        args: list[str],
        dir: str,
        envs: dict[str, str],
        vars: dict[str, Any],
        dry: bool,
    ) -> None:
        self.text, self.args, self.dir, self.envs, self.vars, self.dry = (
            text, args, dir, envs, vars, dry
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"ExecutePayload(text={abbreviate(self.text)}, args={abbreviate(self.args)},"
            f" dir={self.dir!r}, envs={abbreviate(self.envs)}, vars={abbreviate(self.vars)},"
            f" dry={self.dry})"
        )

    def describe(self, echo: bool) -> str:
        """The payload as sent, given whether the echo probe carries ``text``."""
        params, variables = "opaque", dict(self.vars)
        if self.text is not None and echo:
            params = f"echo({abbreviate(self.text)})"
        elif self.text is not None:
            variables[TEXT_VAR] = self.text
        return (
            f"Execute(params={params}, args={abbreviate(self.args)}, dir={self.dir!r},"
            f" envs={abbreviate(self.envs)}, vars={abbreviate(variables)}, dry={self.dry})"
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


# Any character that can be sent as UTF-8 (no lone surrogates). An explicit alphabet: the
# default one makes hypothesis compute a per-codec table (~1.5 s) in a fresh storage dir.
CHARS = st.characters(exclude_categories=("Cs",))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(CHARS, max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(CHARS, max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
huge_texts = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["x", "é", "\U0001f600", "\\", "'"]),
    st.integers(64 * 1024, 160 * 1024),
)
ODD_PIECES = ("'", '"', "\\", "$", "`", "\t", "\r", "\n", "\x00", "\x7f", "\u2028", "\ufeff",
              "é", "\U0001f600", "%s", "-n", " ", "$(true)")  # fmt: skip
odd_texts = st.lists(st.sampled_from(ODD_PIECES), max_size=12).map("".join)
texts = st.one_of(
    st.text(CHARS, max_size=40), odd_texts, st.just(""), st.text(CHARS, max_size=40), huge_texts
)
env_names = st.one_of(st.sampled_from(ODD_ENV_NAMES), st.text(CHARS, max_size=12)).map(
    harmless_env_name
)
execute_payloads = st.builds(
    ExecutePayload,
    text=st.one_of(texts, texts, texts, st.none()),
    args=st.lists(st.text(CHARS, max_size=16), max_size=3),
    dir=st.sampled_from([SCRATCH] * 5 + list(ODD_DIRS)),
    envs=st.dictionaries(env_names, st.one_of(st.text(CHARS, max_size=30), odd_texts), max_size=4),
    vars=st.dictionaries(st.text(CHARS, max_size=8), json_values, max_size=4),
    dry=st.booleans(),
)


@check(
    "robustness.fuzz-execute",
    "MUST",
    section="2, 4.2",
    summary=(
        "hypothesis-generated `Execute` payloads (unicode, empty and huge strings, odd env names, "
        "nested `vars`, both `dry` values) never kill the plugin or corrupt its framing; the "
        "session still answers a command afterwards (`echo` too, if configured)"
    ),
)
def test_fuzz_execute(
    request: pytest.FixtureRequest, octa_options: RunOptions, octa_plugin_info: PluginInfo
) -> None:
    """Generated ``Execute`` payloads (unicode, empty and huge strings, odd environment names,
    nested ``vars``, both ``dry`` values) never kill the plugin or corrupt its framing: each
    gets ``Started`` and one terminal frame, or an ``Error`` refusal; the session still runs
    commands afterwards.

    The generated text is echoed if the ``echo`` probe is configured; otherwise the opaque
    command is sent and the text rides in ``vars``, so that it still crosses the framing.
    """
    with fuzz_session(request, octa_options, octa_plugin_info) as fuzz:
        octa = fuzz.ctx
        scratch = str(octa.scratch())
        bound = octa.timeouts.reply
        echo = octa.has_probe("echo")

        async def send(host: FakeOcta, payload: ExecutePayload) -> None:
            params, variables = octa.opaque(), payload.vars
            if payload.text is not None and echo:
                params = octa.probe("echo", text=payload.text)
            elif payload.text is not None:  # no echo: the text travels in vars instead
                variables = {**variables, TEXT_VAR: payload.text}
            run = await host.execute(
                params,
                args=payload.args,
                dir=payload.dir.replace(SCRATCH, scratch),
                envs=payload.envs,
                vars=variables,
                dry=payload.dry,
            )
            try:
                await run.started(timeout=bound)
            except PluginRefused:
                return  # refusing a payload it cannot run is fine
            await run.wait(timeout=bound)

        @settings(FUZZ_SETTINGS, max_examples=FUZZ_EXECUTE_EXAMPLES)
        @given(payload=execute_payloads)
        def execute_payload(payload: ExecutePayload) -> None:
            fuzz.example(
                digest(
                    payload.text, payload.args, payload.dir, payload.envs, payload.vars, payload.dry
                ),
                payload.describe(echo),
                lambda host: send(host, payload),
                FUZZ_EXECUTE_KINDS,
                "the plugin answers the Execute (Started and one terminal frame, or an Error),"
                " stays alive and connected, and every frame it writes is well-formed",
            )

        fuzz.hypothesis(execute_payload)
        fuzz.final_check("fuzzed Execute payloads")


# --- robustness.fuzz-lines -------------------------------------------------------------


class GarbageLine:
    """One generated line (without its ``\\n``) and how it was made."""

    def __init__(self, kind: str, data: bytes) -> None:
        self.kind, self.data = kind, data

    def __repr__(self) -> str:
        return f"{self.kind}: {abbreviate(self.data, 200)}"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def _valid_lines() -> list[bytes]:
    """Well-formed host commands (never ``Shutdown``) to cut or corrupt."""
    cmds = [
        HelloCommand("0.2.1"),
        SchemaCommand(),
        ExecuteCommand("printf '%s\\n' fuzz", (), "/", {"K": "v"}, {"x": [1, {"y": None}]}),
    ]
    return [encode_command(c).rstrip(b"\n") for c in cmds]


VALID_LINES = _valid_lines()
INVALID_UTF8 = [
    b"\xff",
    b"\xc3",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xc0\xaf",
]
WRONG_VALUES: list[Any] = [0, -1, 1.5, True, None, "s", [], [1], {}, {"a": 1}]
EXECUTE_FIELDS: dict[str, Callable[[Any], bool]] = {
    "params": lambda v: isinstance(v, str),
    "args": lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
    "dir": lambda v: isinstance(v, str),
    "envs": lambda v: isinstance(v, dict) and all(isinstance(a, str) for a in v.values()),
    "vars": lambda v: isinstance(v, dict),
    "dry": lambda v: isinstance(v, bool),
}


def _wrong_type(field: str, value: Any) -> bytes:
    base: dict[str, Any] = {
        "params": "printf '%s\\n' fuzz",
        "args": [],
        "dir": "/",
        "envs": {},
        "vars": {},
        "dry": False,
    }
    if field == "payload":
        obj: dict[str, Any] = {"type": "Execute", "payload": value}
    elif field in ("version", "features"):
        payload = {"version": "0.2.1", "features": [], field: value}
        obj = {"type": "Hello", "payload": payload}
    else:
        obj = {"type": "Execute", "payload": {**base, field: value}}
    return json.dumps(obj, ensure_ascii=False).encode()


def _huge(kind: str) -> bytes:
    if kind == "json-string":  # valid JSON, but a string, not an object
        return b'"' + "é".encode() * (MIB // 2) + b'"'
    if kind == "unterminated-json":
        return b'{"type":"Execute","payload":{"params":"' + b"A" * MIB
    return bytes(b for b in range(256) if b != 0x0A) * (MIB // 255)  # binary, invalid UTF-8


def _insert(data: bytes, bad: bytes, at: int) -> bytes:
    at %= len(data) + 1
    return data[:at] + bad + data[at:]


def _not_a_command(line: GarbageLine) -> bool:
    """Keep only lines that no host would send as a valid command (and never a Shutdown)."""
    data = line.data
    if b"\n" in data or b"shutdown" in data.lower():
        return False
    return all(isinstance(decode_command(data, d), Violation) for d in Dialect)


garbage_lines = st.one_of(
    st.builds(
        lambda v, bad, at: GarbageLine("invalid UTF-8", _insert(v, bad, at)),
        st.sampled_from([*VALID_LINES, b""]),
        st.sampled_from(INVALID_UTF8),
        st.integers(0, 10**6),
    ),
    st.builds(
        lambda v, at: GarbageLine("truncated JSON", v[: 1 + at % (len(v) - 1)]),
        st.sampled_from(VALID_LINES),
        st.integers(0, 10**6),
    ),
    st.builds(
        lambda field, value: GarbageLine("wrong type", _wrong_type(field, value)),
        st.sampled_from([*EXECUTE_FIELDS, "payload", "version", "features"]),
        st.sampled_from(WRONG_VALUES),
    ),
    st.builds(
        lambda obj: GarbageLine("JSON value", json.dumps(obj, ensure_ascii=False).encode()),
        json_values
        | st.fixed_dictionaries(
            {"type": st.sampled_from(["Hello", "Schema", "Execute", "Bogus", "", "execute"])},
            optional={"payload": json_values},
        ),
    ),
    st.builds(lambda t: GarbageLine("text", t.encode("utf-8")), st.text(CHARS, max_size=60)),
    st.builds(
        lambda kind: GarbageLine(f"1 MiB line ({kind})", _huge(kind)),
        st.sampled_from(["json-string", "unterminated-json", "binary"]),
    ),
).filter(_not_a_command)


@check(
    "robustness.fuzz-lines",
    "SHOULD",
    section="2",
    summary=(
        "hypothesis-generated garbage lines (invalid UTF-8, truncated JSON, wrong types, 1 MiB "
        "lines) never kill the plugin"
    ),
)
def test_fuzz_lines(
    request: pytest.FixtureRequest, octa_options: RunOptions, octa_plugin_info: PluginInfo
) -> None:
    """Generated garbage lines (invalid UTF-8, truncated JSON, wrong types, 1 MiB lines) never
    kill the plugin: after each, it still runs, the connection stays open and what it writes
    is well-formed; the session still runs commands at the end.

    Each line should be answered by an ``Error``; the harness waits briefly for it (so that it
    cannot be mistaken for the answer to a later command), but a missing answer is judged by
    ``robustness.malformed-json``, not here.
    """
    with fuzz_session(request, octa_options, octa_plugin_info) as fuzz:
        octa = fuzz.ctx
        window = octa.timeouts.reply / 20

        async def send(host: FakeOcta, line: GarbageLine) -> None:
            mark = host.mark()
            await host.send_raw(line.data + b"\n")
            with contextlib.suppress(ReplyTimeout):
                await host.wait_for(
                    lambda ev: isinstance(ev, Received) and isinstance(ev.frame, ErrorReply),
                    timeout=window,
                    since=mark,
                    what="an Error answering the line",
                )

        @settings(FUZZ_SETTINGS, max_examples=FUZZ_LINES_EXAMPLES)
        @given(line=garbage_lines)
        def garbage_line(line: GarbageLine) -> None:
            fuzz.example(
                digest(line.kind, line.data),
                repr(line),
                lambda host: send(host, line),
                DECODE_KINDS,
                "the plugin survives the line: still running, connection open, well-formed frames",
            )

        fuzz.hypothesis(garbage_line)
        fuzz.final_check("garbage lines")


@check(
    "robustness.second-connection",
    "INFO",
    section="1",
    summary="whether a second connection after the first one closed can handshake",
)
async def test_second_connection(octa: CheckContext) -> None:
    """Whether a second connection, opened after the first one closed, can handshake."""
    host = await octa.ready()
    process = host.process
    assert process is not None
    await host.close()
    try:
        again = await octa.reconnect(process, label="second")
    except LaunchError as e:
        octa.figure(second_connection="no", reason=str(e).splitlines()[0])
        return
    try:
        await again.handshake()
    except HostError as e:
        octa.figure(second_connection="no", reason=f"connected, but the handshake failed: {e}")
        return
    octa.figure(second_connection="yes")
