"""A foreign client, written from docs/protocol.md alone: raw pyzmq + msgpack.

Nothing of zcomet is used on the foreign side, only libzmq and msgpack, as a
client in another language would; zcomet is on the other end.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack
import pytest
import zmq

from tests.helpers import Inbox
from zcomet import Catalog, Listener, Sender

pytestmark = pytest.mark.timeout(30)


def foreign_frames(
    channel: str, definition: str, fingerprint: str, seq: int, body: dict[str, Any]
) -> list[bytes]:
    """The three frames, as the document describes them."""
    topic = channel.encode() + b"\x00"
    header = msgpack.packb(
        {
            "v": 1,
            "def": definition,
            "fp": fingerprint,
            "sid": "foreign-" + secrets.token_hex(4),
            "seq": seq,
            "ts": time.time_ns(),
        }
    )
    return [topic, header, msgpack.packb(body, datetime=True)]


def test_a_foreign_sender_reaches_a_zcomet_listener(catalog: Catalog) -> None:
    context = zmq.Context.instance()
    foreign = context.socket(zmq.XPUB)  # XPUB only to see the subscription
    foreign.bind("tcp://127.0.0.1:*")
    inbox = Inbox()
    opened = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    body = {
        "ticket_id": "T-2001",
        "title": "Foreign ticket",
        "priority": "high",
        "customer": "Elsewhere Ltd",
        "opened_at": opened,
        "response_due": 900,  # seconds
        "impact_score": 4,  # an int is accepted for a number
        "attachment": {
            "name": "log.txt",
            "media_type": "text/plain",
            "content": b"\x00\x01",
        },
        "events": [{"at": opened, "actor": "bot", "note": "opened"}],
    }
    try:
        endpoint = foreign.getsockopt_string(zmq.LAST_ENDPOINT)
        with Listener(">" + endpoint, catalog) as listener:
            listener.on("escalation", inbox)
            listener.start()
            assert foreign.poll(5000), "the listener's subscription never came"
            assert foreign.recv() == b"\x01escalation\x00"

            fingerprint = catalog["ticket_escalation"].fingerprint
            for seq in (1, 2):
                foreign.send_multipart(
                    foreign_frames(
                        "escalation", "ticket_escalation", fingerprint, seq, body
                    )
                )
            first, second = inbox.wait_for(2)
    finally:
        foreign.close(0)

    data = first.data
    assert data["ticket_id"] == "T-2001"
    assert data["opened_at"] == opened
    assert data["response_due"] == timedelta(seconds=900)
    assert data["impact_score"] == 4.0
    assert data["attachment"].content == b"\x00\x01"
    assert data["events"][0]["at"] == opened
    assert data["escalation_level"] == 1  # the declared default
    assert (first.sequence, second.sequence) == (1, 2)
    assert listener.stats.gaps == 0


def test_a_foreign_listener_receives_from_a_zcomet_sender(catalog: Catalog) -> None:
    context = zmq.Context.instance()
    foreign = context.socket(zmq.SUB)
    opened = datetime.now(UTC)
    try:
        with Sender("@tcp://127.0.0.1:*", catalog) as sender:
            foreign.connect(sender.addresses[0])
            foreign.setsockopt(zmq.SUBSCRIBE, b"alerts\x00")  # exact channel
            sender.wait_for_listeners("alerts", 1)

            ack = {"ticket_id": "T-1234", "officer": "Ana", "acknowledged_at": opened}
            sender.send("alerts-high", "page_ack", ack)  # must not arrive
            sender.send("alerts", "page_ack", ack)
            assert foreign.poll(5000)
            topic, header_bytes, body_bytes = foreign.recv_multipart()
            assert not foreign.poll(100), "more than the exact channel arrived"
    finally:
        foreign.close(0)

    assert topic == b"alerts\x00"
    header = msgpack.unpackb(header_bytes)
    assert header["v"] == 1
    assert header["def"] == "page_ack"
    assert header["fp"] == catalog["page_ack"].fingerprint
    assert len(header["fp"]) == 16 and int(header["fp"], 16) >= 0
    assert header["sid"] == sender.id
    assert header["seq"] == 1
    assert abs(header["ts"] - time.time_ns()) < 60 * 10**9
    body = msgpack.unpackb(body_bytes, timestamp=3)
    assert body == {
        "ticket_id": "T-1234",
        "officer": "Ana",
        "acknowledged_at": opened,
    }
