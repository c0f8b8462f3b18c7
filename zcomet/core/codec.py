"""The wire codec: messages to frames and back. Pure: no sockets, no I/O.

A zcomet message is three ZeroMQ frames (see ``docs/protocol.md``)::

    topic   channel name as UTF-8, then one NUL byte
    header  msgpack map: v, def, fp, sid, seq, ts
    body    msgpack map: the data, encoded by its definition

Everything that decodes bytes from the network raises :class:`DecodeError`
(or a subclass) and nothing else, whatever the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import msgpack
import msgspec

from zcomet.core.channels import MAX_CHANNEL_BYTES, channel_from_topic, check_channel
from zcomet.errors import ChannelError, DecodeError, FrameTooLarge

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_HEADER_BYTES",
    "PROTOCOL_VERSION",
    "Envelope",
    "FrameDecoder",
    "Header",
    "HeaderEncoder",
    "decode_any_body",
]

#: Version written in every header; a listener drops other versions.
PROTOCOL_VERSION = 1

#: Largest header frame accepted.
MAX_HEADER_BYTES = 1024

#: Default largest body frame accepted, in bytes.
DEFAULT_MAX_BODY = 1024 * 1024

# Limits for schema-less decoding (spy, tools): nothing larger than the frame.
_MAX_CONTAINER = 65_536


class Header(
    msgspec.Struct,
    frozen=True,
    rename={
        "version": "v",
        "definition": "def",
        "fingerprint": "fp",
        "sender": "sid",
        "sequence": "seq",
        "sent_ns": "ts",
    },
):
    """The header frame's fields. Unknown keys are ignored (forward-compatible).

    Attributes:
        version: Protocol version (1).
        definition: Technical name of the body's definition.
        fingerprint: The sender's fingerprint of that definition.
        sender: Id of the sending instance; a restarted sender has a new one.
        sequence: Per-sender, per-channel sequence number, from 1.
        sent_ns: Send time in nanoseconds since the Unix epoch.
    """

    version: int
    definition: str
    fingerprint: str
    sender: str
    sequence: int
    sent_ns: int


_header_decoder = msgspec.msgpack.Decoder(Header)
_header_encoder = msgspec.msgpack.Encoder()


class HeaderEncoder:
    """Encodes headers for one sender; the constant fields are set once."""

    __slots__ = ("sender",)

    def __init__(self, sender: str) -> None:
        self.sender = sender

    def encode(
        self, definition: str, fingerprint: str, sequence: int, sent_ns: int
    ) -> bytes:
        """The header frame for one message."""
        return _header_encoder.encode(
            Header(
                PROTOCOL_VERSION,
                definition,
                fingerprint,
                self.sender,
                sequence,
                sent_ns,
            )
        )


class Envelope(NamedTuple):
    """A message whose topic and header are decoded and whose body is not.

    A named tuple: built once per received message, so it must be cheap.

    Attributes:
        channel: The concrete channel.
        header: The decoded header.
        body: The body frame, still encoded.
    """

    channel: str
    header: Header
    body: bytes


class FrameDecoder:
    """Checks the frame layout and decodes the topic and header.

    It remembers up to ``cache_size`` topics it has already checked, so a busy
    channel's name is validated once, not once per message.

    Args:
        max_body: The largest body accepted, in bytes.
        cache_size: How many checked topics to remember.
    """

    def __init__(
        self, max_body: int = DEFAULT_MAX_BODY, cache_size: int = 4096
    ) -> None:
        self.max_body = max_body
        self._cache_size = cache_size
        self._channels: dict[bytes, str] = {}

    def decode(self, frames: Sequence[bytes]) -> Envelope:
        """Decode one message's frames, leaving the body encoded.

        Raises:
            DecodeError: Any fault in the frames (a subclass says which).
        """
        if len(frames) != 3:
            raise DecodeError(f"expected 3 frames, got {len(frames)}")
        topic, header_bytes, body = frames

        if len(header_bytes) > MAX_HEADER_BYTES:
            raise FrameTooLarge("header frame", len(header_bytes), MAX_HEADER_BYTES)
        if len(body) > self.max_body:
            raise FrameTooLarge("body frame", len(body), self.max_body)

        channel = self._channels.get(topic)
        if channel is None:
            channel = self._check_topic(topic)
        try:
            header = _header_decoder.decode(header_bytes)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise DecodeError(f"bad header frame: {exc}") from exc
        if header.version != PROTOCOL_VERSION:
            raise DecodeError(f"unsupported protocol version {header.version}")

        return Envelope(channel, header, body)

    def _check_topic(self, topic: bytes) -> str:
        if len(topic) > MAX_CHANNEL_BYTES + 1:
            raise FrameTooLarge("topic frame", len(topic), MAX_CHANNEL_BYTES + 1)
        try:
            channel = check_channel(channel_from_topic(topic))
        except ChannelError as exc:
            raise DecodeError(f"bad topic frame: {exc}") from exc
        if len(self._channels) < self._cache_size:
            self._channels[topic] = channel
        return channel


def decode_any_body(body: bytes) -> Any:
    """Decode a body without its definition, for tools that only display it.

    Date-times come back as aware datetimes; maps must have str keys.

    Raises:
        DecodeError: The bytes are not one well-formed msgpack value.
    """
    try:
        return msgpack.unpackb(
            body,
            raw=False,
            timestamp=3,
            strict_map_key=True,
            max_str_len=len(body),
            max_bin_len=len(body),
            max_array_len=min(len(body), _MAX_CONTAINER),
            max_map_len=min(len(body), _MAX_CONTAINER),
            max_ext_len=len(body),
        )
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise DecodeError(f"bad body: {exc}") from exc
