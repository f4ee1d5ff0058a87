"""The fields of every frame's payload, defined once (docs/protocol.md §3).

Each field has its name, its JSON type, whether it is required, and its wire name where a
dialect spells it differently (``Execute.params`` is ``command`` in dialect 0.2.0). The
codec encodes and validates frames from these tables, the fuzzers generate payloads from
them (``octa_conformance.protocol_strategies``) and the codec's tests iterate them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from octa_conformance.protocol.dialect import Dialect

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_i32(v: Any) -> bool:
    return type(v) is int and I32_MIN <= v <= I32_MAX


def _is_bool(v: Any) -> bool:
    return type(v) is bool


def _is_str_list(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)


def _is_str_map(v: Any) -> bool:
    return type(v) is dict and all(type(x) is str for x in v.values())


def _is_object(v: Any) -> bool:
    return type(v) is dict


class JsonType(enum.Enum):
    """The JSON type of a field, as serde (so Octa and the SDK) accepts it.

    Its value is the phrase a violation uses: "``Execute.dry`` must be a boolean".
    """

    STRING = "a string"
    STRING_ARRAY = "an array of strings"
    STRING_MAP = "an object of strings"
    OBJECT = "an object"
    BOOLEAN = "a boolean"
    I32 = "a 32-bit signed integer"

    def accepts(self, value: Any) -> bool:
        """Whether a decoded JSON value has this type."""
        return _PREDICATES[self](value)

    @property
    def predicate(self) -> Callable[[Any], bool]:
        """:meth:`accepts` as a plain function (for the codec's hot path)."""
        return _PREDICATES[self]

    @property
    def is_array(self) -> bool:
        """Whether values are JSON arrays (kept as tuples in the message classes)."""
        return self is JsonType.STRING_ARRAY


_PREDICATES = {
    JsonType.STRING: _is_str,
    JsonType.STRING_ARRAY: _is_str_list,
    JsonType.STRING_MAP: _is_str_map,
    JsonType.OBJECT: _is_object,
    JsonType.BOOLEAN: _is_bool,
    JsonType.I32: _is_i32,
}


@dataclass(frozen=True)
class Field:
    """One field of a payload: ``name`` is the message class's attribute."""

    name: str
    json_type: JsonType
    required: bool = True
    spelled: Mapping[Dialect, str] = field(default_factory=lambda: MappingProxyType({}))

    def wire_name(self, dialect: Dialect) -> str:
        """The field's name on the wire in ``dialect``."""
        return self.spelled.get(dialect, self.name)


def _fields(*spec: tuple[str, JsonType]) -> tuple[Field, ...]:
    return tuple(Field(name, json_type) for name, json_type in spec)


STRING = JsonType.STRING

EXECUTE_FIELDS: tuple[Field, ...] = (
    Field("params", STRING, spelled=MappingProxyType({Dialect.V0_2_0: "command"})),
    Field("args", JsonType.STRING_ARRAY),
    Field("dir", STRING),
    Field("envs", JsonType.STRING_MAP),
    Field("vars", JsonType.OBJECT),
    Field("dry", JsonType.BOOLEAN),
)
"""``Execute``'s payload: every field is required (serde refuses a frame without one)."""

HELLO_FIELDS: tuple[Field, ...] = _fields(("version", STRING), ("features", JsonType.STRING_ARRAY))
"""``Hello``'s payload, both directions (the host may send more: ``HelloCommand.extra``)."""

COMMAND_FIELDS: Mapping[str, tuple[Field, ...]] = MappingProxyType(
    {"Hello": HELLO_FIELDS, "Schema": (), "Execute": EXECUTE_FIELDS, "Shutdown": ()}
)
"""The payload fields of each host command, by frame type."""

RESPONSE_FIELDS: Mapping[str, tuple[Field, ...]] = MappingProxyType(
    {
        "Hello": HELLO_FIELDS,
        "Schema": _fields(("key", STRING)),
        "Started": _fields(("id", STRING)),
        "Stdout": _fields(("id", STRING), ("line", STRING)),
        "Stderr": _fields(("id", STRING), ("line", STRING)),
        "ExitStatus": _fields(("id", STRING), ("code", JsonType.I32)),
        "Error": _fields(("id", STRING), ("message", STRING)),
        "Shutdown": _fields(("message", STRING)),
    }
)
"""The payload fields of each plugin response, by frame type."""
