"""Unit tests of the frame codec (docs/protocol.md §2, §3, §6), in the style of h11's tests.

Round trips for every message and both dialects, the exact wire forms of the spec, one
test per violation kind the codec reports, and "decoding never raises" on arbitrary bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octa_conformance.protocol import (
    DECODE_KINDS,
    Command,
    Dialect,
    ErrorReply,
    ExecuteCommand,
    ExitStatus,
    HelloCommand,
    HelloReply,
    Kind,
    Response,
    SchemaCommand,
    SchemaReply,
    ShutdownCommand,
    ShutdownReply,
    Started,
    Stderr,
    Stdout,
    Violation,
    decode_command,
    decode_response,
    detect_dialect,
    encode_command,
    encode_response,
    parse_object,
)
from octa_conformance.protocol.codec import named_id, response_from_object
from octa_conformance.protocol.fields import (
    EXECUTE_FIELDS,
    HELLO_FIELDS,
    I32_MAX,
    I32_MIN,
    RESPONSE_FIELDS,
    Field,
)
from octa_conformance.protocol.messages import COMMAND_TYPES, RESPONSE_TYPES
from octa_conformance.protocol.violations import KEEP_LIMIT, QUOTE_LIMIT, quote
from octa_conformance.protocol_strategies import messages, wrong_values

V20 = Dialect.V0_2_0
V21 = Dialect.V0_2_1
DIALECTS = [V20, V21]

FAST = settings(max_examples=150, derandomize=True, deadline=None)

# --- strategies ---------------------------------------------------------------------

# Arbitrary unicode (no surrogates: they cannot be UTF-8 encoded), with the characters
# that JSON must escape or that break line framing deliberately over-represented.
tricky_chars = st.sampled_from(['"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\u2028", "/", "{"])
text = st.text(st.one_of(st.characters(exclude_categories=("Cs",)), tricky_chars), max_size=20)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)

# Messages are generated from the field tables the codec validates with (protocol/fields.py)
hello_commands = messages(HelloCommand, HELLO_FIELDS, text=text, json_values=json_values)
execute_commands = messages(ExecuteCommand, EXECUTE_FIELDS, text=text, json_values=json_values)
commands: st.SearchStrategy[Command] = st.one_of(
    hello_commands,
    st.just(SchemaCommand()),
    execute_commands,
    st.just(ShutdownCommand()),
)
responses: st.SearchStrategy[Response] = st.one_of(
    *(
        messages(cls, RESPONSE_FIELDS[name], text=text, json_values=json_values)
        for name, cls in RESPONSE_TYPES.items()
    )
)
dialects = st.sampled_from(DIALECTS)


def assert_one_line(frame: bytes) -> None:
    """A frame is a single line: it ends in exactly one ``\\n`` and holds no other."""
    assert frame.endswith(b"\n")
    assert frame.count(b"\n") == 1
    assert not frame.endswith(b"\r\n")
    frame.decode("utf-8")  # valid UTF-8


# --- round trips --------------------------------------------------------------------


@FAST
@given(commands, dialects)
def test_command_round_trip(cmd: Command, dialect: Dialect) -> None:
    frame = encode_command(cmd, dialect)
    assert_one_line(frame)
    assert decode_command(frame.rstrip(b"\n"), dialect) == cmd


@FAST
@given(responses, dialects)
def test_response_round_trip(resp: Response, dialect: Dialect) -> None:
    frame = encode_response(resp, dialect)
    assert_one_line(frame)
    assert decode_response(frame.rstrip(b"\n"), dialect) == resp


@FAST
@given(responses, dialects)
def test_response_round_trip_keeps_the_newline_and_crlf(resp: Response, dialect: Dialect) -> None:
    """Octa trims each line, so the ``\\n`` itself and a ``\\r`` before it are harmless."""
    frame = encode_response(resp, dialect)
    assert decode_response(frame, dialect) == resp
    assert decode_response(frame.rstrip(b"\n") + b"\r\n", dialect) == resp
    assert decode_response(b" \t" + frame + b" ", dialect) == resp


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(RESPONSE_TYPES))
def test_every_response_type_round_trips(name: str, dialect: Dialect) -> None:
    """Not left to chance: one hand-made example of each variant in each dialect."""
    examples: dict[str, Response] = {
        "Hello": HelloReply('>=0.2.0, <0.3 "\n\\', ("a", "b\nc")),
        "Schema": SchemaReply("shell"),
        "Started": Started("7d0c-\u00e9\U0001f600"),
        "Stdout": Stdout("x", "hi\n"),
        "Stderr": Stderr("x", "oops\r\n\\"),
        "ExitStatus": ExitStatus("x", I32_MIN),
        "Error": ErrorReply("parse_error", 'Invalid command format: "x"'),
        "Shutdown": ShutdownReply("Plugin shutting down"),
    }
    resp = examples[name]
    frame = encode_response(resp, dialect)
    assert_one_line(frame)
    assert json.loads(frame)["type"] == name
    assert decode_response(frame.rstrip(b"\n"), dialect) == resp


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(COMMAND_TYPES))
def test_every_command_type_round_trips(name: str, dialect: Dialect) -> None:
    examples: dict[str, Command] = {
        "Hello": HelloCommand("0.2.1", ("x",)),
        "Schema": SchemaCommand(),
        "Execute": ExecuteCommand(
            'echo "hi"\nexit 3',
            ("--a", "b c"),
            "/tmp/w d",
            {"A": "1", "B\n": "\\"},
            {"deps_result": {"x": [1, 2.5, None, True, "s"]}, "n": -1},
            True,
        ),
        "Shutdown": ShutdownCommand(),
    }
    cmd = examples[name]
    frame = encode_command(cmd, dialect)
    assert_one_line(frame)
    assert json.loads(frame)["type"] == name
    assert decode_command(frame.rstrip(b"\n"), dialect) == cmd


def test_hello_command_extra_fields_are_sent_and_decoded() -> None:
    cmd = HelloCommand("0.2.1", ("future",), {"color": True})
    frame = encode_command(cmd)
    assert json.loads(frame) == {
        "type": "Hello",
        "payload": {"version": "0.2.1", "features": ["future"], "color": True},
    }
    got = decode_command(frame)
    assert isinstance(got, HelloCommand)
    assert got.extra == {"color": True}


# --- exact wire forms (§3, §6) ------------------------------------------------------

SESSION_021: list[tuple[str, bytes]] = [
    ("host", b'{"type":"Hello","payload":{"version":"0.2.1","features":[]}}'),
    ("plugin", b'{"type":"Hello","payload":{"version":"0.2.1","features":[]}}'),
    ("host", b'{"type":"Schema"}'),
    ("plugin", b'{"type":"Schema","payload":{"key":"shell"}}'),
    (
        "host",
        b'{"type":"Execute","payload":{"params":"echo hi","args":[],"dir":"/tmp/w",'
        b'"envs":{},"vars":{},"dry":false}}',
    ),
    ("plugin", b'{"type":"Started","payload":{"id":"7d0c...-uuid"}}'),
    ("plugin", b'{"type":"Stdout","payload":{"id":"7d0c...-uuid","line":"hi\\n"}}'),
    ("plugin", b'{"type":"ExitStatus","payload":{"id":"7d0c...-uuid","code":0}}'),
    ("host", b'{"type":"Shutdown"}'),
    ("plugin", b'{"type":"Shutdown","payload":{"message":"Plugin shutting down"}}'),
]
SESSION_021_MESSAGES: list[Command | Response] = [
    HelloCommand("0.2.1"),
    HelloReply("0.2.1"),
    SchemaCommand(),
    SchemaReply("shell"),
    ExecuteCommand("echo hi", (), "/tmp/w", {}, {}, False),
    Started("7d0c...-uuid"),
    Stdout("7d0c...-uuid", "hi\n"),
    ExitStatus("7d0c...-uuid", 0),
    ShutdownCommand(),
    ShutdownReply("Plugin shutting down"),
]


@pytest.mark.parametrize(
    ("side", "wire", "msg"),
    [(s, w, m) for (s, w), m in zip(SESSION_021, SESSION_021_MESSAGES, strict=True)],
)
def test_quick_reference_session_0_2_1(side: str, wire: bytes, msg: Any) -> None:
    """§6 byte for byte, in both directions of the codec."""
    if side == "host":
        assert encode_command(msg, V21) == wire + b"\n"
        assert decode_command(wire, V21) == msg
    else:
        assert encode_response(msg, V21) == wire + b"\n"
        assert decode_response(wire, V21) == msg


@pytest.mark.parametrize(
    ("msg", "wire"),
    [
        (HelloReply("0.2.0"), b'{"type":"Hello","version":"0.2.0","features":[]}'),
        (SchemaReply("shell"), b'{"type":"Schema","key":"shell"}'),
        (Started("u"), b'{"type":"Started","id":"u"}'),
        (Stdout("u", "hi\n"), b'{"type":"Stdout","id":"u","line":"hi\\n"}'),
        (Stderr("u", "e"), b'{"type":"Stderr","id":"u","line":"e"}'),
        (ExitStatus("u", -1), b'{"type":"ExitStatus","id":"u","code":-1}'),
        (ErrorReply("u", "m"), b'{"type":"Error","id":"u","message":"m"}'),
        (ShutdownReply("bye"), b'{"type":"Shutdown","message":"bye"}'),
    ],
)
def test_0_2_0_responses_are_internally_tagged(msg: Response, wire: bytes) -> None:
    assert encode_response(msg, V20) == wire + b"\n"
    assert decode_response(wire, V20) == msg
    assert detect_dialect(json.loads(wire)) is V20


@pytest.mark.parametrize(
    ("msg", "payload"),
    [
        (Stderr("u", "e"), {"id": "u", "line": "e"}),
        (ErrorReply("u", "m"), {"id": "u", "message": "m"}),
        (ExitStatus("u", I32_MAX), {"id": "u", "code": I32_MAX}),
    ],
)
def test_0_2_1_responses_are_adjacently_tagged(msg: Response, payload: dict[str, Any]) -> None:
    frame = encode_response(msg, V21)
    assert json.loads(frame) == {"type": msg.TYPE, "payload": payload}
    assert detect_dialect(json.loads(frame)) is V21


def test_execute_uses_command_in_0_2_0_and_params_in_0_2_1() -> None:
    cmd = ExecuteCommand("echo hi", dir="/tmp/w")
    assert encode_command(cmd, V20) == (
        b'{"type":"Execute","payload":{"command":"echo hi","args":[],"dir":"/tmp/w",'
        b'"envs":{},"vars":{},"dry":false}}\n'
    )
    assert encode_command(cmd, V21) == (
        b'{"type":"Execute","payload":{"params":"echo hi","args":[],"dir":"/tmp/w",'
        b'"envs":{},"vars":{},"dry":false}}\n'
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_host_commands_are_adjacently_tagged_in_both_dialects(dialect: Dialect) -> None:
    assert encode_command(HelloCommand("0.2.0"), dialect) == (
        b'{"type":"Hello","payload":{"version":"0.2.0","features":[]}}\n'
    )
    assert encode_command(SchemaCommand(), dialect) == b'{"type":"Schema"}\n'
    assert encode_command(ShutdownCommand(), dialect) == b'{"type":"Shutdown"}\n'
    assert decode_command(b'{"type":"Schema"}', dialect) == SchemaCommand()
    assert decode_command(b'{"type":"Shutdown"}', dialect) == ShutdownCommand()


def test_non_ascii_is_sent_as_utf8_not_escaped() -> None:
    frame = encode_response(Stdout("i", "h\u00e9 \U0001f600\n"))
    assert "h\u00e9 \U0001f600".encode() in frame
    assert b"\\n" in frame


def test_detect_dialect_of_bare_type() -> None:
    assert detect_dialect({"type": "Schema"}) is None


# --- tolerated input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "dialect", "want"),
    [
        (
            b'{"type":"Started","payload":{"id":"a","extra":1},"more":[1,{"x":null}]}',
            V21,
            Started("a"),
        ),
        (b'{"more":true,"type":"Started","id":"a","extra":{}}', V20, Started("a")),
        (
            b'{"type":"Hello","payload":{"version":"0.2.1","features":["x"],"color":1}}',
            V21,
            HelloReply("0.2.1", ("x",)),
        ),
        (b'{"type":"ExitStatus","payload":{"code":7,"id":"a"}}', V21, ExitStatus("a", 7)),
        (b'{"type":"ExitStatus","payload":{"id":"a","code":-0}}', V21, ExitStatus("a", 0)),
    ],
)
def test_unknown_fields_and_field_order_are_ignored(
    line: bytes, dialect: Dialect, want: Response
) -> None:
    assert decode_response(line, dialect) == want


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("before", "after"),
    [(b"", b"\r"), (b"  ", b"  "), (b"\t", b"\r\n"), (b"\r\n", b"\n"), (b" \x0c", b"\x0b ")],
)
def test_surrounding_whitespace_is_trimmed(dialect: Dialect, before: bytes, after: bytes) -> None:
    frame = encode_response(Stdout("a", " x "), dialect).rstrip(b"\n")
    assert decode_response(before + frame + after, dialect) == Stdout("a", " x ")


def test_unknown_extra_fields_in_commands_are_ignored() -> None:
    line = (
        b'{"type":"Execute","x":1,"payload":{"params":"p","args":["a"],"dir":"/",'
        b'"envs":{"K":"V"},"vars":{"v":[1]},"dry":true,"timeout":5}}'
    )
    assert decode_command(line) == ExecuteCommand("p", ("a",), "/", {"K": "V"}, {"v": [1]}, True)
    assert decode_command(b'{"type":"Schema","payload":{"junk":1}}') == SchemaCommand()


# --- violations ----------------------------------------------------------------------


def assert_violation(
    got: object, kind: Kind, line: bytes, *needles: str, quoted: bool = True
) -> Violation:
    """``got`` is a ``kind`` violation whose message contains every needle and quotes ``line``."""
    assert isinstance(got, Violation), got
    assert got.kind is kind, str(got)
    assert got.message and "\n" not in got.message
    for needle in needles:
        assert needle in got.message, (needle, got.message)
    text = str(got)
    assert text.startswith(f"[{kind.value}] {got.message}")
    if quoted and line:
        assert got.data == line[:KEEP_LIMIT]
        assert got.size == len(line)
        assert quote(line[:QUOTE_LIMIT]).split(" ... (")[0] in text
        assert "\n" not in text
    return got


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("line", "needle"),
    [
        (b'{"type":"Stdout","payload":{"id":"a","line":"\xff"}}', "byte 45: invalid start"),
        (b'{"type":"Stdout","payload":{"id":"a","line":"\xc3"}}', "byte 45: invalid contin"),
        (b' \t{"type":"Stdout","payload":{"id":"a","line":"\xc3"}}', "byte 47"),
        (b"\xef\xbb", "byte 0"),
        (b'{"type":"Started","id":"\xed\xa0\x80"}', "byte 24"),  # encoded surrogate
    ],
)
def test_invalid_utf8(dialect: Dialect, line: bytes, needle: str) -> None:
    assert_violation(decode_response(line, dialect), Kind.INVALID_UTF8, line, "UTF-8", needle)
    assert_violation(decode_command(line, dialect), Kind.INVALID_UTF8, line, "UTF-8")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b'{"type":"Started"',
        b'{"type":"Started",}',
        b"{'type':'Started'}",
        b'{"type":"Stdout","payload":{"id":"a","line":"raw\ttab"}}',
        b'\xef\xbb\xbf{"type":"Schema","payload":{"key":"k"}}',  # UTF-8 BOM
        b'{"type":"Started","id":"a"} trailing',
        b"123abc",
    ],
)
def test_invalid_json(dialect: Dialect, line: bytes) -> None:
    assert_violation(decode_response(line, dialect), Kind.INVALID_JSON, line, "not valid JSON")
    assert_violation(decode_command(line, dialect), Kind.INVALID_JSON, line, "not valid JSON")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("line", [b"", b"   ", b"\r", b"\t\r\n"])
def test_empty_line_is_invalid_json(dialect: Dialect, line: bytes) -> None:
    got = assert_violation(decode_response(line, dialect), Kind.INVALID_JSON, line, "empty line")
    assert got.size == len(line)
    assert_violation(decode_command(line, dialect), Kind.INVALID_JSON, line, "empty line")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_number_constants_are_invalid_json(dialect: Dialect, constant: bytes) -> None:
    """Python's json accepts NaN and Infinity; JSON (and serde, so Octa) does not."""
    extra = b'{"type":"Started","payload":{"id":"a"},"id":"a","x":' + constant + b"}"
    assert_violation(decode_response(extra, dialect), Kind.INVALID_JSON, extra, constant.decode())
    code = b'{"type":"ExitStatus","payload":{"id":"a","code":' + constant + b"}}"
    assert_violation(decode_response(code, V21), Kind.INVALID_JSON, code)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "escape", [b"\\ud800", b"\\udfff", b"\\ud800x", b"\\udc00\\ud800", b"\\ud83d\\u0041"]
)
def test_lone_surrogate_escapes_are_invalid_json(dialect: Dialect, escape: bytes) -> None:
    """serde_json rejects unpaired surrogate escapes; decoding must not yield a message
    that cannot be encoded as UTF-8 again."""
    line = b'{"type":"Stdout","payload":{"id":"a","line":"' + escape + b'"},"id":"a","line":""}'
    assert_violation(decode_response(line, dialect), Kind.INVALID_JSON, line, "surrogate")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_paired_surrogate_escapes_and_escaped_backslashes_are_fine(dialect: Dialect) -> None:
    ident = b'"\\ud83d\\ude00 \\\\ud800"'
    line = b'{"type":"Started","payload":{"id":' + ident + b'},"id":' + ident + b"}"
    assert decode_response(line, dialect) == Started("\U0001f600 \\ud800")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("depth", [100, 1_000, 100_000])
