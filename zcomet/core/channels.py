"""Channel names, wildcard patterns and how they map to ZeroMQ topic prefixes.

A channel is one or more tokens joined by dots (``alerts``, ``helpdesk.escalation``);
a token is letters, digits, ``_`` or ``-``. A pattern may use two wildcard tokens:
``*`` matches exactly one token, and ``>`` as the last token matches one or more.

On the wire the topic frame is the channel's UTF-8 bytes followed by a NUL
byte. ZeroMQ filters subscriptions by byte prefix, so subscribing to
``b"alerts\\0"`` makes that filter exact: ``alerts-high`` never matches. A
wildcard pattern subscribes to the literal prefix before its first wildcard and
the listener matches the rest token by token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from zcomet.errors import ChannelError

__all__ = [
    "MAX_CHANNEL_BYTES",
    "Pattern",
    "channel_from_topic",
    "check_channel",
    "topic_for",
]

#: Longest channel name accepted, in UTF-8 bytes.
MAX_CHANNEL_BYTES = 255

_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
_TERMINATOR = b"\x00"


def check_channel(channel: str) -> str:
    """Return ``channel`` if it is a valid concrete channel name.

    Raises:
        ChannelError: The name is empty, too long, has an empty or invalid
            token, or contains a wildcard.
    """
    if not isinstance(channel, str):
        raise ChannelError(f"channel must be a str, not {type(channel).__name__}")
    if len(channel.encode()) > MAX_CHANNEL_BYTES:
        raise ChannelError(f"channel longer than {MAX_CHANNEL_BYTES} bytes")
    for token in channel.split("."):
        if not _TOKEN.fullmatch(token):
            raise ChannelError(
                f"invalid channel {channel!r}: tokens are letters, digits, "
                "'_' or '-', joined by '.'"
            )
    return channel


def topic_for(channel: str) -> bytes:
    """The topic frame for a concrete channel (checked)."""
    return check_channel(channel).encode() + _TERMINATOR


def channel_from_topic(topic: bytes) -> str:
    """The channel named by a topic frame, without checking its tokens.

    Raises:
        ChannelError: The frame is not NUL-terminated UTF-8.
    """
    if not topic.endswith(_TERMINATOR):
        raise ChannelError("topic frame is not NUL-terminated")
    try:
        return topic[:-1].decode()
    except UnicodeDecodeError as exc:
        raise ChannelError("topic frame is not UTF-8") from exc


@dataclass(frozen=True)
class Pattern:
    """A channel name or wildcard pattern a listener subscribes to.

    Attributes:
        text: The pattern as written (``alerts``, ``alerts.*``, ``alerts.>``).
        prefix: The ZeroMQ subscription prefix that covers every match.
        exact: True when the pattern has no wildcard.
    """

    text: str
    prefix: bytes = field(init=False)
    exact: bool = field(init=False)
    _tokens: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text:
            raise ChannelError("a channel pattern must be a non-empty str")
        tokens = tuple(self.text.split("."))
        for index, token in enumerate(tokens):
            if token == ">" and index != len(tokens) - 1:
                raise ChannelError(f"'>' must be the last token in {self.text!r}")
            if token not in ("*", ">") and not _TOKEN.fullmatch(token):
                raise ChannelError(f"invalid channel pattern {self.text!r}")
        literal: list[str] = []
        for token in tokens:
            if token in ("*", ">"):
                break
            literal.append(token)
        exact = len(literal) == len(tokens)
        if exact:
            prefix = topic_for(self.text)
        elif literal:
            prefix = (".".join(literal) + ".").encode()
        else:
            prefix = b""
        object.__setattr__(self, "_tokens", tokens)
        object.__setattr__(self, "exact", exact)
        object.__setattr__(self, "prefix", prefix)

    def matches(self, channel: str) -> bool:
        """Whether a concrete channel name matches this pattern."""
        if self.exact:
            return channel == self.text
        parts = channel.split(".")
        for index, token in enumerate(self._tokens):
            if token == ">":
                return len(parts) > index
            if index >= len(parts) or (token != "*" and token != parts[index]):
                return False
        return len(parts) == len(self._tokens)

    def __str__(self) -> str:
        return self.text
