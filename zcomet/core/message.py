"""The message a handler receives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = ["Message"]


class Message(msgspec.Struct, frozen=True):
    """One received message, decoded and validated (immutable).

    Attributes:
        channel: The concrete channel it was sent on.
        definition: The technical name of its definition.
        data: The validated data, as natural Python values (``datetime``,
            ``timedelta``, ``bytes``...).
        sender: The sending ``Sender``'s id (new for every sender instance).
        sequence: The sender's sequence number on this channel, from 1.
        sent_ns: The send time, in nanoseconds since the Unix epoch.
        fingerprint: The definition fingerprint the sender used.
    """

    channel: str
    definition: str
    data: dict[str, Any]
    sender: str
    sequence: int
    sent_ns: int
    fingerprint: str

    @property
    def sent_at(self) -> datetime:
        """The send time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.sent_ns / 1e9, tz=UTC)
