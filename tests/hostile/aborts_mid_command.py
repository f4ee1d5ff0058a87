#!/usr/bin/env python3
"""Hostile plugin: answers Execute with Started and one Stdout line, then calls os.abort().

The process dies of SIGABRT in the middle of a command (no core file: RLIMIT_CORE is 0), so
the command never gets its terminal frame.
"""

import os
import resource

from hostile_base import load_example, serve

example = load_example()


class AbortsMidCommand(example.ShellPlugin):
    async def on_execute(self, session, payload):
        if session.stage != example.READY:
            await super().on_execute(session, payload)
            return
        ident = self.make_id()
        await self.send(session, "Started", {"id": ident})
        await self.send(session, "Stdout", {"id": ident, "line": "about to crash\n"})
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.abort()


if __name__ == "__main__":
    serve(AbortsMidCommand)
