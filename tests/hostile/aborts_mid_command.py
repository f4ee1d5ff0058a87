#!/usr/bin/env python3
"""Hostile plugin: answers Execute with Started and one Stdout line, then calls os.abort().

The process dies of SIGABRT in the middle of a command (no core file: RLIMIT_CORE is 0), so
the command never gets its terminal frame.
"""

import importlib.util
import os
import resource
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
    sys.exit(example.main(plugin_cls=AbortsMidCommand))