def test_deep_nesting_is_a_violation_not_a_recursion_error(dialect: Dialect, depth: int) -> None:
    """Python's json raises RecursionError (not ValueError) on deep nesting."""
    deep = b"[" * depth + b"]" * depth
    for line in (
        deep,
        b'{"type":"ExitStatus","payload":{"id":"a","code":' + deep + b"}}",
        b'{"type":"Started","payload":{"id":"a"},"id":"a","vars":' + deep + b"}",
        b"[" * depth,
        b'{"type":"Started","id":"a"}' + deep,
    ):
        got = decode_response(line, dialect)
        assert isinstance(got, Violation | Started)
        assert isinstance(decode_command(line, dialect), Violation)
    got = decode_response(b"[" * depth, dialect)
    assert isinstance(got, Violation)
    assert got.kind is Kind.INVALID_JSON


@pytest.mark.parametrize("dialect", DIALECTS)
def test_nesting_near_the_recursion_limit_never_raises(dialect: Dialect) -> None:
    """Whatever depth the parser just manages, the rest of the codec must manage too."""
    for depth in range(0, 1200, 3):
        deep = b"[" * depth + b"]" * depth
        for line in (
            b'{"type":"ExitStatus","payload":{"id":"a","code":' + deep + b"}}",
            b'{"type":"ExitStatus","id":"a","code":' + deep + b"}",
            b'{"type":"Execute","payload":{"params":' + deep + b"}}",
        ):
            assert isinstance(decode_response(line, dialect), Violation)
            assert isinstance(decode_command(line, dialect), Violation)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_frames_run_together_sdk_quirk(dialect: Dialect) -> None:
    """The SDK writes its stage-2 ``protocol_error`` frames without ``\\n``."""
    error = encode_response(ErrorReply("protocol_error", "Unexpected Hello command"), dialect)
    stdout = encode_response(Stdout("a", "hi\n"), dialect)
    line = error.rstrip(b"\n") + stdout.rstrip(b"\n")
    got = assert_violation(
        decode_response(line, dialect),
        Kind.FRAMES_RUN_TOGETHER,
        line,
        "followed by more data on the same line",
        f"character {len(error) - 1}",
        "without its terminating \\n",
    )
    assert got.frame is None
    # also with blanks between, and as a command stream
    spaced = error.rstrip(b"\n") + b"  " + stdout
    assert_violation(decode_response(spaced, dialect), Kind.FRAMES_RUN_TOGETHER, spaced)
    two = encode_command(SchemaCommand()).rstrip(b"\n") + encode_command(ShutdownCommand())
    assert_violation(decode_command(two, dialect), Kind.FRAMES_RUN_TOGETHER, two)


