"""FakeOcta against the example plugin and against scripted in-process peers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shlex
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from octa_conformance.config import HarnessConfig, Timeouts
from octa_conformance.host import (
    ConnectionClosed,
    FakeOcta,
    MalformedReply,
    PluginRefused,
    ReplyTimeout,
    UndecodableTerminal,
    launch,
)
from octa_conformance.protocol import (
    Closed,
    ErrorReply,
    HelloCommand,
    HelloReply,
    Kind,
    NotKept,
    Received,
    SchemaCommand,
    Started,
    Stdout,
    Violation,
    tally,
)
from octa_conformance.protocol.session import Stage
from octa_conformance.protocol.violations import KEEP_FIRST, KEEP_LAST

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "octa_plugin_shell.py"
FAST = HarnessConfig(timeouts=Timeouts().scaled(0.2))


async def test_full_session_with_20_concurrent_commands() -> None:
    async with launch(EXAMPLE) as host:
        hello, schema = await host.handshake()
        assert schema.key == "shell" and isinstance(hello.version, str)
        runs = []
        for k in range(20):
            text = "\n".join(f"cmd{k}-line{i}" for i in range(50))
            runs.append(await host.execute(f"printf '%s\\n' {shlex.quote(text)}", dir="/"))
        results = [await run.result() for run in runs]
        for k, res in enumerate(results):
            assert res.exit_code == 0
            assert res.stdout_lines == [f"cmd{k}-line{i}\n" for i in range(50)]
        assert len(set(host.ids)) == 20
        reply = await host.shutdown()
        assert reply.message
        assert await host.process.wait_exit(FAST.timeouts.exit * 5) == 0
        assert host.violations == []
        directions = {e.direction for e in host.transcript.entries}
        assert {"host", "plugin"} <= directions


async def test_run_iteration_and_refusal() -> None:
    async with launch(EXAMPLE) as host:
        run = await host.execute("echo a; echo b >&2; exit 3", dir="/")  # before Hello
        with pytest.raises(PluginRefused) as err:
            await run.started()
        assert "Error" in str(err.value) and run.execution.refused is not None
        await host.handshake()
        run = await host.execute("echo a; echo b >&2; exit 3", dir="/")
        frames = [f async for f in run]
        kinds = [type(f).__name__ for f in frames]
        assert kinds[0] == "Started" and kinds[-1] == "ExitStatus"
        res = run.snapshot()
        assert (res.stdout, res.stderr, res.exit_code) == ("a", "b", 3)


# --- scripted peers: a unix server in this process plays the plugin ----------------

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def scripted(script: Script, config: HarnessConfig = FAST) -> AsyncIterator[FakeOcta]:
    """FakeOcta (with ``config``) on a connection to ``script``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.sock")

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                await script(r, w)
            w.close()

        server = await asyncio.start_unix_server(handle, path)
        try:
            reader, writer = await asyncio.open_unix_connection(path)
            host = FakeOcta(reader, writer, config=config)
            try:
                yield host
            finally:
                await host.close()
        finally:
            server.close()


async def test_malformed_reply_to_hello_is_a_violation_not_a_crash() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readline()
        w.write(b'{"type":"Hello","version":"0.2.1","features":[]}\n')  # 0.2.0 dialect
        await w.drain()
        await r.readline()

    async with scripted(script) as host:
        with pytest.raises(MalformedReply, match="dialect 0"):
            await host.hello()
        assert [v.kind for v in host.violations] == [Kind.WRONG_DIALECT]


