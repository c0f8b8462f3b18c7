"""What every sender does before its socket: validate, encode, number, stamp.

The sync and asyncio senders are thin adapters around :class:`Outbox` and
:class:`SubscriptionCounter`, so both follow one policy.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from zcomet.core.catalog import Catalog
from zcomet.core.channels import topic_for
from zcomet.core.codec import HeaderEncoder
from zcomet.core.definitions import Definition
from zcomet.errors import DefinitionError

__all__ = ["Outbox", "SubscriptionCounter", "new_sender_id"]


def new_sender_id() -> str:
    """A fresh random sender id; a restarted sender gets a new one."""
    return secrets.token_hex(8)


class Outbox:
    """Turns ``(channel, definition, data)`` into frames for one sender.

    Not thread-safe on its own: callers hold a lock around :meth:`number`
    and the socket send, so sequence numbers leave in order.

    Args:
        catalog: Where definitions are looked up by technical name.
        sender_id: This sender's id, written in every header.
    """

    def __init__(self, catalog: Catalog, sender_id: str) -> None:
        self.catalog = catalog
        self.sender_id = sender_id
        self._header = HeaderEncoder(sender_id)
        self._topics: dict[str, bytes] = {}
        self._sequences: dict[str, int] = {}

    def definition(self, definition: str | Definition) -> Definition:
        """Resolve a technical name (or pass a ``Definition`` through).

        Raises:
            DefinitionError: The catalog has no such definition.
        """
        if isinstance(definition, Definition):
            return definition
        found = self.catalog.get(definition)
        if found is None:
            raise DefinitionError("not in the catalog", definition=definition)
        return found

    def body(
        self, definition: str | Definition, data: Mapping[str, Any]
    ) -> tuple[Definition, bytes]:
        """Validate and encode ``data``; raises ``ValidationError`` if invalid."""
        resolved = self.definition(definition)
        return resolved, resolved.encode_body(data)

    def topic(self, channel: str) -> bytes:
        """The topic frame for ``channel``; raises ``ChannelError`` if invalid."""
        topic = self._topics.get(channel)
        if topic is None:
            topic = self._topics[channel] = topic_for(channel)
        return topic

    def number(self, channel: str, definition: Definition) -> tuple[int, bytes]:
        """Take the next sequence number on ``channel`` and build the header."""
        sequence = self._sequences.get(channel, 0) + 1
        self._sequences[channel] = sequence
        header = self._header.encode(
            definition.technical_name, definition.fingerprint, sequence, time.time_ns()
        )
        return sequence, header

    def unnumber(self, channel: str, sequence: int) -> None:
        """Give back a sequence number whose message was not sent."""
        if self._sequences.get(channel) == sequence:
            self._sequences[channel] = sequence - 1

    def sequence(self, channel: str) -> int:
        """The last sequence number used on ``channel`` (0 if none)."""
        return self._sequences.get(channel, 0)


class SubscriptionCounter:
    """Counts listener subscriptions seen on an XPUB socket, by topic prefix.

    The socket runs with ``XPUB_VERBOSER`` so every subscribe and unsubscribe
    arrives, one per listener socket and prefix.
    """

    def __init__(self) -> None:
        self._counts: dict[bytes, int] = {}

    def feed(self, message: bytes) -> None:
        """Take one subscription message (``\\x01`` or ``\\x00`` + prefix)."""
        if not message:
            return
        prefix = message[1:]
        if message[0] == 1:
            self._counts[prefix] = self._counts.get(prefix, 0) + 1
        elif message[0] == 0 and prefix in self._counts:
            self._counts[prefix] -= 1
            if self._counts[prefix] <= 0:
                del self._counts[prefix]

    def count(self, topic: bytes) -> int:
        """How many subscriptions would receive a message on ``topic``."""
        return sum(n for prefix, n in self._counts.items() if topic.startswith(prefix))
