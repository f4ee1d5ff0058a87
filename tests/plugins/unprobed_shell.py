#!/usr/bin/env python3
"""The conforming example plugin under the schema key ``unprobed``.

The built-in probe set is chosen by the key ``shell``, so against this plugin no probe is
configured: the protocol checks must run (with the opaque command, empty ``params``) and
pass, and the checks that need a probe are skipped.
"""

import importlib.util
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "octa_plugin_shell.py"
spec = importlib.util.spec_from_file_location("octa_example_shell_plugin", EXAMPLE)
assert spec is not None and spec.loader is not None
example = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = example
spec.loader.exec_module(example)


class UnprobedShell(example.ShellPlugin):
    """The example plugin, serving the task attribute ``unprobed``."""

    key = "unprobed"


if __name__ == "__main__":
    sys.exit(example.main(plugin_cls=UnprobedShell))