def test_frames_run_together_quotes_a_truncated_copy() -> None:
    long_line = "x" * 5000
    line = encode_response(ErrorReply("protocol_error", "m")).rstrip(b"\n") + encode_response(
        Stdout("a", long_line)
    ).rstrip(b"\n")
    got = assert_violation(decode_response(line), Kind.FRAMES_RUN_TOGETHER, line)
    assert len(got.data) == KEEP_LIMIT
    assert got.size == len(line)
    text = str(got)
    assert f"({len(line)} bytes in all)" in text
    assert len(text) < QUOTE_LIMIT * 2 + len(got.message) + 100


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("line", "what"),
    [
        (b"[1, 2]", "JSON array"),
        (b'"Started"', "JSON string"),
        (b"42", "JSON number"),
        (b"4.5", "JSON number"),
        (b"null", "JSON null"),
        (b"true", "JSON boolean"),
        (b'[{"type":"Started","payload":{"id":"a"}}]', "JSON array"),
    ],
)
def test_not_an_object(dialect: Dialect, line: bytes, what: str) -> None:
    assert_violation(
        decode_response(line, dialect), Kind.NOT_AN_OBJECT, line, what, "not an object"
    )
    assert_violation(decode_command(line, dialect), Kind.NOT_AN_OBJECT, line)
    assert_violation(parse_object(line), Kind.NOT_AN_OBJECT, line)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "line",
    [
        b"{}",
        b'{"payload":{"id":"a"}}',
        b'{"Type":"Started","id":"a"}',
        b'{"type":5,"id":"a"}',
        b'{"type":null}',
        b'{"type":["Started"]}',
        b'{"type":{"Started":{"id":"a"}}}',
    ],
)
def test_missing_type(dialect: Dialect, line: bytes) -> None:
    assert_violation(decode_response(line, dialect), Kind.MISSING_TYPE, line, "'type'")
    assert_violation(decode_command(line, dialect), Kind.MISSING_TYPE, line, "'type'")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("name", "hint"),
    [("Bogus", None), ("", None), ("Execute", None), ("Exit", None), ("Started ", None)],
)
def test_unknown_response_type(dialect: Dialect, name: str, hint: str | None) -> None:
    line = json.dumps({"type": name, "payload": {"id": "a"}, "id": "a"}).encode()
    got = assert_violation(
        decode_response(line, dialect), Kind.UNKNOWN_TYPE, line, f"unknown frame type {name!r}"
    )
    assert "did you mean" not in got.message and "docs" not in got.message


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("docs", "code"), [("Start", "Started"), ("StdOut", "Stdout"), ("StdErr", "Stderr")]
)
def test_unknown_type_docs_spelling_hint(dialect: Dialect, docs: str, code: str) -> None:
    line = json.dumps({"type": docs, "payload": {"id": "a", "line": "x"}}).encode()
    assert_violation(
        decode_response(line, dialect),
        Kind.UNKNOWN_TYPE,
        line,
        repr(docs),
        "prose docs",
        f"'{code}'",
    )


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("started", "Started"),
        ("STDOUT", "Stdout"),
        ("exitstatus", "ExitStatus"),
        ("error", "Error"),
        ("hello", "Hello"),
        ("SHUTDOWN", "Shutdown"),
        ("stdErr", "Stderr"),
    ],
)
def test_unknown_type_case_mismatch_hint(dialect: Dialect, name: str, meant: str) -> None:
    line = json.dumps({"type": name, "id": "a"}).encode()
    assert_violation(
        decode_response(line, dialect),
        Kind.UNKNOWN_TYPE,
        line,
        "case-sensitive",
        f"did you mean '{meant}'?",
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_command_type(dialect: Dialect) -> None:
    line = b'{"type":"Started","payload":{"id":"a"}}'
    got = assert_violation(decode_command(line, dialect), Kind.UNKNOWN_TYPE, line, "'Started'")
    assert "did you mean" not in got.message
    line = b'{"type":"execute","payload":{}}'
    assert_violation(decode_command(line, dialect), Kind.UNKNOWN_TYPE, line, "'Execute'")
    # The docs spellings are response names; no hint pointing a command at a response.
    line = b'{"type":"Start"}'
    got = assert_violation(decode_command(line, dialect), Kind.UNKNOWN_TYPE, line, "'Start'")
    assert "Started" not in got.message


RESPONSE_EXAMPLES: list[Response] = [
    HelloReply("0.2.1", ("f",)),
    SchemaReply("shell"),
    Started("a"),
    Stdout("a", "l"),
    Stderr("a", "l"),
    ExitStatus("a", 3),
    ErrorReply("a", "m"),
    ShutdownReply("bye"),
]


@pytest.mark.parametrize("resp", RESPONSE_EXAMPLES, ids=lambda r: r.TYPE)
def test_wrong_dialect_0_2_0_frame_to_0_2_1_host(resp: Response) -> None:
    line = encode_response(resp, V20).rstrip(b"\n")
    assert_violation(
        decode_response(line, V21),
        Kind.WRONG_DIALECT,
        line,
        resp.TYPE,
        "beside 'type'",
        "0.2.0",
        "inside 'payload'",
    )


@pytest.mark.parametrize("resp", RESPONSE_EXAMPLES, ids=lambda r: r.TYPE)
def test_wrong_dialect_0_2_1_frame_to_0_2_0_host(resp: Response) -> None:
    line = encode_response(resp, V21).rstrip(b"\n")
    assert_violation(
        decode_response(line, V20),
        Kind.WRONG_DIALECT,
        line,
        resp.TYPE,
        "inside 'payload'",
        "0.2.1",
        "beside 'type'",
    )


def test_wrong_dialect_with_some_fields_only() -> None:
    line = b'{"type":"Stdout","line":"x"}'  # 0.2.0 shape, id missing too
    assert_violation(decode_response(line, V21), Kind.WRONG_DIALECT, line)
    line = b'{"type":"Stdout","payload":{"id":"a"}}'  # 0.2.1 shape, line missing too
    assert_violation(decode_response(line, V20), Kind.WRONG_DIALECT, line)


@pytest.mark.parametrize("resp", RESPONSE_EXAMPLES, ids=lambda r: r.TYPE)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_missing_field(resp: Response, dialect: Dialect) -> None:
    """Every required field of every response, removed in turn."""
    full = json.loads(encode_response(resp, dialect))
    src = full["payload"] if dialect.adjacent else full
    for name in [k for k in src if k != "type"]:
        obj = json.loads(json.dumps(full))
        del (obj["payload"] if dialect.adjacent else obj)[name]
        line = json.dumps(obj).encode()
        assert_violation(
            decode_response(line, dialect),
            Kind.MISSING_FIELD,
            line,
            f"{resp.TYPE} lacks the required field '{name}'",
        )


@pytest.mark.parametrize("name", sorted(RESPONSE_TYPES))
def test_missing_payload_in_0_2_1(name: str) -> None:
    line = json.dumps({"type": name}).encode()
    assert_violation(
        decode_response(line, V21), Kind.MISSING_FIELD, line, f"{name} has no 'payload'"
    )
    line = json.dumps({"type": name, "payload": None}).encode()
    assert_violation(decode_response(line, V21), Kind.MISSING_FIELD, line, "'payload'")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_execute_payload_has_the_fields_of_the_table(dialect: Dialect) -> None:
    """The encoder writes exactly the table's fields, by their wire names in ``dialect``."""
    full = json.loads(encode_command(ExecuteCommand("p"), dialect))
    assert list(full["payload"]) == [f.wire_name(dialect) for f in EXECUTE_FIELDS]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("field", [f for f in EXECUTE_FIELDS if f.required], ids=lambda f: f.name)
def test_missing_field_in_execute(field: Field, dialect: Dialect) -> None:
    obj = json.loads(encode_command(ExecuteCommand("p"), dialect))
    name = field.wire_name(dialect)
    del obj["payload"][name]
    line = json.dumps(obj).encode()
    assert_violation(
        decode_command(line, dialect),
        Kind.MISSING_FIELD,
        line,
        f"Execute lacks the required field '{name}'",
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_missing_field_in_commands(dialect: Dialect) -> None:
    line = b'{"type":"Hello","payload":{"features":[]}}'
    assert_violation(decode_command(line, dialect), Kind.MISSING_FIELD, line, "'version'")
    line = b'{"type":"Execute"}'
    assert_violation(decode_command(line, dialect), Kind.MISSING_FIELD, line, "'payload'")


def test_execute_field_of_the_other_dialect_is_a_missing_field() -> None:
    """A 0.2.0 host's ``command`` is not ``params``: the field is missing for 0.2.1."""
    line = encode_command(ExecuteCommand("p"), V20).rstrip(b"\n")
    assert_violation(decode_command(line, V21), Kind.MISSING_FIELD, line, "'params'")
    line = encode_command(ExecuteCommand("p"), V21).rstrip(b"\n")
    assert_violation(decode_command(line, V20), Kind.MISSING_FIELD, line, "'command'")


def _exit(code: str) -> bytes:
    return b'{"type":"ExitStatus","payload":{"id":"a","code":' + code.encode() + b"}}"


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        (_exit("0.0"), ("ExitStatus.code", "32-bit signed integer", "got 0.0")),
        (_exit("1.5"), ("ExitStatus.code", "got 1.5")),
        (_exit("1e3"), ("ExitStatus.code", "got 1000.0")),
        (_exit("true"), ("ExitStatus.code", "got true")),
        (_exit("false"), ("ExitStatus.code", "got false")),
        (_exit("2147483648"), ("ExitStatus.code", "got 2147483648")),
        (_exit("-2147483649"), ("ExitStatus.code", "got -2147483649")),
        (_exit("99999999999999999999999"), ("ExitStatus.code",)),
        (_exit('"0"'), ("ExitStatus.code", 'got "0"')),
        (_exit("null"), ("ExitStatus.code", "got null")),
        (
            b'{"type":"Hello","payload":{"version":"0.2.1","features":[1]}}',
            ("Hello.features", "array of strings", "got [1]"),
        ),
        (
            b'{"type":"Hello","payload":{"version":"0.2.1","features":"x"}}',
            ("Hello.features", "array of strings"),
        ),
        (
            b'{"type":"Hello","payload":{"version":"0.2.1","features":["a",null]}}',
            ("Hello.features",),
        ),
        (b'{"type":"Hello","payload":{"version":1,"features":[]}}', ("Hello.version", "a string")),
        (b'{"type":"Stdout","payload":{"id":"a","line":5}}', ("Stdout.line", "a string", "got 5")),
        (b'{"type":"Stderr","payload":{"id":"a","line":null}}', ("Stderr.line", "got null")),
        (b'{"type":"Stdout","payload":{"id":"a","line":["x"]}}', ("Stdout.line",)),
        (b'{"type":"Started","payload":{"id":7}}', ("Started.id", "a string")),
        (b'{"type":"Error","payload":{"id":"a","message":{}}}', ("Error.message",)),
        (b'{"type":"Schema","payload":{"key":false}}', ("Schema.key",)),
        (b'{"type":"Shutdown","payload":{"message":0}}', ("Shutdown.message",)),
        (b'{"type":"Started","payload":"a"}', ("Started.payload", "not an object")),
        (b'{"type":"Started","payload":["a"]}', ("Started.payload",)),
    ],
)
def test_wrong_type_0_2_1(line: bytes, needles: tuple[str, ...]) -> None:
    assert_violation(decode_response(line, V21), Kind.WRONG_TYPE, line, *needles)


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        (b'{"type":"ExitStatus","id":"a","code":1.0}', ("ExitStatus.code", "got 1.0")),
        (b'{"type":"ExitStatus","id":"a","code":true}', ("ExitStatus.code", "got true")),
        (b'{"type":"ExitStatus","id":"a","code":4294967295}', ("ExitStatus.code",)),
        (b'{"type":"Hello","version":"0.2.0","features":[{}]}', ("Hello.features",)),
        (b'{"type":"Stdout","id":"a","line":1}', ("Stdout.line",)),
    ],
)
def test_wrong_type_0_2_0(line: bytes, needles: tuple[str, ...]) -> None:
    assert_violation(decode_response(line, V20), Kind.WRONG_TYPE, line, *needles)


