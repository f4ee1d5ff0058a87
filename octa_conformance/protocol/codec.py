"""Encoding and decoding of single frames, both directions, both dialects (sans-IO).

``decode_*`` never raise on bad input: they return a :class:`Violation` that says what
was wrong and quotes the bytes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from octa_conformance.protocol.dialect import Dialect
from octa_conformance.protocol.fields import (
    COMMAND_FIELDS,
    RESPONSE_FIELDS,
    Field,
)
from octa_conformance.protocol.messages import (
    COMMAND_TYPES,
    DOCS_SPELLINGS,
    RESPONSE_TYPES,
    Command,
    HelloCommand,
    Response,
)
from octa_conformance.protocol.violations import Kind, Violation

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (and serde_json, so Octa) does not.
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # serde_json: "number out of range"
        raise ValueError(f"number {text[:40]} is out of range")
    return value


_decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_loads = _decoder.decode
_scan_once = _decoder.scan_once  # what decode() runs, minus its whitespace handling
_FAST_PATH_BRACKETS = 100  # nesting this shallow is far from any recursion limit
_raw_decoder = _decoder
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}

# The codec's view of the field tables (fields.py): per frame type and dialect, what it
# walks for each frame: (wire name, type predicate, type phrase, attribute, array, required).
_Spec = tuple[str, Callable[[Any], bool], str, str, bool, bool]


def _specs(fields: tuple[Field, ...], dialect: Dialect) -> tuple[_Spec, ...]:
    return tuple(
        (
            f.wire_name(dialect),
            f.json_type.predicate,
            f.json_type.value,
            f.name,
            f.json_type.is_array,
            f.required,
        )
        for f in fields
    )


_COMMAND_SPECS = {
    (name, d): _specs(fields, d) for name, fields in COMMAND_FIELDS.items() for d in Dialect
}
_RESPONSE_SPECS = {
    (name, d): _specs(fields, d) for name, fields in RESPONSE_FIELDS.items() for d in Dialect
}


# --- encoding ---------------------------------------------------------------------


def _payload(msg: Command | Response, specs: tuple[_Spec, ...]) -> dict[str, Any]:
    """A message's fields as JSON values, by their wire names (arrays as lists, objects
    copied)."""
    out = {}
    for wire, _, _, attr, array, _ in specs:
        value = getattr(msg, attr)
        out[wire] = list(value) if array else dict(value) if type(value) is dict else value
    return out


def command_to_json(cmd: Command, dialect: Dialect = Dialect.V0_2_1) -> dict[str, Any]:
    """The JSON object for a host command (adjacently tagged in both dialects)."""
    specs = _COMMAND_SPECS[cmd.TYPE, dialect]
    if not specs:
        return {"type": cmd.TYPE}
    payload = _payload(cmd, specs)
    if isinstance(cmd, HelloCommand):
        payload.update(cmd.extra)
    return {"type": cmd.TYPE, "payload": payload}


def encode_command(cmd: Command, dialect: Dialect = Dialect.V0_2_1) -> bytes:
    """One newline-terminated frame for a host command."""
    return (_dumps(command_to_json(cmd, dialect)) + "\n").encode()


def response_to_json(resp: Response, dialect: Dialect = Dialect.V0_2_1) -> dict[str, Any]:
    """The JSON object for a plugin response in ``dialect``."""
    fields = _payload(resp, _RESPONSE_SPECS[resp.TYPE, dialect])
    if dialect.adjacent:
        return {"type": resp.TYPE, "payload": fields}
    return {"type": resp.TYPE, **fields}


def encode_response(resp: Response, dialect: Dialect = Dialect.V0_2_1) -> bytes:
    """One newline-terminated frame for a plugin response."""
    return (_dumps(response_to_json(resp, dialect)) + "\n").encode()


# --- decoding ---------------------------------------------------------------------


def _has_lone_surrogate(obj: Any) -> bool:
    """Whether any string (or key) in ``obj`` holds an unpaired surrogate (iteratively)."""
    stack = [obj]
    while stack:
        v = stack.pop()
        if type(v) is str:
            if _SURROGATE.search(v):
                return True
        elif type(v) is dict:
            stack.extend(v.keys())
            stack.extend(v.values())
        elif type(v) is list:
            stack.extend(v)
    return False


def parse_object(line: bytes) -> dict[str, Any] | Violation:
    """Trim, decode UTF-8 and parse one JSON object, or say why not."""
    data = line.strip()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        at = e.start + len(line) - len(line.lstrip())  # an offset into the quoted bytes
        return Violation.of(
            Kind.INVALID_UTF8, f"frame is not valid UTF-8 (byte {at}: {e.reason})", line
        )
    try:
        # Fast path: the C scanner alone (no leading whitespace after strip()). A line with
        # many brackets (deep nesting, where the stack depth of the call decides about a
        # RecursionError) or that it does not consume whole takes the full decoder.
        end = -1
        if text.count("[") + text.count("{") <= _FAST_PATH_BRACKETS:
            try:
                obj, end = _scan_once(text, 0)
            except StopIteration:  # no JSON value at all
                end = -1
        if end != len(text):
            obj = _loads(text)
    except RecursionError:
        return Violation.of(Kind.INVALID_JSON, "frame is not valid JSON (nested too deeply)", line)
    except ValueError as e:
        if not text:
            return Violation.of(
                Kind.INVALID_JSON, "empty line where a JSON frame was expected", line
            )
        try:
            first, end = _raw_decoder.raw_decode(text)
        except (ValueError, RecursionError):
            first, end = None, 0
        if type(first) is not dict or not text[end:].lstrip().startswith("{"):
            return Violation.of(Kind.INVALID_JSON, f"frame is not valid JSON ({e})", line)
        return Violation.of(
            Kind.FRAMES_RUN_TOGETHER,
            f"a JSON frame is followed by more data on the same line at character {end}"
            " (a frame was written without its terminating \\n)",
            line,
        )
    if "\\u" in text and _has_lone_surrogate(obj):
        return Violation.of(
            Kind.INVALID_JSON,
            "frame is not valid JSON (a \\u escape is an unpaired UTF-16 surrogate)",
            line,
        )
    if type(obj) is not dict:
        what = _JSON_NAMES.get(type(obj), "null")
        return Violation.of(Kind.NOT_AN_OBJECT, f"frame is a JSON {what}, not an object", line)
    return obj


def detect_dialect(obj: dict[str, Any]) -> Dialect | None:
    """Which dialect a decoded response object is written in, if it tells."""
    if "payload" in obj:
        return Dialect.V0_2_1
    if len(obj) > 1:
        return Dialect.V0_2_0
    return None


def _fields(
    obj: dict[str, Any],
    type_name: str,
    specs: tuple[_Spec, ...],
    adjacent: bool,
    line: bytes,
) -> dict[str, Any] | Violation:
    """Pick and validate the fields of a variant from ``obj``, by attribute name."""
    if adjacent:
        src = obj.get("payload")
        if src is None:
            if any(spec[0] in obj for spec in specs):
                return Violation.of(
                    Kind.WRONG_DIALECT,
                    f"{type_name} has its fields beside 'type' (dialect 0.2.0, internally"
                    " tagged); dialect 0.2.1 expects them inside 'payload'",
                    line,
                )
            return Violation.of(Kind.MISSING_FIELD, f"{type_name} has no 'payload'", line)
        if type(src) is not dict:
            return Violation.of(Kind.WRONG_TYPE, f"{type_name}.payload is not an object", line)
    else:
        src = obj
    out = {}
    for name, ok, what, attr, _, required in specs:
        if name not in src:
            if not required:
                continue
            payload = obj.get("payload")
            if not adjacent and type(payload) is dict and name in payload:
                return Violation.of(
                    Kind.WRONG_DIALECT,
                    f"{type_name} has its fields inside 'payload' (dialect 0.2.1, adjacently"
                    " tagged); dialect 0.2.0 expects them beside 'type'",
                    line,
                )
            return Violation.of(
                Kind.MISSING_FIELD, f"{type_name} lacks the required field '{name}'", line
            )
        value = src[name]
        if not ok(value):
            return Violation.of(
                Kind.WRONG_TYPE,
                f"{type_name}.{name} must be {what}, got {_dumps(value)[:60]}",
                line,
            )
        out[attr] = tuple(value) if type(value) is list else value
    return out


def _type_of(obj: dict[str, Any], known: dict[str, type], line: bytes) -> str | Violation:
    name = obj.get("type")
    if type(name) is not str:
        return Violation.of(Kind.MISSING_TYPE, "frame has no string field 'type'", line)
    if name not in known:
        hint = ""
        if DOCS_SPELLINGS.get(name) in known:
            hint = (
                f" (the prose docs spell it '{name}', but Octa's code expects"
                f" '{DOCS_SPELLINGS[name]}')"
            )
        else:
            for k in known:
                if k.lower() == name.lower():
                    hint = f" (type names are case-sensitive: did you mean '{k}'?)"
        return Violation.of(Kind.UNKNOWN_TYPE, f"unknown frame type {name!r}{hint}", line)
    return name


def decode_response(line: bytes, dialect: Dialect = Dialect.V0_2_1) -> Response | Violation:
    """Decode one plugin frame (without its ``\\n``) for a host of ``dialect``."""
    obj = parse_object(line)
    if type(obj) is not dict:
        return obj  # type: ignore[return-value]
    return response_from_object(obj, line, dialect)


def named_id(obj: dict[str, Any]) -> str | None:
    """The execution id a response object names, read in either dialect (``payload.id``
    or ``id`` beside ``type``), whether or not the frame decodes; None if it names none."""
    payload = obj.get("payload")
    if type(payload) is dict and type(payload.get("id")) is str:
        return payload["id"]  # type: ignore[no-any-return]
    ident = obj.get("id")
    return ident if type(ident) is str else None


def response_from_object(
    obj: dict[str, Any], line: bytes, dialect: Dialect = Dialect.V0_2_1
) -> Response | Violation:
    """Decode a parsed JSON object (from ``line``, quoted in violations) as a response."""
    name = _type_of(obj, RESPONSE_TYPES, line)
    if type(name) is not str:
        return name  # type: ignore[return-value]
    adjacent = dialect is Dialect.V0_2_1  # == dialect.adjacent, without the property call
    fields = _fields(obj, name, _RESPONSE_SPECS[name, dialect], adjacent, line)
    if type(fields) is not dict:
        return fields  # type: ignore[return-value]
    return RESPONSE_TYPES[name](**fields)


def decode_command(line: bytes, dialect: Dialect = Dialect.V0_2_1) -> Command | Violation:
    """Decode one host frame (used by tests and by plugins written with this library)."""
    obj = parse_object(line)
    if type(obj) is not dict:
        return obj  # type: ignore[return-value]
    name = _type_of(obj, COMMAND_TYPES, line)
    if type(name) is not str:
        return name  # type: ignore[return-value]
    specs = _COMMAND_SPECS[name, dialect]
    if not specs:  # Schema, Shutdown: whatever else the frame holds is ignored
        return COMMAND_TYPES[name]()  # type: ignore[no-any-return]
    fields = _fields(obj, name, specs, True, line)
    if type(fields) is not dict:
        return fields  # type: ignore[return-value]
    if name == "Hello":
        known = {spec[0] for spec in specs}
        fields["extra"] = {k: v for k, v in obj["payload"].items() if k not in known}
    return COMMAND_TYPES[name](**fields)  # type: ignore[no-any-return]
