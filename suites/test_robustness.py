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

import contextlib
import json
from typing import Any

from hypothesis import strategies as st

from octa_conformance.checking import check, fail
from octa_conformance.context import CheckContext
from octa_conformance.errors import LaunchError
from octa_conformance.host import ConnectionClosed, FakeOcta, HostError, PluginRefused, ReplyTimeout
from octa_conformance.property_checks import PluginProperty
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
from octa_conformance.protocol.codec import command_to_json
from octa_conformance.protocol.fields import EXECUTE_FIELDS, HELLO_FIELDS, Field
from octa_conformance.protocol_strategies import (
    CHARS,
    JSON_VALUES,
    WRONG_VALUES,
    payloads,
    wrong_values,
)
from octa_conformance.suite_helpers import session_still_works
from octa_conformance.supervisor import SESSION_ENV_VAR
from octa_conformance.wording import describe_event

FUZZ_EXECUTE_EXAMPLES = 30
FUZZ_LINES_EXAMPLES = 40
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
    payload = command_to_json(ExecuteCommand(params), octa.dialect)["payload"]
    del payload["dir"], payload["envs"]
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
# (octa_conformance.property_checks runs them: sessions, bounds, shrinking, the report)

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
# Execute payloads (by field name) generated from the protocol's field table; the fields
# whose values mean something here are chosen: ``params`` is the text to echo (None: the
# opaque command), ``dir`` the scratch dir or an odd one, ``envs`` has odd names.
execute_payloads = payloads(
    EXECUTE_FIELDS,
    {
        "params": st.one_of(texts, texts, texts, st.none()),
        "dir": st.sampled_from([SCRATCH] * 5 + list(ODD_DIRS)),
        "envs": st.dictionaries(
            env_names, st.one_of(st.text(CHARS, max_size=30), odd_texts), max_size=4
        ),
    },
)


def describe_payload(payload: dict[str, Any], echo: bool) -> str:
    """A generated payload as sent, given whether the echo probe carries its text."""
    text, params, variables = payload["params"], "opaque", dict(payload["vars"])
    if text is not None and echo:
        params = f"echo({abbreviate(text)})"
    elif text is not None:
        variables[TEXT_VAR] = text
    return (
        f"Execute(params={params}, args={abbreviate(payload['args'])}, dir={payload['dir']!r},"
        f" envs={abbreviate(payload['envs'])}, vars={abbreviate(variables)},"
        f" dry={payload['dry']})"
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
async def test_fuzz_execute(octa: CheckContext) -> None:
    """Generated ``Execute`` payloads (unicode, empty and huge strings, odd environment names,
    nested ``vars``, both ``dry`` values) never kill the plugin or corrupt its framing: each
    gets ``Started`` and one terminal frame, or an ``Error`` refusal; the session still runs
    commands afterwards.

    The generated text is echoed if the ``echo`` probe is configured; otherwise the opaque
    command is sent and the text rides in ``vars``, so that it still crosses the framing.
    """
    scratch = str(octa.scratch())
    bound = octa.timeouts.reply
    echo = octa.has_probe("echo")

    async def send(host: FakeOcta, payload: dict[str, Any]) -> None:
        text, params, variables = payload["params"], octa.opaque(), payload["vars"]
        if text is not None and echo:
            params = octa.probe("echo", text=text)
        elif text is not None:  # no echo: the text travels in vars instead
            variables = {**variables, TEXT_VAR: text}
        run = await host.execute(
            params,
            args=payload["args"],
            dir=payload["dir"].replace(SCRATCH, scratch),
            envs=payload["envs"],
            vars=variables,
            dry=payload["dry"],
        )
        try:
            await run.started(timeout=bound)
        except PluginRefused:
            return  # refusing a payload it cannot run is fine
        await run.wait(timeout=bound)

    prop: PluginProperty[dict[str, Any]] = PluginProperty(
        octa,
        expected="the plugin answers the Execute (Started and one terminal frame, or an Error),"
        " stays alive and connected, and every frame it writes is well-formed",
        max_examples=FUZZ_EXECUTE_EXAMPLES,
        breaking=FUZZ_EXECUTE_KINDS,
    )
    await prop.run(execute_payloads, send, show=lambda payload: describe_payload(payload, echo))
    await prop.still_works("fuzzed Execute payloads")


# --- robustness.fuzz-lines -------------------------------------------------------------


class GarbageLine:
    """One generated line (without its ``\\n``) and how it was made."""

    def __init__(self, kind: str, data: bytes) -> None:
        self.kind, self.data = kind, data

    def __repr__(self) -> str:
        return f"{self.kind}: {abbreviate(self.data, 200)}"


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


def _wrong_type(dialect: Dialect, field: Field, pick: int) -> GarbageLine:
    """A valid Execute in ``dialect`` whose ``field`` has a value of the wrong type."""
    payload = command_to_json(ExecuteCommand("printf '%s\\n' fuzz"), dialect)["payload"]
    wrong = wrong_values(field.json_type)
    payload[field.wire_name(dialect)] = wrong[pick % len(wrong)]
    return GarbageLine("wrong type", _json({"type": "Execute", "payload": payload}))


def _wrong_hello(field: Field, pick: int) -> GarbageLine:
    """A Hello whose ``field`` has a value of the wrong type."""
    payload = {"version": "0.2.1", "features": []}
    wrong = wrong_values(field.json_type)
    payload[field.wire_name(Dialect.V0_2_1)] = wrong[pick % len(wrong)]
    return GarbageLine("wrong type", _json({"type": "Hello", "payload": payload}))


def _json(obj: Any) -> bytes:
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
    # wrong types, field by field, from the protocol's field tables
    st.builds(
        _wrong_type, st.sampled_from(Dialect), st.sampled_from(EXECUTE_FIELDS), st.integers(0, 20)
    ),
    st.builds(_wrong_hello, st.sampled_from(HELLO_FIELDS), st.integers(0, 20)),
    st.builds(
        lambda v: GarbageLine("wrong type", _json({"type": "Execute", "payload": v})),
        st.sampled_from(WRONG_VALUES),
    ),
    st.builds(
        lambda obj: GarbageLine("JSON value", _json(obj)),
        JSON_VALUES
        | st.fixed_dictionaries(
            {"type": st.sampled_from(["Hello", "Schema", "Execute", "Bogus", "", "execute"])},
            optional={"payload": JSON_VALUES},
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
async def test_fuzz_lines(octa: CheckContext) -> None:
    """Generated garbage lines (invalid UTF-8, truncated JSON, wrong types, 1 MiB lines) never
    kill the plugin: after each, it still runs, the connection stays open and what it writes
    is well-formed; the session still runs commands at the end.

    Each line should be answered by an ``Error``; the harness waits briefly for it (so that it
    cannot be mistaken for the answer to a later command), but a missing answer is judged by
    ``robustness.malformed-json``, not here.
    """
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

    prop: PluginProperty[GarbageLine] = PluginProperty(
        octa,
        expected="the plugin survives the line: still running, connection open, well-formed frames",
        max_examples=FUZZ_LINES_EXAMPLES,
        breaking=DECODE_KINDS,
    )
    await prop.run(garbage_lines, send)
    await prop.still_works("garbage lines")


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