@pytest.mark.parametrize("code", [I32_MIN, -1, 0, 1, I32_MAX])
def test_i32_bounds_are_accepted(code: int) -> None:
    assert decode_response(_exit(str(code))) == ExitStatus("a", code)


def test_wrong_type_message_truncates_the_value() -> None:
    line = _exit(json.dumps(["x" * 1000]))
    got = assert_violation(decode_response(line), Kind.WRONG_TYPE, line)
    assert len(got.message) < 200


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param(f, v, id=f"{f.name}={json.dumps(v)}")
        for f in EXECUTE_FIELDS
        for v in wrong_values(f.json_type)
    ],
)
def test_wrong_type_in_execute(field: Field, value: Any, dialect: Dialect) -> None:
    obj = json.loads(encode_command(ExecuteCommand("p"), dialect))
    name = field.wire_name(dialect)
    obj["payload"][name] = value
    line = json.dumps(obj).encode()
    got = assert_violation(decode_command(line, dialect), Kind.WRONG_TYPE, line, f"Execute.{name}")
    assert f"must be {field.json_type.value}" in got.message


def test_wrong_type_in_hello_command() -> None:
    line = b'{"type":"Hello","payload":{"version":"0.2.1","features":[2]}}'
    assert_violation(decode_command(line), Kind.WRONG_TYPE, line, "Hello.features")
    line = b'{"type":"Hello","payload":[]}'
    assert_violation(decode_command(line), Kind.WRONG_TYPE, line, "payload")


