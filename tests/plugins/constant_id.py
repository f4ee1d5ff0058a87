#!/usr/bin/env python3
"""A twin of the Octa repository's own test plugin (``plugins/test.py``), in stdlib Python.

Written from that plugin's observed behaviour (docs/protocol.md §7 and a reading of the public
file), not copied. It is the "false PASS" witness of the verdict rules: a plugin whose key is
not ``shell`` (so no built-in probe applies) and whose every ``Execute`` gets the same id.

What it does, as the original does:

* command line: the value after the first ``--socket-path`` is the socket path; every other
  argument is ignored (unknown flags are tolerated); without it: "Socket path not provided"
  on stderr, exit status 1;
* removes a file already at the socket path, then listens there; serves any number of
  connections, one after the other or at once, each with the same stateless handler;
* no stages: every line is handled on its own, at any time:
  ``Hello`` -> ``Hello{version:"0.2.0", features:[]}`` (the requirement ``^0.2.0`` matches
  Octa 0.2.1); ``Schema`` -> ``Schema{key:"key"}``; ``Execute`` (whatever its payload, even
  before ``Hello``) -> ``Started``, ``Stdout{line:"test output"}`` (no trailing newline),
  ``ExitStatus{code:0}``, all three with the id ``"test-execution-id"``, and nothing is run;
  ``Shutdown`` -> ``Shutdown{message:"Shutting down"}``, then that connection is closed but the
  process goes on listening: it never exits by itself (Octa kills it after 1 s);
* silence on what it does not understand: a line that is not JSON, JSON that is not an
  object, or an unknown ``type`` gets no answer and the session goes on;
* lines are read with asyncio's default 64 KiB line limit and decoded as UTF-8 outside the
  error handling: a longer line or invalid UTF-8 ends that connection (the process lives on);
* SIGINT: the listener is closed, the socket file removed, exit status 0; SIGTERM is not
  handled (default: the process dies, the socket file stays).

Deliberate differences from the file in the public repository:

* the stored copy writes its responses internally tagged (the 0.2.0 dialect). The issue this
  twin serves measured ``octa-conform plugins/test.py`` as PASS, which a 0.2.0-dialect reply
  cannot get against the 0.2.1 target (``handshake.hello-reply``); so this twin speaks the
  0.2.1 dialect (adjacently tagged), isolating the defect it stands for: the constant id;
* the original appends a log to ``test_plugin.log`` in its working directory; the twin logs
  nothing (no check looks at that file, and tests should not litter);
* the original's Windows named-pipe server is left out.
"""

import asyncio
import contextlib
import json
import os
import sys
from typing import Any

EXECUTION_ID = "test-execution-id"
LINE_LIMIT = 64 * 1024  # asyncio's default StreamReader limit, which the original relies on


def frame(type_: str, payload: dict[str, Any]) -> bytes:
    """One adjacently tagged response, written with ``json.dumps``'s default spacing."""
    return (json.dumps({"type": type_, "payload": payload}) + "\n").encode()


def answer(cmd: Any) -> tuple[bool, list[bytes]]:
    """The responses to one decoded line, and whether the connection ends after them."""
    kind = cmd.get("type")  # not an object: AttributeError, swallowed by the caller
    if kind == "Hello":
        return False, [frame("Hello", {"version": "0.2.0", "features": []})]
    if kind == "Schema":
        return False, [frame("Schema", {"key": "key"})]
    if kind == "Execute":
        return False, [
            frame("Started", {"id": EXECUTION_ID}),
            frame("Stdout", {"id": EXECUTION_ID, "line": "test output"}),
            frame("ExitStatus", {"id": EXECUTION_ID, "code": 0}),
        ]
    if kind == "Shutdown":
        return True, [frame("Shutdown", {"message": "Shutting down"})]
    return False, []  # unknown type: logged by the original, never answered


async def handle_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One connection: answer line by line until EOF, Shutdown, or a line it cannot read."""
    try:
        while True:
            line = await reader.readline()  # over LINE_LIMIT: ValueError ends the connection
            if not line:
                break
            received = line.decode().strip()  # invalid UTF-8 ends the connection too
            try:
                should_close, responses = answer(json.loads(received))
                for data in responses:
                    writer.write(data)
                    await writer.drain()
                if should_close:
                    break
            except Exception:
                continue  # bad JSON, not an object, a broken write: say nothing
    except Exception:
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def serve(path: str) -> None:
    """Listen on ``path`` until cancelled (SIGINT), then close and remove the socket file."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = await asyncio.start_unix_server(handle_client, path, limit=LINE_LIMIT)
    try:
        await server.serve_forever()
    except asyncio.CancelledError:
        pass
    finally:
        server.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def main() -> int:
    """Find ``--socket-path`` in the arguments (ignoring the rest) and serve."""
    argv = sys.argv
    path = next(
        (argv[i + 1] for i, arg in enumerate(argv) if arg == "--socket-path" and i + 1 < len(argv)),
        None,
    )
    if not path:
        print("Socket path not provided", file=sys.stderr)
        return 1
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
