#!/usr/bin/env python3
"""Hostile plugin: answers its first Execute with Started, then 300,000 Stdout frames for an
id that no Started ever named, then runs the command as the example plugin does.

Every stray frame is a protocol violation (unknown id). The host must keep its memory
bounded (it keeps the first and the last violations of each kind and counts the rest), and
the checks must still see all of them: none may be dropped without a word.
"""

from hostile_base import load_example, serve

example = load_example()

FRAMES = 300_000
BATCH = 20_000
STRAY = "stray-flood"


class StrayFlood(example.ShellPlugin):
    flooded = False

    async def on_execute(self, session, payload):
        if session.stage != example.READY or self.flooded:
            await super().on_execute(session, payload)
            return
        self.flooded = True  # only the first Execute of the process: a flood costs seconds
        cmd = example.Command(id=self.make_id(), **payload)
        session.commands[cmd.id] = cmd
        await self.send(session, "Started", {"id": cmd.id})
        head = b'{"type":"Stdout","payload":{"id":"' + STRAY.encode() + b'","line":"stray '
        for start in range(0, FRAMES, BATCH):
            batch = b"".join(head + b'%d\\n"}}\n' % i for i in range(start, start + BATCH))
            await self.write(session, batch)
            if session.closed or session.writer.is_closing():
                break
        cmd.task = example.asyncio.create_task(self.run_command(session, cmd))


if __name__ == "__main__":
    serve(StrayFlood)