async def test_unknown_ids_and_late_frames_are_recorded() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readline()
        w.write(b'{"type":"Hello","payload":{"version":"0.2.1","features":[]}}\n')
        w.write(b'{"type":"Stdout","payload":{"id":"ghost","line":"x"}}\n')
        await w.drain()
        await r.readline()
        w.write(b'{"type":"Started","payload":{"id":"a"}}\n')
        w.write(b'{"type":"ExitStatus","payload":{"id":"a","code":0}}\n')
        w.write(b'{"type":"Stdout","payload":{"id":"a","line":"late"}}\n')
        await w.drain()
        await r.read()

    async with scripted(script) as host:
        assert isinstance(await host.hello(), HelloReply)
        result = await host.run("anything")
        assert result.exit_code == 0 and result.stdout_lines == []
        ev = await host.wait_for(
            lambda e: isinstance(e, Violation) and e.kind is Kind.FRAME_AFTER_TERMINAL
        )
        assert isinstance(ev, Violation)
        assert Kind.UNKNOWN_ID in {v.kind for v in host.violations}


async def test_next_frame_and_close() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b'{"type":"Error","payload":{"id":"protocol_error","message":"early"}}\n')
        await w.drain()

    async with scripted(script) as host:
        early = await host.next_frame()
        assert isinstance(early, Violation) and early.kind is Kind.SENT_BEFORE_HELLO
        first = await host.next_frame()
        assert isinstance(first, Received) and isinstance(first.frame, ErrorReply)
        assert isinstance(await host.next_frame(), Closed)
        with pytest.raises(ConnectionClosed):
            await host.next_frame()
        assert host.plugin_closed


async def test_reply_timeout_is_bounded() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read()  # never answers

    async with scripted(script) as host:
        with pytest.raises(ReplyTimeout, match=r"no reply to Hello within 1\.0 s"):
            # the outer bound only catches a hang: it is no timing assertion
            await asyncio.wait_for(host.hello(), FAST.timeouts.reply * 60)


async def test_started_pairs_by_order_when_output_interleaves() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readline()
        await r.readline()
        w.write(b'{"type":"Started","payload":{"id":"one"}}\n')
        w.write(b'{"type":"Stdout","payload":{"id":"one","line":"1"}}\n')
        w.write(b'{"type":"Started","payload":{"id":"two"}}\n')
        w.write(b'{"type":"Stdout","payload":{"id":"two","line":"2"}}\n')
        w.write(b'{"type":"ExitStatus","payload":{"id":"two","code":2}}\n')
        w.write(b'{"type":"ExitStatus","payload":{"id":"one","code":1}}\n')
        await w.drain()
        await r.read()

    async with scripted(script) as host:
        first = await host.execute("a")
        second = await host.execute("b")
        r1, r2 = await first.result(), await second.result()
        assert (r1.id, r1.stdout, r1.exit_code) == ("one", "1", 1)
        assert (r2.id, r2.stdout, r2.exit_code) == ("two", "2", 2)
        assert isinstance(first.execution.frames[0], Started)
        assert isinstance(second.execution.frames[1], Stdout)


async def test_close_is_idempotent() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read()

    async with scripted(script) as host:
        await host.close()
        await host.close()
        notes = [e.item for e in host.transcript.entries if e.direction == "note"]
        assert notes.count("the host closed the connection") == 1


async def test_bytes_that_arrived_before_the_host_are_not_lost() -> None:
    """What the stream buffered before FakeOcta took over the connection (an unsolicited
    frame, even EOF) is read first, in order."""
    a, b = socket.socketpair()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(loop=loop)
    transport, protocol = await loop.create_unix_connection(
        lambda: asyncio.StreamReaderProtocol(reader), sock=a
    )
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    reader.feed_data(b'{"type":"Stdout","payload":{"id":"x","line":"early"}}\n{"ty')
    reader.feed_eof()
    try:
        host = FakeOcta(reader, writer, config=FAST)
        events = [await host.next_frame()]
        while not isinstance(events[-1], Closed):
            events.append(await host.next_frame())
        frames = [e.frame for e in events if isinstance(e, Received)]
        assert [type(f) for f in frames] == [Stdout] and frames[0].line == "early"
        kinds = [e.kind for e in events if isinstance(e, Violation)]
        assert Kind.SENT_BEFORE_HELLO in kinds and kinds[-1] is Kind.UNTERMINATED_FRAME
        assert host.plugin_closed
        await host.close()
    finally:
        b.close()


# --- a terminal frame that cannot be decoded: judged at once -------------------------

