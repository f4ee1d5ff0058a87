"""Hypothesis strategies generated from the protocol's field tables (protocol/fields.py).

Like a schema-driven generator, every strategy for a frame's payload is derived from the
table that the codec validates with: one strategy per JSON type, and a payload or message
is the fixed dictionary of its fields. A field's strategy can be overridden where a check
gives its values a meaning (the fuzzers' odd directories, say); the others follow the table,
so a field added to the protocol is generated, encoded and tested without being retyped.

The strategies are built once per process (module level): hypothesis validates a strategy
and computes its character tables on first use, not again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from octa_conformance.protocol.fields import I32_MAX, I32_MIN, Field, JsonType

# Any character that can be sent as UTF-8 (no lone surrogates). An explicit alphabet: the
# default one makes hypothesis compute a per-codec table (~1.5 s) in a fresh storage dir.
CHARS: st.SearchStrategy[str] = st.characters(exclude_categories=("Cs",))
TEXT: st.SearchStrategy[str] = st.text(CHARS, max_size=20)
"""Short strings of any characters."""

JSON_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(CHARS, max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
"""Any JSON value: scalars, and arrays and objects nested a few levels."""

WRONG_VALUES: tuple[Any, ...] = (0, -1, 1.5, True, None, "s", [], [1], ["s"], {}, {"a": 1})
"""A sample of JSON values of every type; :func:`wrong_values` picks the ones a type refuses."""


def values_of(
    json_type: JsonType,
    text: st.SearchStrategy[str] = TEXT,
    json_values: st.SearchStrategy[Any] = JSON_VALUES,
    max_size: int = 4,
) -> st.SearchStrategy[Any]:
    """Values of ``json_type`` as they appear on the wire (arrays as lists)."""
    if json_type is JsonType.STRING:
        return text
    if json_type is JsonType.STRING_ARRAY:
        return st.lists(text, max_size=max_size)
    if json_type is JsonType.STRING_MAP:
        return st.dictionaries(text, text, max_size=max_size)
    if json_type is JsonType.OBJECT:
        return st.dictionaries(text, json_values, max_size=max_size)
    if json_type is JsonType.BOOLEAN:
        return st.booleans()
    if json_type is JsonType.I32:
        return st.integers(I32_MIN, I32_MAX)
    raise AssertionError(f"no strategy for {json_type}")


def wrong_values(json_type: JsonType) -> tuple[Any, ...]:
    """The values of :data:`WRONG_VALUES` that a field of ``json_type`` must refuse."""
    return tuple(v for v in WRONG_VALUES if not json_type.accepts(v))


def payloads(
    fields: tuple[Field, ...],
    overrides: Mapping[str, st.SearchStrategy[Any]] | None = None,
    **values_kw: Any,
) -> st.SearchStrategy[dict[str, Any]]:
    """Dictionaries of every field, by attribute name: ``overrides[name]`` where given,
    else :func:`values_of` the field's type (``values_kw`` passed on)."""
    overrides = overrides or {}
    return st.fixed_dictionaries(
        {
            f.name: overrides[f.name]
            if f.name in overrides
            else values_of(f.json_type, **values_kw)
            for f in fields
        }
    )


def messages(cls: type, fields: tuple[Field, ...], **values_kw: Any) -> st.SearchStrategy[Any]:
    """Instances of a message class (``ExecuteCommand``, ``Started``...) with every field
    drawn from the table (arrays as tuples, as the codec decodes them)."""
    return st.builds(
        cls,
        **{
            f.name: values_of(f.json_type, **values_kw).map(tuple)
            if f.json_type.is_array
            else values_of(f.json_type, **values_kw)
            for f in fields
        },
    )
