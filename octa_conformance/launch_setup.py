"""What a plugin launch prepares before the process starts (docs/protocol.md §1).

The plugin file is checked (a clear :class:`LaunchError` instead of an ``exec`` failure),
its command line and environment are built the way Octa builds them, and its socket gets a
fresh private directory whose path fits in a Unix socket address.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from octa_conformance.errors import LaunchError

__all__ = [
    "HARNESS_ONLY_VARS",
    "SUN_PATH_MAX",
    "check_plugin_file",
    "check_socket_name",
    "command_prefix",
    "make_workdir",
    "plugin_environment",
    "process_group_kwargs",
]

HARNESS_ONLY_VARS = frozenset(
    {
        "PYTEST_CURRENT_TEST",
        "PYTEST_VERSION",
        "PYTEST_XDIST_WORKER",
        "PYTEST_XDIST_WORKER_COUNT",
        "PYTEST_XDIST_TESTRUNUID",
    }
)
"""Variables pytest (and xdist) set in the harness process for their own bookkeeping.

They describe the harness's test run, not the user's environment, so a plugin never sees
them (Octa would not pass them; libraries that detect pytest through them would behave
differently under the harness).
"""

SUN_PATH_MAX = 107  # usable bytes of sockaddr_un.sun_path (108 including the NUL)
_SOCKET_PATH_BUDGET = 100  # above this, fall back from $TMPDIR to /tmp
_WORKDIR_PREFIX = "octa-conform-"


def check_plugin_file(path: str) -> None:
    """Raise :class:`LaunchError` unless ``path`` can be started (``.py``: readable)."""
    if not os.path.lexists(path):
        raise LaunchError(f"plugin not found: {path}")
    if not os.path.exists(path):
        raise LaunchError(f"plugin is a dangling symlink: {path}")
    if os.path.isdir(path):
        raise LaunchError(f"plugin path is a directory, not a file: {path}")
    if path.endswith(".py"):
        if not os.access(path, os.R_OK):
            raise LaunchError(f"plugin is not readable: {path}")
    elif not os.access(path, os.X_OK):
        raise LaunchError(f"plugin is not executable: {path} (chmod +x it?)")


def check_socket_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a plain file name."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"socket_name must be a plain file name, got {name!r}")


def plugin_environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """``env``, by default ``os.environ`` less :data:`HARNESS_ONLY_VARS`, as a new dict."""
    if env is None:
        return {k: v for k, v in os.environ.items() if k not in HARNESS_ONLY_VARS}
    return dict(env)


def command_prefix(plugin_path: str, env: Mapping[str, str]) -> list[str]:
    """``[plugin]``, or ``[python3, plugin]`` for a ``.py`` file (``python3`` from the
    environment's PATH, else ``sys.executable``)."""
    if plugin_path.endswith(".py"):
        python = shutil.which("python3", path=env.get("PATH")) or sys.executable
        return [python, plugin_path]
    return [plugin_path]


def make_workdir(socket_name: str) -> Path:
    """A fresh private (0700) directory whose ``socket_name`` entry fits in ``sun_path``."""

    def socket_length(base: str) -> int:
        sample = os.path.join(base, _WORKDIR_PREFIX + "x" * 8, socket_name)
        return len(os.fsencode(sample))

    base = tempfile.gettempdir()
    if socket_length(base) > _SOCKET_PATH_BUDGET and os.path.isdir("/tmp"):
        base = "/tmp"
    length = socket_length(base)
    if length > SUN_PATH_MAX:
        raise LaunchError(
            f"socket path would be {length} bytes, over the {SUN_PATH_MAX}-byte limit "
            f"of a Unix socket address (socket name {socket_name!r})"
        )
    return Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX, dir=base))


def process_group_kwargs() -> dict[str, Any]:
    """``subprocess.Popen`` arguments that start the child in a new process group."""
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"preexec_fn": os.setpgrp}  # pragma: no cover - Python 3.10 only
