#!/usr/bin/env python3
"""Hostile plugin: after each Started it also sends Stdout and ExitStatus frames for an id
that no Started ever named, then runs the command normally.

Octa 0.2.1 silently drops frames for other ids, so commands still work; the host must
report the stray frames as frames for an id that was never started.
"""

import uuid

from hostile_base import load_example, serve

example = load_example()


class ForeignIds(example.ShellPlugin):
    async def on_execute(self, session, payload):
        await super().on_execute(session, payload)
        if session.stage == example.READY:
            stray = f"stray-{uuid.uuid4()}"
            await self.send(session, "Stdout", {"id": stray, "line": "not yours\n"})
            await self.send(session, "ExitStatus", {"id": stray, "code": 0})


if __name__ == "__main__":
    serve(ForeignIds)
