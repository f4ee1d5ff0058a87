"""Shared pieces of the hostile plugins (this module is not a plugin itself).

A hostile script runs as ``tests/hostile/<name>.py --socket-path P``, so its own directory
is on ``sys.path`` and ``from hostile_base import ...`` works; each script stays runnable
on its own.

* ``load_example()`` and ``serve()``: for the scripts that are the conforming example
  plugin but for one hook they override;
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
