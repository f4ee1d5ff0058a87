#!/usr/bin/env python3
"""The conforming example plugin under another schema key (``posix``), which has no built-in
probes: only the checks that need no probe can run unless probes are configured."""

import importlib.util
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "octa_plugin_shell.py"
spec = importlib.util.spec_from_file_location("octa_plugin_shell", EXAMPLE)
assert spec is not None and spec.loader is not None
example = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = example  # dataclasses look their module up while being defined
spec.loader.exec_module(example)


class OtherKey(example.ShellPlugin):
    """Runs params with sh like the example, but serves the key ``posix``."""

    key = "posix"


if __name__ == "__main__":
    sys.exit(example.main(plugin_cls=OtherKey))