def test_violation_quotes_are_truncated() -> None:
    line = b'{"type":"Bogus","pad":"' + b"y" * 10_000 + b'"}'
    got = assert_violation(decode_response(line), Kind.UNKNOWN_TYPE, line)
    assert len(got.data) == KEEP_LIMIT
    assert got.size == len(line)
    text = str(got)
    assert text.endswith(f" ... ({len(line)} bytes in all)")
    assert "y" * (QUOTE_LIMIT + 1) not in text


# --- decoding never raises -----------------------------------------------------------

response_names = st.sampled_from([*RESPONSE_TYPES, *COMMAND_TYPES, "Start", "stdout", ""])
field_names = st.sampled_from(
    sorted(
        {"payload", "type"}
        | {
            f.wire_name(d)
            for table in (RESPONSE_FIELDS, {"Execute": EXECUTE_FIELDS})
            for fields in table.values()
            for f in fields
            for d in DIALECTS
        }
    )
)
fuzz_values = st.one_of(json_values, st.integers(), st.lists(st.integers(), max_size=3))
fuzz_objects = st.recursive(
    st.dictionaries(field_names, fuzz_values, max_size=6),
    lambda inner: st.dictionaries(field_names, fuzz_values | inner, max_size=6),
    max_leaves=6,
).flatmap(
    lambda d: st.one_of(
        st.just(d), response_names.map(lambda n: {**d, "type": n}), st.just({"payload": d})
    )
)


