"""Every error zcomet raises.

The tree::

    ZcometError
    ├── DefinitionError (ValueError)  a definition or definitions file is wrong
    ├── ValidationError (ValueError)  data given to send does not fit
    ├── ChannelError (ValueError)     a channel name or pattern is malformed
    ├── ConfigError (ValueError)      an endpoint, option or config file is wrong
    ├── DecodeError (ValueError)      frames from a peer are malformed
    │   ├── FrameTooLarge             a frame exceeds a size limit
    │   ├── UnknownDefinition         the catalog lacks the definition
    │   ├── FingerprintMismatch       the sender's definition differs from ours
    │   └── InvalidBody               the body does not fit its definition
    ├── SecurityError                 keys, allowlist or authenticator wrong
    ├── ClosedError (RuntimeError)    the sender, listener or forwarder is closed
    └── Timeout (TimeoutError)        a bounded wait ran out

Local and remote faults are different classes on purpose: a ``ValidationError``
raises at the caller of ``send``; a ``DecodeError`` is what a listener counts,
logs and drops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ChannelError",
    "ClosedError",
    "ConfigError",
    "DecodeError",
    "DefinitionError",
    "FingerprintMismatch",
    "FrameTooLarge",
    "InvalidBody",
    "SecurityError",
    "Timeout",
    "UnknownDefinition",
    "ValidationError",
    "ZcometError",
]


class ZcometError(Exception):
    """Root of every error zcomet raises."""


class DefinitionError(ZcometError, ValueError):
    """A message definition, or the file it came from, is wrong.

    Attributes:
        reason: What is wrong.
        source: The file the definition came from, if any.
        definition: The definition's technical name or position, if known.
        field: The field (dotted for list fields), if the fault is in one.
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        definition: str | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.source = source
        self.definition = definition
        self.field = field
        where = [
            f"{label} {value!r}"
            for label, value in (
                ("file", source),
                ("definition", definition),
                ("field", field),
            )
            if value is not None
        ]
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)


def _flatten(messages: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Turn marshmallow-style nested messages into ``path: message`` lines."""
    lines: list[str] = []
    for key, value in messages.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            lines.extend(_flatten(value, f"{path}."))
        elif isinstance(value, list | tuple):
            lines.extend(f"{path}: {item}" for item in value)
        else:
            lines.append(f"{path}: {value}")
    return lines


class ValidationError(ZcometError, ValueError):
    """Data does not fit its definition; nothing was sent.

    Attributes:
        messages: Per-field messages, nested like the data
            (``{"events": {0: {"at": ["Not a valid datetime."]}}}``).
        definition: The definition's technical name.
    """

    def __init__(self, messages: Mapping[str, Any], definition: str = "") -> None:
        self.messages = dict(messages)
        self.definition = definition
        detail = "; ".join(_flatten(self.messages)) or "invalid data"
        head = f"invalid {definition!r} message" if definition else "invalid message"
        super().__init__(f"{head}: {detail}")


class ChannelError(ZcometError, ValueError):
    """A channel name or pattern is malformed."""


class ConfigError(ZcometError, ValueError):
    """An endpoint, option or configuration file is wrong.

    Attributes:
        source: The file, if the fault is in one.
        key: The key at fault, if known.
    """

    def __init__(
        self, reason: str, *, source: str | None = None, key: str | None = None
    ) -> None:
        self.reason = reason
        self.source = source
        self.key = key
        where = ", ".join(
            f"{label} {value!r}"
            for label, value in (("file", source), ("key", key))
            if value is not None
        )
        super().__init__(f"{where}: {reason}" if where else reason)


class DecodeError(ZcometError, ValueError):
    """Frames received from the network are malformed; the message is dropped.

    Attributes:
        reason: What is wrong, for the log.
    """

    #: Short name used as the listener's counter key.
    kind = "malformed"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class FrameTooLarge(DecodeError):
    """A frame is larger than the configured limit."""

    kind = "too_large"

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.what = what
        self.size = size
        self.limit = limit
        super().__init__(f"{what} of {size} bytes exceeds limit {limit}")


class UnknownDefinition(DecodeError):
    """The header names a definition the local catalog does not hold."""

    kind = "unknown_definition"

    def __init__(self, technical_name: str) -> None:
        self.technical_name = technical_name
        super().__init__(f"unknown definition {technical_name!r}")


class FingerprintMismatch(DecodeError):
    """The sender's definition has another fingerprint than the local one."""

    kind = "fingerprint_mismatch"

    def __init__(self, technical_name: str, remote: str, local: str) -> None:
        self.technical_name = technical_name
        self.remote = remote
        self.local = local
        super().__init__(
            f"definition {technical_name!r}: sender fingerprint {remote} "
            f"differs from local {local}"
        )


class InvalidBody(DecodeError):
    """The body is well-formed msgpack but does not fit its definition."""

    kind = "invalid"

    def __init__(self, technical_name: str, detail: str) -> None:
        self.technical_name = technical_name
        self.detail = detail
        super().__init__(f"invalid {technical_name!r} body: {detail}")


class SecurityError(ZcometError):
    """Keys, allowlists or the authenticator are missing or wrong."""


class ClosedError(ZcometError, RuntimeError):
    """The sender, listener or forwarder has been closed."""


class Timeout(ZcometError, TimeoutError):
    """A bounded wait ran out before its condition was met."""
