#!/usr/bin/env python3
"""Hostile plugin: the example plugin, but Shutdown is never answered and changes nothing."""

from hostile_base import load_example, serve

example = load_example()


class NoShutdownReply(example.ShellPlugin):
    async def on_shutdown(self, session, payload):
        return  # silence: the host waits 5 s, then gives up


if __name__ == "__main__":
    serve(NoShutdownReply)