HELLO_REPLY = b'{"type":"Hello","payload":{"version":"0.2.1","features":[]}}\n'


def serve_execute(*answer: bytes) -> Script:
    """A peer that answers Hello, then answers one Execute with ``answer`` and stays."""

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readline()
        w.write(HELLO_REPLY)
        await w.drain()
        await r.readline()
        w.write(b'{"type":"Started","payload":{"id":"a"}}\n')
        for frame in answer:
            w.write(frame)
            await w.drain()
        await r.read()  # keeps the connection open: only the frame can end the wait

    return script


async def test_an_undecodable_terminal_frame_ends_the_wait_with_the_reason() -> None:
    script = serve_execute(
        b'{"type":"Stdout","payload":{"id":"a","line":"hi"}}\n',
        b'{"type":"ExitStatus","payload":{"id":"a","code":"0"}}\n',
    )
    async with scripted(script) as host:
        await host.hello()
        run = await host.execute("anything")
        assert await run.started() == "a"
        # a ReplyTimeout would mean the host waited out the command bound instead
        with pytest.raises(UndecodableTerminal) as err:
            await run.result()
        message = str(err.value)
        assert message.startswith("Execute #1: [wrong-type] ExitStatus.code must be")
        assert 'got "0"' in message and "running command 'a' could not be decoded" in message
        assert "Octa drops this frame, so this command would never finish" in message
        assert err.value.violation is run.lost and run.done and not run.execution.done
        assert [type(f) for f in [f async for f in run]] == [Started, Stdout]
        snap = run.snapshot()
        assert snap.stdout == "hi" and snap.exit_code is None
        assert snap.lost is not None and "would never finish" in snap.lost
        (v,) = host.violations
        assert v is run.lost and v.kind is Kind.WRONG_TYPE and v.id == "a"
        notes = [e.item for e in host.transcript.entries if e.direction == "note"]
        assert any("would never finish for Octa" in str(n) for n in notes)


async def test_a_good_terminal_frame_after_an_undecodable_one_still_ends_the_command() -> None:
    script = serve_execute(
        b'{"type":"ExitStatus","payload":{"id":"a","code":"0"}}\n'
        b'{"type":"ExitStatus","payload":{"id":"a","code":0}}\n'
    )
    async with scripted(script) as host:
        await host.hello()
        result = await host.run("anything")
        assert result.exit_code == 0 and result.lost is None
        assert [v.kind for v in host.violations] == [Kind.WRONG_TYPE]


async def test_an_undecodable_frame_for_a_running_command_that_is_no_terminal_ends_nothing() -> (
    None
):
    script = serve_execute(b'{"type":"Stdout","payload":{"id":"a","line":7}}\n')
    async with scripted(script) as host:
        await host.hello()
        run = await host.execute("anything")
        await run.started()
        await host.wait_for(lambda e: isinstance(e, Violation))
        assert not run.done and run.lost is None
        with pytest.raises(ReplyTimeout):
            await run.wait(timeout=0)


# --- the violation store through the host -------------------------------------------


async def test_a_flood_of_violations_is_counted_never_silently_dropped() -> None:
    n = KEEP_FIRST + KEEP_LAST + 2000
    flood = b"".join(
        b'{"type":"Stdout","payload":{"id":"ghost","line":"%d"}}\n' % i for i in range(n)
    )

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readline()
        w.write(flood + HELLO_REPLY)
        await w.drain()
        await r.read()

    async with scripted(script) as host:
        await host.hello()
        listing = host.violations
        assert len(listing) == KEEP_FIRST + 1 + KEEP_LAST
        (marker,) = [v for v in listing if isinstance(v, NotKept)]
        assert marker.kind is Kind.UNKNOWN_ID and marker.count == 2000
        assert tally(listing) == n == host.violation_log.count(Kind.UNKNOWN_ID)
        assert f"2000 more violations of this kind not kept ({n} in all" in str(marker)
        # the transcript is for display: it keeps less, and says how much it left out
        assert host.transcript.dropped > 0
        mark = host.violation_log.mark()
        assert host.violation_log.since(mark) == []


