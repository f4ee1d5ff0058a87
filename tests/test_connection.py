"""StreamConnection: every byte handed on, floods skimmed or cut off (connection.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from octa_conformance.connection import Flood, StreamConnection, flood_prefix

BOUND = 100  # flood_lines for these tests


def stdout(ident: str, n: int) -> bytes:
    return b'{"type":"Stdout","payload":{"id":"%s","line":"flood %d\\n"}}\n' % (ident.encode(), n)


EXIT = b'{"type":"ExitStatus","payload":{"id":"x","code":0}}\n'
ADJACENT = b'{"type":"Stdout","payload":{"id":"x","line":"'
INTERNAL = b'{"type":"Stdout","id":"x","line":"'


@dataclass
class Seen:
    data: list[bytes] = field(default_factory=list)
    floods: list[Flood] = field(default_factory=list)
    eof: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def lines(self) -> list[bytes]:
        return b"".join(self.data).splitlines(keepends=True)


async def connected(
    body: Callable[[StreamConnection, socket.socket, Seen], Awaitable[None]], **kw: int
) -> Seen:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    seen = Seen()

    def eof() -> None:
        seen.eof = True

    conn = StreamConnection(
        reader,
        writer,
        on_data=seen.data.append,
        on_eof=eof,
        on_end=seen.ended.set,
        on_flood=seen.floods.append,
        flood_lines=BOUND,
        **kw,
    )
    try:
        await asyncio.wait_for(body(conn, theirs, seen), 10)
    finally:
        await conn.close(1)
        theirs.close()
    return seen


async def send_all(sock: socket.socket, data: bytes) -> None:
    await asyncio.get_running_loop().sock_sendall(sock, data)


async def test_a_flood_of_one_ids_output_is_skimmed_and_the_terminal_frame_still_arrives() -> None:
    total = 5_000

    async def body(conn: StreamConnection, plugin: socket.socket, seen: Seen) -> None:
        plugin.setblocking(False)
        await send_all(plugin, b"".join(stdout("x", i) for i in range(total)) + EXIT)
        plugin.shutdown(socket.SHUT_WR)
        await seen.ended.wait()

    seen = await connected(body)
    lines = seen.lines
    assert lines[-1] == EXIT and seen.eof  # read to the end, the terminal frame included
    handed = len(lines) - 1
    assert BOUND < handed < total  # the flood was cut short...
    assert lines[:handed] == [stdout("x", i) for i in range(handed)]  # ...in order, unchanged
    skipped = [f for f in seen.floods if "were skipped unread" in f.note]
    assert [f.ended for f in seen.floods] == [False, False]
    assert f"{total - handed:,} lines" in skipped[0].note  # counted exactly, said as skipped
    assert '"id":"x","line":"' in seen.floods[0].note


async def test_a_write_ends_the_skim() -> None:
    async def body(conn: StreamConnection, plugin: socket.socket, seen: Seen) -> None:
        plugin.setblocking(False)
        await send_all(plugin, b"".join(stdout("x", i) for i in range(3 * BOUND)))
        while not seen.floods:
            await asyncio.sleep(0.005)
        await conn.write(b"next\n", 1)
        await send_all(plugin, stdout("x", -1))
        plugin.shutdown(socket.SHUT_WR)
        await seen.ended.wait()

    seen = await connected(body)
    assert seen.lines[-1] == stdout("x", -1)  # after the write, read again


async def test_a_flood_without_one_id_stops_reading() -> None:
    async def body(conn: StreamConnection, plugin: socket.socket, seen: Seen) -> None:
        plugin.setblocking(False)
        await send_all(plugin, b"".join(stdout(f"id-{i}", i) for i in range(3 * BOUND)))
        await seen.ended.wait()

    seen = await connected(body)
    assert [f.ended for f in seen.floods] == [True]
    assert "stopped reading" in seen.floods[0].note
    assert not seen.eof  # the plugin did not close anything
    assert conn_lines(seen) > BOUND


async def test_a_skim_that_goes_on_too_long_stops_reading() -> None:
    async def body(conn: StreamConnection, plugin: socket.socket, seen: Seen) -> None:
        plugin.setblocking(False)
        flood = b"".join(stdout("x", i) for i in range(200 * BOUND))
        sender = asyncio.ensure_future(send_all(plugin, flood))  # blocks once reading stops
        await seen.ended.wait()
        sender.cancel()

    seen = await connected(body, skim_lines=5 * BOUND)
    assert seen.floods[-1].ended and "stopped reading" in seen.floods[-1].note
    assert not seen.eof


def conn_lines(seen: Seen) -> int:
    return len(seen.lines)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([stdout("x", i).rstrip() for i in range(100, 120)], ADJACENT),
        ([stdout(f"s{i}", i).rstrip() for i in range(100, 120)], None),  # ids vary
        ([INTERNAL + b'a%d"}' % i for i in range(20)], INTERNAL),
        ([b'{"type":"ExitStatus","payload":{"id":"x","code":%d}}' % i for i in range(20)], None),
        ([b"garbage %d" % i for i in range(20)], None),
    ],
)  # fmt: skip
def test_flood_prefix(lines: list[bytes], expected: bytes | None) -> None:
    assert flood_prefix(lines) == expected
