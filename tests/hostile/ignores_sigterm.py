#!/usr/bin/env python3
"""Hostile plugin: the example plugin, but SIGTERM is ignored (SIGINT and Shutdown work).

The harness must escalate to SIGKILL after its grace period whenever it stops the plugin.
"""

import asyncio
import importlib.util
import signal
import sys
from pathlib import Path


def load_example():
    """The conforming example plugin, loaded by path (it is not an installed module)."""
    path = Path(__file__).resolve().parents[2] / "examples" / "octa_plugin_shell.py"
    spec = importlib.util.spec_from_file_location("octa_example_shell_plugin", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = load_example()


class IgnoresSigterm(example.ShellPlugin):
    async def serve(self, socket_path):
        self._stop_requested = asyncio.Event()
        self.socket_path = socket_path
        self.server = await asyncio.start_unix_server(self.handle_connection, path=socket_path)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self.request_stop)
        try:
            await self._stop_requested.wait()
        finally:
            await self.close()
        return 0


if __name__ == "__main__":
    sys.exit(example.main(plugin_cls=IgnoresSigterm))
