"""The messages the benchmarks send, and the exact bytes they become.

Two payloads:

- ``small``: a metric sample, six scalar fields, about 100 B of msgpack body;
- ``ticket``: the helpdesk example's ``ticket_escalation`` with a 5-row
  ``events`` list, about 480 B of body (about 580 B with topic and header).

The raw baseline sends the same data through plain msgpack: it re-encodes the
wire form of the zcomet body (durations as seconds, date-times as msgpack
timestamps) on every message, and :func:`load` checks that its bytes equal
zcomet's, so both sides carry the same bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgpack

from zcomet import Catalog, Definition
from zcomet.core.codec import HeaderEncoder

__all__ = [
    "CHANNEL",
    "PAYLOADS",
    "Payload",
    "catalog",
    "load",
    "raw_header",
]

#: The channel every benchmark message is sent on.
CHANNEL = "bench.load"

#: Payload names, in report order.
PAYLOADS = ("small", "ticket")

HELPDESK = Path(__file__).resolve().parent.parent / "examples/helpdesk"

SMALL = {
    "name": "Bench small",
    "technical_name": "bench_small",
    "description": "A metric sample: the small benchmark message.",
    "fields": {
        "host": {"type": "text", "max_length": 64},
        "metric": {"type": "text", "max_length": 64},
        "value": {"type": "number"},
        "unit": {"type": "choice", "choices": ["ms", "s", "B", "%"]},
        "ok": {"type": "boolean"},
        "count": {"type": "integer", "min": 0},
    },
}


def catalog() -> Catalog:
    """The helpdesk definitions plus ``bench_small``; equal in every process."""
    result = Catalog.load(HELPDESK / "definitions.toml")
    result.add(Definition.from_dict(SMALL))
    return result


def small_data() -> dict[str, Any]:
    """The small message's data."""
    return {
        "host": "web-07.eu-west.example.net",
        "metric": "http.request.duration.p99",
        "value": 123.456,
        "unit": "ms",
        "ok": True,
        "count": 48213,
    }


def ticket_data() -> dict[str, Any]:
    """A ticket as the helpdesk app builds it, with five events."""
    opened = datetime(2026, 1, 5, 9, 30, 12, 345678, tzinfo=UTC)
    events = [
        ("web form", "ticket opened", 0),
        ("l1", "reproduced", 5),
        ("l2", "escalated", 20),
        ("l3", "root cause found", 25),
        ("l3", "fix deployed", 28),
    ]
    return {
        "ticket_id": "T-1001",
        "title": "Checkout fails for customer #1",
        "description": "**Payments** time out after the *3-D Secure* step.",
        "priority": "critical",
        "tags": ["billing", "network"],
        "customer": "ACME shop 1",
        "opened_at": opened,
        "response_due": timedelta(minutes=15),
        "escalation_level": 2,
        "impact_score": 7.5,
        "vip": False,
        "events": [
            {"at": opened + timedelta(minutes=m), "actor": actor, "note": note}
            for actor, note, m in events
        ],
    }


@dataclass(frozen=True)
class Payload:
    """One benchmark message, ready for either side.

    Attributes:
        name: ``small`` or ``ticket``.
        definition: Its zcomet definition's technical name.
        fingerprint: That definition's fingerprint (the raw header carries it).
        data: The data a zcomet sender is given (natural Python values).
        wire: The same data in wire form, what the raw sender packs.
        topic_bytes: Size of the topic frame.
        header_bytes: Size of a typical header frame.
        body_bytes: Size of the body frame (equal on both sides).
    """

    name: str
    definition: str
    fingerprint: str
    data: dict[str, Any]
    wire: dict[str, Any]
    topic_bytes: int
    header_bytes: int
    body_bytes: int

    @property
    def wire_bytes(self) -> int:
        """Bytes of one message on the wire: topic + header + body frames."""
        return self.topic_bytes + self.header_bytes + self.body_bytes

    def describe(self) -> dict[str, Any]:
        """The sizes, for the JSON report."""
        return {
            "definition": self.definition,
            "topic_bytes": self.topic_bytes,
            "header_bytes": self.header_bytes,
            "body_bytes": self.body_bytes,
            "wire_bytes": self.wire_bytes,
        }


def load(name: str, catalog_: Catalog | None = None) -> Payload:
    """Build a payload by name and check that both sides encode equal bytes.

    Raises:
        ValueError: Unknown name, or the raw bytes differ from zcomet's.
    """
    makers = {
        "small": ("bench_small", small_data),
        "ticket": ("ticket_escalation", ticket_data),
    }
    if name not in makers:
        raise ValueError(f"unknown payload {name!r}; choose from {', '.join(PAYLOADS)}")
    technical_name, make = makers[name]
    definition = (catalog_ or catalog())[technical_name]

    data = make()
    body = definition.encode_body(data)
    wire = msgpack.unpackb(body, timestamp=3)
    if msgpack.packb(wire, datetime=True) != body:
        raise ValueError(f"raw msgpack bytes differ from zcomet's for {name!r}")
    header = HeaderEncoder("0" * 16).encode(
        technical_name, definition.fingerprint, 1_000_000, time.time_ns()
    )
    topic = len(CHANNEL.encode()) + 1
    return Payload(
        name,
        technical_name,
        definition.fingerprint,
        data,
        wire,
        topic,
        len(header),
        len(body),
    )


def raw_header(payload: Payload, sender: str, sequence: int) -> bytes:
    """A protocol-v1 header packed with plain msgpack, stamped now."""
    return msgpack.packb(
        {
            "v": 1,
            "def": payload.definition,
            "fp": payload.fingerprint,
            "sid": sender,
            "seq": sequence,
            "ts": time.time_ns(),
        }
    )
