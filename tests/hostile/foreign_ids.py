#!/usr/bin/env python3
"""Hostile plugin: after each Started it also sends Stdout and ExitStatus frames for an id
that no Started ever named, then runs the command normally.

Octa 0.2.1 silently drops frames for other ids, so commands still work; the host must
report the stray frames as frames for an id that was never started.
"""

import importlib.util
import sys
import uuid
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


class ForeignIds(example.ShellPlugin):
    async def on_execute(self, session, payload):
        await super().on_execute(session, payload)
        if session.stage == example.READY:
            stray = f"stray-{uuid.uuid4()}"
            await self.send(session, "Stdout", {"id": stray, "line": "not yours\n"})
            await self.send(session, "ExitStatus", {"id": stray, "code": 0})


if __name__ == "__main__":
    sys.exit(example.main(plugin_cls=ForeignIds))
