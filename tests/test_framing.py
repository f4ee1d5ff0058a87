"""Unit tests of the incremental line framer (docs/protocol.md §2), in the style of h11's tests.

The central property: however the byte stream is cut into chunks, the framer yields the
same lines and the same violations, and never holds more than ``max_frame`` bytes.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octa_conformance.config import DEFAULT_MAX_FRAME
from octa_conformance.protocol import Kind, LineFramer, Violation
from octa_conformance.protocol.framing import Item
from octa_conformance.protocol.violations import KEEP_LIMIT

FAST = settings(max_examples=200, derandomize=True, deadline=None)

Norm = bytes | tuple[Kind, int, bytes, str]


def norm(items: list[Item]) -> list[Norm]:
    """Comparable form of framer output (violations by kind, size, data and message)."""
    return [
        (i.kind, i.size, i.data, i.message) if isinstance(i, Violation) else bytes(i) for i in items
    ]


def feed_chunks(framer: LineFramer, chunks: list[bytes], *, eof: bool = True) -> list[Item]:
    """Feed ``chunks`` one by one, checking the buffer bound after each, then ``eof()``."""
    out: list[Item] = []
    for chunk in chunks:
        got = framer.feed(chunk)
        assert all(isinstance(i, bytes | Violation) for i in got)
        out.extend(got)
        assert framer.buffered <= framer.max_frame
    if eof:
        out.extend(framer.eof())
        assert framer.buffered == 0
    return out


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def model(stream: bytes, max_frame: int) -> list[Norm]:
    """What the framer must produce for ``stream``, computed the obvious way."""
    *lines, tail = stream.split(b"\n")
    out: list[Norm] = []
    for line in lines:
        if len(line) > max_frame:
            out.append((Kind.FRAME_TOO_LONG, len(line), line[:KEEP_LIMIT], ""))
        else:
            out.append(line)
    if len(tail) > max_frame:
        out.append((Kind.FRAME_TOO_LONG, len(tail), tail[:KEEP_LIMIT], ""))
    elif tail:
        out.append((Kind.UNTERMINATED_FRAME, len(tail), tail[:KEEP_LIMIT], ""))
    return out


def without_messages(items: list[Norm]) -> list[Norm]:
    return [(*i[:3], "") if isinstance(i, tuple) else i for i in items]


# --- chunking invariance ------------------------------------------------------------

line_bytes = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))
streams = st.builds(
    lambda lines, tail: b"".join(line + b"\n" for line in lines) + tail,
    st.lists(line_bytes | st.sampled_from([b"", b"\r", b'{"type":"Schema"}\r']), max_size=12),
    line_bytes | st.just(b""),
)


@FAST
@given(streams, st.lists(st.integers(min_value=0), max_size=30), st.integers(1, 48))
def test_arbitrary_chunking_gives_the_same_items(
    stream: bytes, cuts: list[int], max_frame: int
) -> None:
    whole = norm(feed_chunks(LineFramer(max_frame), [stream]))
    chunked = norm(feed_chunks(LineFramer(max_frame), split_at(stream, cuts)))
    assert chunked == whole
    assert without_messages(whole) == model(stream, max_frame)


@FAST
@given(streams, st.integers(1, 48))
def test_one_byte_chunks_give_the_same_items(stream: bytes, max_frame: int) -> None:
    whole = norm(feed_chunks(LineFramer(max_frame), [stream]))
    bytewise = norm(feed_chunks(LineFramer(max_frame), [bytes([b]) for b in stream]))
    assert bytewise == whole
    assert without_messages(whole) == model(stream, max_frame)


@FAST
@given(
    st.lists(st.binary(min_size=1, max_size=300).map(lambda b: b.replace(b"\n", b"x")), max_size=6),
    st.lists(st.integers(min_value=0), max_size=40),
)
def test_chunking_with_the_default_limit(lines: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    framer = LineFramer()
    assert framer.max_frame == DEFAULT_MAX_FRAME
    assert feed_chunks(framer, split_at(stream, cuts)) == lines


# --- basics -------------------------------------------------------------------------


def test_several_frames_in_one_chunk() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"a":1}\n{"b":2}\n\n{"c":3}\n') == [
        b'{"a":1}',
        b'{"b":2}',
        b"",
        b'{"c":3}',
    ]
    assert framer.buffered == 0
    assert framer.eof() == []


def test_partial_line_is_held_until_its_newline() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert framer.buffered == 4
    assert framer.feed(b":2") == []
    assert framer.buffered == 6
    assert framer.feed(b"}") == []
    assert framer.feed(b"\n{") == [b'{"b":2}']
    assert framer.buffered == 1
    assert framer.feed(b"}\n") == [b"{}"]
    assert framer.buffered == 0


def test_empty_chunks_and_empty_lines() -> None:
    framer = LineFramer()
    assert framer.feed(b"") == []
    assert framer.feed(b"\n") == [b""]
    assert framer.feed(b"") == []
    assert framer.feed(b"\n\n") == [b"", b""]
    assert framer.eof() == []


def test_crlf_is_passed_through_for_the_codec_to_trim() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"a":1}\r\n{"b":2}\r') == [b'{"a":1}\r']
    assert framer.feed(b"\n") == [b'{"b":2}\r']


def test_eof_reports_an_unterminated_frame() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"a":1}\n{"type":"Std') == [b'{"a":1}']
    (v,) = framer.eof()
    assert isinstance(v, Violation)
    assert v.kind is Kind.UNTERMINATED_FRAME
    assert v.data == b'{"type":"Std'
    assert v.size == len(b'{"type":"Std')
    assert "closed in the middle of a frame" in v.message
    assert '\'{"type":"Std\'' in str(v)
    assert framer.buffered == 0


def test_eof_after_a_complete_line_reports_nothing() -> None:
    framer = LineFramer()
    assert framer.feed(b"x\n") == [b"x"]
    assert framer.eof() == []
    assert framer.eof() == []  # idempotent


def test_unterminated_frame_keeps_a_bounded_copy() -> None:
    framer = LineFramer(max_frame=10 * KEEP_LIMIT)
    framer.feed(b"y" * (3 * KEEP_LIMIT))
    (v,) = framer.eof()
    assert isinstance(v, Violation)
    assert v.kind is Kind.UNTERMINATED_FRAME
    assert v.data == b"y" * KEEP_LIMIT
    assert v.size == 3 * KEEP_LIMIT
    assert f"({3 * KEEP_LIMIT} bytes in all)" in str(v)


def test_feed_after_eof_is_a_usage_error() -> None:
    framer = LineFramer()
    framer.eof()
    with pytest.raises(RuntimeError):
        framer.feed(b"x\n")


@pytest.mark.parametrize("bad", [0, -1])
def test_max_frame_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError):
        LineFramer(bad)


# --- the size limit -----------------------------------------------------------------

MAX = 16


def too_long(item: Item, size: int, head: bytes, *, closed: bool = False) -> None:
    assert isinstance(item, Violation), item
    assert item.kind is Kind.FRAME_TOO_LONG
    assert item.size == size
    assert item.data == head[:KEEP_LIMIT]
    assert f"a frame of {size} bytes exceeds the harness limit of {MAX} bytes" in item.message
    assert ("closed before its" in item.message) is closed
    assert repr(head[:20])[2:-1] in str(item)


@pytest.mark.parametrize("chunk", [1, 2, 5, MAX, MAX + 1, 1000])
def test_line_of_exactly_max_frame_is_accepted(chunk: int) -> None:
    line = bytes(range(65, 65 + MAX))
    stream = line + b"\n" + line + b"\nok\n"
    framer = LineFramer(MAX)
    chunks = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
    assert feed_chunks(framer, chunks) == [line, line, b"ok"]


def test_frame_too_long_in_one_chunk() -> None:
    framer = LineFramer(MAX)
    line = b"z" * (MAX + 1)
    items = framer.feed(b"a\n" + line + b"\nb\n")
    assert items[0] == b"a"
    too_long(items[1], MAX + 1, line)
    assert items[2:] == [b"b"]
    assert framer.buffered == 0


def test_frame_too_long_growing_across_chunks_is_reported_once() -> None:
    framer = LineFramer(MAX)
    line = bytes(range(33, 33 + 90))
    items: list[Item] = []
    for b in line:  # one byte at a time: the limit is crossed mid-stream
        items += framer.feed(bytes([b]))
        assert framer.buffered <= MAX
    assert items == []  # nothing reported until the line ends...
    items += framer.feed(b"\nnext\n")
    assert len(items) == 2  # ...then exactly once, and the framer resyncs
    too_long(items[0], len(line), line)
    assert items[1] == b"next"
    assert framer.buffered == 0


def test_frame_too_long_crossing_the_limit_with_its_newline() -> None:
    framer = LineFramer(MAX)
    assert framer.feed(b"x" * MAX) == []
    assert framer.buffered == MAX
    items = framer.feed(b"yy\nz\n")
    too_long(items[0], MAX + 2, b"x" * MAX + b"yy")
    assert items[1:] == [b"z"]


def test_frame_too_long_then_more_over_long_lines() -> None:
    framer = LineFramer(MAX)
    a, b = b"a" * 40, b"b" * 50
    items = feed_chunks(framer, [a[:10], a[10:] + b"\n" + b[:30], b[30:] + b"\nc\n" + a + b"\n"])
    assert len(items) == 4
    too_long(items[0], 40, a)
    too_long(items[1], 50, b)
    assert items[2] == b"c"
    too_long(items[3], 40, a)


def test_frame_too_long_at_eof_is_reported_once_not_as_unterminated() -> None:
    framer = LineFramer(MAX)
    line = b"q" * 100
    assert framer.feed(line[:50]) == []
    assert framer.feed(line[50:]) == []
    (v,) = framer.eof()
    too_long(v, 100, line, closed=True)


def test_frame_too_long_data_is_bounded_and_size_is_the_full_length() -> None:
    framer = LineFramer(MAX)
    line = bytes(range(256)) * 40  # 10240 bytes, with newlines replaced below
    line = line.replace(b"\n", b"_")
    items = feed_chunks(framer, [line[:7], line[7:5000], line[5000:] + b"\n"])
    (v,) = items
    too_long(v, len(line), line)
    assert len(v.data) == KEEP_LIMIT
    assert f"({len(line)} bytes in all)" in str(v)


def test_head_of_an_over_long_line_does_not_depend_on_chunking() -> None:
    line = b"".join(bytes([48 + i % 10]) for i in range(200))
    one = LineFramer(MAX).feed(line + b"\n")
    many = feed_chunks(LineFramer(MAX), [line[: MAX + 1], line[MAX + 1 :], b"\n"], eof=False)
    assert norm(many) == norm(one)
    too_long(one[0], 200, line)


@FAST
@given(
    st.lists(
        st.tuples(st.integers(0, 3 * MAX), st.booleans()),
        min_size=1,
        max_size=10,
    ),
    st.lists(st.integers(min_value=0), max_size=30),
)
def test_buffer_never_exceeds_max_frame(lines: list[tuple[int, bool]], cuts: list[int]) -> None:
    stream = b"".join(b"L" * n + (b"\n" if nl else b"") for n, nl in lines)
    framer = LineFramer(MAX)
    items = feed_chunks(framer, split_at(stream, cuts))  # asserts the bound after each feed
    assert without_messages(norm(items)) == model(stream, MAX)
    assert sum(isinstance(i, Violation) for i in items) == sum(
        len(p) > MAX for p in stream.split(b"\n")
    ) + (0 < len(stream.split(b"\n")[-1]) <= MAX)
