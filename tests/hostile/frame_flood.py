#!/usr/bin/env python3
"""Hostile plugin: answers its first Execute with Started and then a million Stdout frames.

After the flood it runs the command as the example plugin does, so the command's real output
comes after a million "flood" lines; later Executes are served normally (a flood costs the
host seconds of parsing). The host must survive the flood with bounded memory (it keeps a
bounded number of frames per execution) and report the wrong output.
"""

from hostile_base import load_example, serve

example = load_example()

FRAMES = 1_000_000
BATCH = 20_000


class FrameFlood(example.ShellPlugin):
    flooded = False

    async def on_execute(self, session, payload):
        if session.stage != example.READY or self.flooded:
            await super().on_execute(session, payload)
            return
        self.flooded = True  # only the first Execute of the process: a flood costs seconds
        cmd = example.Command(id=self.make_id(), **payload)
        session.commands[cmd.id] = cmd
        await self.send(session, "Started", {"id": cmd.id})
        head = b'{"type":"Stdout","payload":{"id":"' + cmd.id.encode() + b'","line":"flood '
        for start in range(0, FRAMES, BATCH):
            batch = b"".join(head + b'%d\\n"}}\n' % i for i in range(start, start + BATCH))
            await self.write(session, batch)
            if session.closed or session.writer.is_closing():
                break
        cmd.task = example.asyncio.create_task(self.run_command(session, cmd))


if __name__ == "__main__":
    serve(FrameFlood)
