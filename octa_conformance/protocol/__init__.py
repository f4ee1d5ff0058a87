"""The sans-IO protocol core: messages, dialects, framing, codec and host session."""

from octa_conformance.protocol.codec import (
    decode_command,
    decode_response,
    detect_dialect,
    encode_command,
    encode_response,
    parse_object,
)
from octa_conformance.protocol.dialect import Dialect
from octa_conformance.protocol.framing import LineFramer
from octa_conformance.protocol.messages import (
    Command,
    ErrorReply,
    ExecuteCommand,
    ExitStatus,
    HelloCommand,
    HelloReply,
    Response,
    SchemaCommand,
    SchemaReply,
    ShutdownCommand,
    ShutdownReply,
    Started,
    Stderr,
    Stdout,
)
from octa_conformance.protocol.session import (
    Closed,
    Event,
    Execution,
    HostSession,
    RawLine,
    Received,
)
from octa_conformance.protocol.violations import DECODE_KINDS, Kind, Violation

__all__ = [
    "DECODE_KINDS",
    "Closed",
    "Command",
    "Dialect",
    "ErrorReply",
    "Event",
    "ExecuteCommand",
    "Execution",
    "ExitStatus",
    "HelloCommand",
    "HelloReply",
    "HostSession",
    "Kind",
    "LineFramer",
    "RawLine",
    "Received",
    "Response",
    "SchemaCommand",
    "SchemaReply",
    "ShutdownCommand",
    "ShutdownReply",
    "Started",
    "Stderr",
    "Stdout",
    "Violation",
    "decode_command",
    "decode_response",
    "detect_dialect",
    "encode_command",
    "encode_response",
    "parse_object",
]
