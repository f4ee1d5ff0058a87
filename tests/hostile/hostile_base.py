"""Shared pieces of the hostile plugins (this module is not a plugin itself).

A hostile script runs as ``tests/hostile/<name>.py --socket-path P``, so its own directory
is on ``sys.path`` and ``from hostile_base import ...`` works; each script stays runnable
on its own.

* ``load_example()`` and ``serve()``: for the scripts that are the conforming example
  plugin but for one hook they override;
* ``first_execute_flood()``: the example plugin, flooding frames after its first ``Started``;
* ``socket_path()`` and ``unix_socket()``: for the raw ones that do not speak the protocol.
"""

import importlib.util
import socket
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "octa_plugin_shell.py"
EXAMPLE_MODULE = "octa_example_shell_plugin"


def load_example():
    """The conforming example plugin, loaded by path (it is not an installed module)."""
    if EXAMPLE_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(EXAMPLE_MODULE, EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules[EXAMPLE_MODULE]


def serve(plugin_cls=None) -> None:
    """Run as the example plugin, or as ``plugin_cls`` (a subclass of its ``ShellPlugin``),
    on the command line's socket; exit with its status."""
    example = load_example()
    sys.exit(example.main(plugin_cls=plugin_cls or example.ShellPlugin))


def socket_path() -> str:
    """The path given by ``--socket-path``, as Octa passes it."""
    return sys.argv[sys.argv.index("--socket-path") + 1]


def unix_socket(listen=8) -> socket.socket:
    """A Unix stream socket bound to ``socket_path()``, listening with backlog ``listen``
    (None: bound only, never listening)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(socket_path())
    if listen is not None:
        sock.listen(listen)
    return sock


def first_execute_flood(frames: int, word: bytes, stray_id: str | None = None, batch=20_000):
    """A subclass of the example's ``ShellPlugin`` that answers its first Execute with
    ``Started``, then ``frames`` Stdout frames (``"<word> <n>"``) for that command's id, or
    for ``stray_id`` (an id no Started named), then runs the command as the example does.
    Later Executes are served normally. The host parses the start of a flood and skims the
    rest (octa_conformance/connection.py): the command's terminal frame still arrives."""
    example = load_example()

    class FirstExecuteFlood(example.ShellPlugin):
        flooded = False

        async def on_execute(self, session, payload):
            if session.stage != example.READY or self.flooded:
                await super().on_execute(session, payload)
                return
            self.flooded = True
            cmd = example.Command(id=self.make_id(), **payload)
            session.commands[cmd.id] = cmd
            await self.send(session, "Started", {"id": cmd.id})
            ident = (stray_id or cmd.id).encode()
            head = b'{"type":"Stdout","payload":{"id":"' + ident + b'","line":"' + word + b" "
            for start in range(0, frames, batch):
                chunk = b"".join(head + b'%d\\n"}}\n' % i for i in range(start, start + batch))
                await self.write(session, chunk)
                if session.closed or session.writer.is_closing():
                    break
            cmd.task = example.asyncio.create_task(self.run_command(session, cmd))

    return FirstExecuteFlood
