"""zcomet: brokerless real-time messaging over ZeroMQ.

Define messages, send them on named channels, and let every listener on the
channel act on them: validated on both ends, nothing stored, no broker.

Everything public is importable from here::

    from zcomet import Catalog, Listener, Sender
"""

from __future__ import annotations

from zcomet.core.catalog import Catalog
from zcomet.core.channels import Pattern
from zcomet.core.definitions import Definition
from zcomet.core.fields import File
from zcomet.core.message import Message
from zcomet.errors import (
    ChannelError,
    ClosedError,
    ConfigError,
    DecodeError,
    DefinitionError,
    FingerprintMismatch,
    FrameTooLarge,
    InvalidBody,
    SecurityError,
    Timeout,
    UnknownDefinition,
    ValidationError,
    ZcometError,
)
from zcomet.net.dispatch import (
    GapCallback,
    Handler,
    LagCallback,
    ListenerStats,
    Subscription,
)
from zcomet.net.endpoints import Endpoint
from zcomet.net.forwarder import Forwarder, ForwarderStats
from zcomet.net.listener import AsyncListener, Listener
from zcomet.net.monitor import Guard, SecurityStats
from zcomet.net.options import SocketOptions
from zcomet.net.security import (
    Authenticator,
    AuthStats,
    KeyPair,
    Security,
    generate_keys,
)
from zcomet.net.sender import AsyncSender, Sender

__all__ = [
    "AsyncListener",
    "AsyncSender",
    "AuthStats",
    "Authenticator",
    "Catalog",
    "ChannelError",
    "ClosedError",
    "ConfigError",
    "DecodeError",
    "Definition",
    "DefinitionError",
    "Endpoint",
    "File",
    "FingerprintMismatch",
    "Forwarder",
    "ForwarderStats",
    "FrameTooLarge",
    "GapCallback",
    "Guard",
    "Handler",
    "InvalidBody",
    "KeyPair",
    "LagCallback",
    "Listener",
    "ListenerStats",
    "Message",
    "Pattern",
    "Security",
    "SecurityError",
    "SecurityStats",
    "Sender",
    "SocketOptions",
    "Subscription",
    "Timeout",
    "UnknownDefinition",
    "ValidationError",
    "ZcometError",
    "__version__",
    "generate_keys",
]

__version__ = "0.1.0"
