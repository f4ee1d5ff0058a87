#!/usr/bin/env python3
"""Hostile plugin: the example plugin, but its Hello reply contains bytes that are not UTF-8.

The reply is otherwise a well-formed Hello line; the host must report the frame as invalid
UTF-8 (Octa cannot parse it) rather than crash or take it for a Hello.
"""

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


class InvalidUtf8Hello(example.ShellPlugin):
    async def on_hello(self, session, payload):
        await self.write(
            session,
            b'{"type":"Hello","payload":{"version":">=0.2.1, <0.3.0",'
            b'"features":["\xff\xfe\xc3("]}}\n',
        )
        session.stage = example.EXPECT_SCHEMA


if __name__ == "__main__":
    sys.exit(example.main(plugin_cls=InvalidUtf8Hello))
