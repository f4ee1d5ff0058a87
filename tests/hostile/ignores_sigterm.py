#!/usr/bin/env python3
"""Hostile plugin: the example plugin, but SIGTERM is ignored (SIGINT and Shutdown work).

The harness must escalate to SIGKILL after its grace period whenever it stops the plugin.
"""

import asyncio
import signal

from hostile_base import load_example, serve

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
    serve(IgnoresSigterm)
