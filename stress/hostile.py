"""Hostile input: malformed frames from a raw socket at a real listener.

Each kind of bad input is sent ``count`` times by a raw pyzmq XPUB socket,
then one valid control message. Per kind: every bad message is rejected and
counted under its cause, no handler is called, and the control message
arrives (the listener is alive and still delivering).

ZeroMQ cannot send a message of 0 frames; the nearest thing, a single empty
frame, is kind ``frames_1_empty``.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

from stress.common import ACK, Tally, address, catalog
from zcomet import Catalog, Listener
from zcomet.core.codec import HeaderEncoder

Frames = list[bytes]

_BAD_UTF8 = b"\xff\xfe"
_TOPIC = b"hostile\x00"


@dataclass
class Forge:
    """Builds valid frames and bad variants; each header has a new sequence."""

    catalog: Catalog
    sender: str = "bad0bad0bad0bad0"

    def __post_init__(self) -> None:
        self._sequence = itertools.count(1)
        self.definition = self.catalog["page_ack"]
        self.body = self.definition.encode_body(ACK)

    def header_map(self, **changes: Any) -> dict[str, Any]:
        header = {
            "v": 1,
            "def": "page_ack",
            "fp": self.definition.fingerprint,
            "sid": self.sender,
            "seq": next(self._sequence),
            "ts": 0,
        }
        header.update(changes)
        return {k: v for k, v in header.items() if v is not None}

    def header(self, **changes: Any) -> bytes:
        return bytes(msgpack.packb(self.header_map(**changes)))

    def body_map(self, **changes: Any) -> bytes:
        data = msgpack.unpackb(self.body, timestamp=0)
        data.update(changes)
        return bytes(msgpack.packb({k: v for k, v in data.items() if v is not None}))


def _bad_utf8(packed: bytes, placeholder: str) -> bytes:
    """Swap a 2-character str in ``packed`` for 2 bytes of invalid UTF-8."""
    return packed.replace(placeholder.encode(), _BAD_UTF8)


def _deep(forge: Forge, depth: int = 10_000) -> bytes:
    """A body whose ``officer`` is ``depth`` nested one-element arrays."""
    head = msgpack.packb({"ticket_id": "T-1234", "acknowledged_at": 0})
    return b"\x83" + head[1:] + msgpack.packb("officer") + b"\x91" * depth + b"\xc0"


# name -> (frames for one message, the stats counter that must count it)
KINDS: dict[str, tuple[Callable[[Forge], Frames], str]] = {
    "header_truncated": (lambda f: [_TOPIC, f.header()[:-1], f.body], "malformed"),
    "header_trailing": (lambda f: [_TOPIC, f.header() + b"\xc0", f.body], "malformed"),
    "header_not_map": (
        lambda f: [_TOPIC, msgpack.packb(list(f.header_map().values())), f.body],
        "malformed",
    ),
    "header_int_keys": (
        lambda f: [_TOPIC, msgpack.packb(dict(enumerate(f.header_map()))), f.body],
        "malformed",
    ),
    "header_missing_field": (
        lambda f: [_TOPIC, f.header(sid=None), f.body],
        "malformed",
    ),
    "header_wrong_type": (lambda f: [_TOPIC, f.header(seq="1"), f.body], "malformed"),
    "header_bad_utf8": (
        lambda f: [_TOPIC, _bad_utf8(f.header(sid="@@"), "@@"), f.body],
        "malformed",
    ),
    "header_bad_version": (lambda f: [_TOPIC, f.header(v=2), f.body], "malformed"),
    "header_too_large": (
        lambda f: [_TOPIC, f.header(sid="x" * 2000), f.body],
        "too_large",
    ),
    "topic_bad_utf8": (lambda f: [b"ho\xffst\x00", f.header(), f.body], "malformed"),
    "topic_unterminated": (lambda f: [b"hostile", f.header(), f.body], "malformed"),
    "topic_bad_token": (lambda f: [b"ho st\x00", f.header(), f.body], "malformed"),
    "topic_too_large": (
        lambda f: [b"a" * 300 + b"\x00", f.header(), f.body],
        "too_large",
    ),
    "frames_1_empty": (lambda f: [b""], "malformed"),
    "frames_1": (lambda f: [_TOPIC], "malformed"),
    "frames_2": (lambda f: [_TOPIC, f.header()], "malformed"),
    "frames_4": (lambda f: [_TOPIC, f.header(), f.body, f.body], "malformed"),
    "frames_50": (lambda f: [_TOPIC, f.header(), *[f.body] * 48], "malformed"),
    "unknown_definition": (
        lambda f: [_TOPIC, f.header(**{"def": "nope"}), f.body],
        "unknown_definition",
    ),
    "wrong_fingerprint": (
        lambda f: [_TOPIC, f.header(fp="0" * 16), f.body],
        "fingerprint_mismatch",
    ),
    "body_empty": (lambda f: [_TOPIC, f.header(), b""], "malformed"),
    "body_truncated": (lambda f: [_TOPIC, f.header(), f.body[:-1]], "malformed"),
    "body_trailing": (lambda f: [_TOPIC, f.header(), f.body + b"\xc0"], "malformed"),
    "body_not_map": (lambda f: [_TOPIC, f.header(), msgpack.packb([1, 2])], "invalid"),
    "body_int_keys": (
        lambda f: [_TOPIC, f.header(), msgpack.packb({1: "T-1234"})],
        "invalid",
    ),
    "body_deep_nesting": (lambda f: [_TOPIC, f.header(), _deep(f)], "invalid"),
    "body_bad_utf8": (
        lambda f: [_TOPIC, f.header(), _bad_utf8(f.body_map(officer="@@"), "@@")],
        "malformed",
    ),
    "body_unknown_field": (
        lambda f: [_TOPIC, f.header(), f.body_map(extra="x")],
        "invalid",
    ),
    "body_missing_field": (
        lambda f: [_TOPIC, f.header(), f.body_map(officer=None)],
        "invalid",
    ),
    "body_wrong_type": (
        lambda f: [_TOPIC, f.header(), f.body_map(officer=12)],
        "invalid",
    ),
}

CAUSES = (
    "malformed",
    "too_large",
    "unknown_definition",
    "fingerprint_mismatch",
    "invalid",
)


def _control(forge: Forge, control: HeaderEncoder, sequence: int) -> Frames:
    header = control.encode("page_ack", forge.definition.fingerprint, sequence, 0)
    return [b"control\x00", header, forge.body]


def hostile(count: int = 1000, kinds: list[str] | None = None) -> list[dict[str, Any]]:
    """Send ``count`` of each kind of bad input; one row of figures per kind."""
    cat = catalog()
    forge, control = Forge(cat), HeaderEncoder("c0c0c0c0c0c0c0c0")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="zc-") as folder:
        raw = zmq.Context.instance().socket(zmq.XPUB)
        raw.setsockopt(zmq.SNDHWM, 0)
        raw.setsockopt(zmq.LINGER, 0)
        try:
            raw.bind(address("ipc", folder))
            tally, calls = Tally(), Tally()
            with Listener(">" + raw.getsockopt_string(zmq.LAST_ENDPOINT), cat) as lst:
                lst.on("hostile.>", calls)
                lst.on("hostile", calls)
                lst.on(">", tally)
                lst.start()
                for _ in range(2):
                    if not raw.poll(10_000):
                        raise RuntimeError("listener did not subscribe")
                    raw.recv()

                for n, name in enumerate(kinds or list(KINDS), start=1):
                    make, cause = KINDS[name]
                    before = lst.stats.snapshot()
                    for _ in range(count):
                        raw.send_multipart(make(forge))
                    raw.send_multipart(_control(forge, control, n))
                    alive = tally.wait(lambda t, n=n: t.last == n, 10)
                    after = lst.stats.snapshot()
                    deltas = {c: getattr(after, c) - getattr(before, c) for c in CAUSES}
                    rows.append(
                        {
                            "kind": name,
                            "sent": count,
                            "cause": cause,
                            "rejected": deltas[cause],
                            "other_causes": sum(deltas.values()) - deltas[cause],
                            "handler_calls": calls.count + (tally.count - n),
                            "control_delivered": alive,
                        }
                    )
        finally:
            raw.close(0)
    return rows


def oversized(max_body: int = 64 * 1024, size: int = 8 * 1024 * 1024) -> dict[str, Any]:
    """A frame over ``max_body``: the peer is disconnected, nothing is read.

    The listener sets ``ZMQ_MAXMSGSIZE`` from ``max_body``, so libzmq drops
    the connection as soon as it reads the frame's size, before reading the
    frame. The listener is connected to two raw peers: the bad one sends the
    large frame, the good one then sends a control message, which arrives.

    libzmq treats the large frame as a protocol error and does not reconnect
    to that peer (``bad_peer_reconnected`` is False); a listener that binds
    is reconnected to by the peer's side instead.
    """
    cat = catalog()
    forge, control = Forge(cat), HeaderEncoder("c0c0c0c0c0c0c0c0")
    context = zmq.Context.instance()
    with tempfile.TemporaryDirectory(prefix="zc-") as folder:
        bad, good = context.socket(zmq.XPUB), context.socket(zmq.XPUB)
        monitor = bad.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        try:
            endpoints = []
            for raw in (bad, good):
                raw.setsockopt(zmq.LINGER, 0)
                raw.bind(address("ipc", folder))
                endpoints.append(">" + raw.getsockopt_string(zmq.LAST_ENDPOINT))
            tally = Tally()
            with Listener(endpoints, cat, max_body=max_body) as lst:
                lst.on(">", tally)
                lst.start()
                for raw in (bad, good):
                    if not raw.poll(10_000):
                        raise RuntimeError("listener did not subscribe")
                    raw.recv()

                bad.send_multipart([_TOPIC, forge.header(), b"\x00" * size])
                disconnected = bool(monitor.poll(10_000))
                if disconnected:
                    recv_monitor_message(monitor)
                good.send_multipart(_control(forge, control, 1))
                alive = tally.wait(lambda t: t.count == 1, 10)
                read = lst.stats.received
                # The lost connection shows as an unsubscription; a new
                # subscription would mean the listener reconnected.
                reconnected = False
                while not reconnected and bad.poll(1000):
                    reconnected = bad.recv().startswith(b"\x01")
        finally:
            bad.disable_monitor()
            monitor.close(0)
            bad.close(0)
            good.close(0)
    return {
        "max_body": max_body,
        "frame_bytes": size,
        "peer_disconnected": disconnected,
        "messages_read": read,
        "control_delivered": alive,
        "bad_peer_reconnected": reconnected,
    }
