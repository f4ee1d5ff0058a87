#!/usr/bin/env python3
"""Hostile plugin: the example plugin, but its Hello reply contains bytes that are not UTF-8.

The reply is otherwise a well-formed Hello line; the host must report the frame as invalid
UTF-8 (Octa cannot parse it) rather than crash or take it for a Hello.
"""

from hostile_base import load_example, serve

example = load_example()


class InvalidUtf8Hello(example.ShellPlugin):
    async def on_hello(self, session, payload):
        await self.write(
            session,
            b'{"type":"Hello","payload":{"version":">=0.2.1, <0.3.0",'
            b'"features":["\xff\xfe\xc3("]}}\n',
        )
        session.stage = example.EXPECT_SCHEMA


if __name__ == "__main__":
    serve(InvalidUtf8Hello)
