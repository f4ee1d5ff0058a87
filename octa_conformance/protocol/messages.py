"""Typed messages of the Octa plugin protocol (docs/protocol.md §3).

Commands go from the host (Octa) to the plugin; responses from the plugin to the host.
The classes carry no wire format: ``codec`` turns them into bytes for a dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

# --- host -> plugin ---------------------------------------------------------------


@dataclass(frozen=True)
class HelloCommand:
    """``Hello``: the host's own version and (reserved) features."""

    version: str
    features: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # unknown fields to send
    TYPE: ClassVar[str] = "Hello"


@dataclass(frozen=True)
class SchemaCommand:
    """``Schema``: asks the plugin for the task attribute it serves."""

    TYPE: ClassVar[str] = "Schema"


@dataclass(frozen=True)
class ExecuteCommand:
    """``Execute``: run ``params`` (``command`` in dialect 0.2.0)."""

    params: str
    args: tuple[str, ...] = ()
    dir: str = "/"
    envs: dict[str, str] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    dry: bool = False
    TYPE: ClassVar[str] = "Execute"


@dataclass(frozen=True)
class ShutdownCommand:
    """``Shutdown``: cancel everything, acknowledge, exit."""

    TYPE: ClassVar[str] = "Shutdown"


Command = HelloCommand | SchemaCommand | ExecuteCommand | ShutdownCommand

# --- plugin -> host ---------------------------------------------------------------


@dataclass(frozen=True)
class HelloReply:
    """``Hello`` response: ``version`` is a Cargo semver *requirement* on Octa's version."""

    version: str
    features: tuple[str, ...] = ()
    TYPE: ClassVar[str] = "Hello"


@dataclass(frozen=True)
class SchemaReply:
    """``Schema`` response: the task attribute key the plugin serves."""

    key: str
    TYPE: ClassVar[str] = "Schema"


@dataclass(frozen=True)
class Started:
    """The plugin accepted an ``Execute`` and names it ``id``."""

    id: str
    TYPE: ClassVar[str] = "Started"


@dataclass(frozen=True)
class Stdout:
    """One line of a command's standard output."""

    id: str
    line: str
    TYPE: ClassVar[str] = "Stdout"


@dataclass(frozen=True)
class Stderr:
    """One line of a command's standard error."""

    id: str
    line: str
    TYPE: ClassVar[str] = "Stderr"


@dataclass(frozen=True)
class ExitStatus:
    """Terminal frame: the command ended with ``code`` (i32)."""

    id: str
    code: int
    TYPE: ClassVar[str] = "ExitStatus"


@dataclass(frozen=True)
class ErrorReply:
    """Terminal frame for ``id``, or a session error (``protocol_error``/``parse_error``)."""

    id: str
    message: str
    TYPE: ClassVar[str] = "Error"


@dataclass(frozen=True)
class ShutdownReply:
    """The plugin acknowledges ``Shutdown``."""

    message: str
    TYPE: ClassVar[str] = "Shutdown"


Response = (
    HelloReply | SchemaReply | Started | Stdout | Stderr | ExitStatus | ErrorReply | ShutdownReply
)

COMMAND_TYPES: dict[str, type] = {
    c.TYPE: c for c in (HelloCommand, SchemaCommand, ExecuteCommand, ShutdownCommand)
}
RESPONSE_TYPES: dict[str, type] = {
    r.TYPE: r
    for r in (
        HelloReply,
        SchemaReply,
        Started,
        Stdout,
        Stderr,
        ExitStatus,
        ErrorReply,
        ShutdownReply,
    )
}
# Frames that carry an execution id, and the two that end an execution.
ID_FRAMES = (Started, Stdout, Stderr, ExitStatus, ErrorReply)
TERMINAL_FRAMES = (ExitStatus, ErrorReply)
# Error ids the SDK uses for session-level errors rather than for one execution.
SESSION_ERROR_IDS = frozenset({"protocol_error", "parse_error"})
# Spellings from Octa's prose docs that the 0.2.1 code does not accept.
DOCS_SPELLINGS = {"Start": "Started", "StdOut": "Stdout", "StdErr": "Stderr"}