def long_output_script(lines: int) -> Script:
    """Answers Hello, then answers one Execute with ``lines`` lines of output and exit 0."""

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readline()
        w.write(HELLO_REPLY)
        await r.readline()
        w.write(b'{"type":"Started","payload":{"id":"x"}}\n')
        w.write(
            b"".join(
                b'{"type":"Stdout","payload":{"id":"x","line":"%d\\n"}}\n' % i for i in range(lines)
            )
        )
        w.write(b'{"type":"ExitStatus","payload":{"id":"x","code":0}}\n')
        await w.drain()
        await r.read()

    return script


async def test_more_output_than_the_flood_bound_is_skimmed_and_said() -> None:
    config = dataclasses.replace(FAST, flood_lines=1_000)
    async with scripted(long_output_script(5_000), config) as host:
        await host.hello()
        result = await (await host.execute("many", dir="/")).result()
        assert result.exit_code == 0  # the terminal frame still arrives
        assert 1_000 <= len(result.stdout_lines) < 5_000
        assert "skipped unread" in str(host.transcript.entries)


async def test_flood_lines_none_reads_every_line() -> None:
    config = dataclasses.replace(FAST, flood_lines=None)
    async with scripted(long_output_script(5_000), config) as host:
        await host.hello()
        result = await (await host.execute("many", dir="/")).result()
        assert result.exit_code == 0
        assert result.stdout_lines == [f"{i}\n" for i in range(5_000)]
        assert "skipped unread" not in str(host.transcript.entries)


# --- small public API ----------------------------------------------------------------


async def test_executions_and_ids_are_public_and_read_only() -> None:
    script = serve_execute(b'{"type":"ExitStatus","payload":{"id":"a","code":0}}\n')
    async with scripted(script) as host:
        await host.hello()
        assert host.executions == () and host.ids == ()
        result = await host.run("anything")
        (ex,) = host.executions
        assert ex.id == result.id == "a" and ex.command.params == "anything"
        assert host.ids == ("a",)
        assert isinstance(host.executions, tuple) and isinstance(host.ids, tuple)


async def test_a_timeout_of_zero_means_do_not_wait() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read()  # never answers

    async with scripted(script) as host:
        with pytest.raises(ReplyTimeout, match=r"no reply to Hello within 0\.0 s"):
            await host.hello(timeout=0)
        with pytest.raises(ReplyTimeout, match=r"no reply to Schema within 0\.0 s"):
            await host.schema(timeout=0)
        with pytest.raises(ReplyTimeout, match=r"no reply to Shutdown within 0\.0 s"):
            await host.shutdown(timeout=0)


# --- the host routes the session's events --------------------------------------------


async def test_an_out_of_stage_command_is_sent_and_the_stages_follow_the_session() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readline()  # the Execute before Hello
        w.write(b'{"type":"Error","payload":{"id":"protocol_error","message":"Expected Hello"}}\n')
        await r.readline()
        w.write(b'{"type":"Hello","payload":{"version":"0.2.1","features":[]}}\n')
        await w.drain()
        await r.read()

    async with scripted(script) as host:
        run = await host.execute("anything")
        assert host.stage is Stage.CONNECTED
        with pytest.raises(PluginRefused, match="Expected Hello"):
            await run.started()
        await host.hello()
        assert host.stage is Stage.HELLO_DONE
    assert host.stage is Stage.CLOSED


async def test_a_command_the_connection_ends_before_its_answer_fails() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readline()
        w.write(b'{"type":"Error","payload":{"id":"protocol_error","message":"no"}}\n')
        await r.readline()  # then close without answering Schema

    async with scripted(script) as host:
        refused = await (await host.send(HelloCommand("0.2.1")))
        assert isinstance(refused.frame, ErrorReply) and host.stage is Stage.ERROR
        schema = await host.send(SchemaCommand())
        with pytest.raises(ConnectionClosed, match="closed the connection"):
            await schema
        assert host.stage is Stage.CLOSED
