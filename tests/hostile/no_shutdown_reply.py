#!/usr/bin/env python3
"""Hostile plugin: the example plugin, but Shutdown is never answered and changes nothing."""

import importlib.util
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


class NoShutdownReply(example.ShellPlugin):
    async def on_shutdown(self, session, payload):
        return  # silence: the host waits 5 s, then gives up


if __name__ == "__main__":
    sys.exit(example.main(plugin_cls=NoShutdownReply))
