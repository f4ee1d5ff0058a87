#!/usr/bin/env python3
"""Hostile plugin: the example plugin, but every ``ExitStatus.code`` is a JSON string
(``"code": "0"``) instead of an integer.

Octa cannot parse such a frame: it becomes ``Error{id:"parse_error"}`` inside Octa, which
matches no command, so every command would run forever. The host must judge each command
at once when its terminal frame arrives undecodable, not wait out its command bound.
"""

from hostile_base import load_example, serve

example = load_example()


class StringExitCode(example.ShellPlugin):
    async def send(self, session, type_, payload=None):
        if type_ == "ExitStatus" and payload is not None:
            payload = {**payload, "code": str(payload["code"])}
        await super().send(session, type_, payload)


if __name__ == "__main__":
    serve(StringExitCode)