def fuzz_lines() -> st.SearchStrategy[bytes]:
    structured = fuzz_objects.map(lambda o: json.dumps(o, ensure_ascii=False).encode())
    valid = st.one_of(
        st.tuples(responses, dialects).map(lambda t: encode_response(*t)),
        st.tuples(commands, dialects).map(lambda t: encode_command(*t)),
    )

    def mangle(data: bytes, cut: int, junk: bytes) -> bytes:
        cut = cut % (len(data) + 1)
        return data[:cut] + junk + data[cut:]

    mangled = st.builds(mangle, valid | structured, st.integers(0, 10_000), st.binary(max_size=3))
    return st.one_of(st.binary(max_size=200), structured, valid, mangled)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(fuzz_lines(), dialects)
def test_decoding_never_raises(line: bytes, dialect: Dialect) -> None:
    for decode in (decode_response, decode_command):
        got = decode(line, dialect)  # type: ignore[operator]
        if isinstance(got, Violation):
            assert isinstance(got.kind, Kind)
            assert got.kind in DECODE_KINDS  # a line that does not decode is no frame
            assert got.message
            assert got.size == len(line)
            str(got)
        else:
            assert got.TYPE in (RESPONSE_TYPES if decode is decode_response else COMMAND_TYPES)
            # whatever decodes can be encoded again, and decodes to the same message
            if decode is decode_response:
                again = encode_response(got, dialect)  # type: ignore[arg-type]
                assert decode_response(again, dialect) == got
            else:
                again = encode_command(got, dialect)  # type: ignore[arg-type]
                assert decode_command(again, dialect) == got


@pytest.mark.parametrize(
    ("obj", "ident"),
    [
        ({"type": "ExitStatus", "payload": {"id": "a", "code": "0"}}, "a"),
        ({"type": "ExitStatus", "id": "a", "code": "0"}, "a"),  # dialect 0.2.0
        ({"type": "Stdout", "payload": {"id": 3}, "id": "b"}, "b"),  # payload.id no string
        ({"type": "ExitStatus", "payload": ["a"]}, None),
        ({"type": "ExitStatus", "payload": {"code": 0}}, None),
        ({"id": None}, None),
    ],
)
def test_named_id_reads_either_dialect(obj: dict[str, Any], ident: str | None) -> None:
    assert named_id(obj) == ident


@settings(max_examples=200, derandomize=True, deadline=None)
@given(fuzz_lines(), dialects)
def test_response_from_object_is_decode_response_after_parse_object(
    line: bytes, dialect: Dialect
) -> None:
    obj = parse_object(line)
    if isinstance(obj, dict):
        assert response_from_object(obj, line, dialect) == decode_response(line, dialect)
