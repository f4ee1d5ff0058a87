"""The stages of a session as the host sees them, and the table of moves between them.

docs/protocol.md §4: a connection goes through the handshake (``Hello``, then ``Schema``),
the execution stage (any number of ``Execute``) and shutdown, which may begin in any stage
(§4.4). A move is triggered by what the host sends or by how the plugin answers; a pair
(stage, trigger) missing from :data:`TRANSITIONS` moves nothing. For a send that means the
command is out of its stage: it is still sent (a check may send one on purpose, to see the
plugin refuse it) and the session records it; judging the plugin's reaction is the checks'
business, not the session's.
"""

from __future__ import annotations

import enum

from octa_conformance.protocol.messages import (
    Command,
    ExecuteCommand,
    HelloCommand,
    SchemaCommand,
    ShutdownCommand,
)

__all__ = ["TRANSITIONS", "Stage", "Trigger", "next_stage", "send_trigger"]


class Stage(enum.Enum):
    """Where the host is in the session (docs/protocol.md §4)."""

    CONNECTED = "connected"  # nothing sent yet: the host's first line is Hello (§4.1)
    HELLO_SENT = "hello sent"  # Hello waits for its answer
    HELLO_DONE = "hello done"  # the plugin answered Hello with Hello: Schema comes next
    SCHEMA_SENT = "schema sent"  # Schema waits for its answer
    READY = "ready"  # the execution stage (§4.2): any number of Execute
    SHUTDOWN_SENT = "shutdown sent"  # Shutdown waits for its acknowledgement (§4.4)
    SHUT_DOWN = "shut down"  # the plugin sent its Shutdown frame: nothing may follow it
    ERROR = "error"  # Hello or Schema failed: Octa would not load the plugin (§4.1)
    CLOSED = "closed"  # the connection ended (either side): nothing more moves


class Trigger(enum.Enum):
    """What moves a session from one stage to the next."""

    SEND_HELLO = "send Hello"
    SEND_SCHEMA = "send Schema"
    SEND_EXECUTE = "send Execute"
    SEND_SHUTDOWN = "send Shutdown"
    HELLO_ANSWERED = "Hello answered by Hello"
    HELLO_FAILED = "Hello refused or answered by a malformed frame"
    SCHEMA_ANSWERED = "Schema answered by Schema"
    SCHEMA_FAILED = "Schema refused or answered by a malformed frame"
    SHUTDOWN_ACKED = "the plugin's Shutdown frame arrived"
    CLOSE = "the connection ended"


_SEND = {
    HelloCommand: Trigger.SEND_HELLO,
    SchemaCommand: Trigger.SEND_SCHEMA,
    ExecuteCommand: Trigger.SEND_EXECUTE,
    ShutdownCommand: Trigger.SEND_SHUTDOWN,
}


def _table() -> dict[tuple[Stage, Trigger], Stage]:
    s, t = Stage, Trigger
    table = {
        (s.CONNECTED, t.SEND_HELLO): s.HELLO_SENT,
        (s.HELLO_SENT, t.HELLO_ANSWERED): s.HELLO_DONE,
        (s.HELLO_DONE, t.SEND_SCHEMA): s.SCHEMA_SENT,
        (s.SCHEMA_SENT, t.SCHEMA_ANSWERED): s.READY,
        (s.READY, t.SEND_EXECUTE): s.READY,
        # A host may send the next command before the answer to the last one: the plugin
        # reads them in order. An answer that comes after that moves nothing more.
        (s.HELLO_SENT, t.SEND_SCHEMA): s.SCHEMA_SENT,
        (s.SCHEMA_SENT, t.SEND_EXECUTE): s.READY,
    }
    # A failed Hello or Schema (it is answered before any Shutdown is) fails the handshake.
    for stage in (s.HELLO_SENT, s.SCHEMA_SENT, s.READY):
        table[stage, t.HELLO_FAILED] = s.ERROR
    for stage in (s.SCHEMA_SENT, s.READY):
        table[stage, t.SCHEMA_FAILED] = s.ERROR
    for stage in Stage:
        if stage is s.CLOSED:
            continue
        table[stage, t.CLOSE] = s.CLOSED
        # Octa may send Shutdown in any stage (§4.4), once.
        if stage not in (s.SHUTDOWN_SENT, s.SHUT_DOWN):
            table[stage, t.SEND_SHUTDOWN] = s.SHUTDOWN_SENT
        # Whenever the plugin says it shuts down, nothing may follow (even unasked).
        table[stage, t.SHUTDOWN_ACKED] = s.SHUT_DOWN
    return table


#: Every move: (stage, trigger) -> the next stage. What is not here moves nothing.
TRANSITIONS: dict[tuple[Stage, Trigger], Stage] = _table()


def send_trigger(command: Command) -> Trigger:
    """The trigger of sending ``command``."""
    return _SEND[type(command)]


def next_stage(stage: Stage, trigger: Trigger) -> Stage | None:
    """The stage ``trigger`` moves ``stage`` to; None if it does not move it."""
    return TRANSITIONS.get((stage, trigger))
