"""The parts of a benchmark run, each in a zcomet and a raw pyzmq flavour.

Both flavours use the same socket pattern and carry the same bytes:

- sender: an XPUB socket with ``XPUB_VERBOSER`` (as zcomet's own sender), so
  readiness is the count of listener subscriptions seen on it, never a sleep.
  zcomet validates and encodes with ``Sender.send``; raw packs the same data
  with ``msgpack.Packer`` and sends the three frames with ``SNDMORE``.
- listener: a SUB socket on the channel's exact topic; zcomet decodes and
  validates (``Listener``), raw unpacks header and body with ``msgpack`` (no
  validation) and calls the same recording code.
- forwarder: zcomet's ``Forwarder``, or an XSUB/XPUB pair in ``zmq.proxy``;
  both pass every subscription upstream (``XPUB_VERBOSER``).

Loops are shared between the flavours, bounded by message count and by time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import msgpack
import zmq
from hdrh.histogram import HdrHistogram

from benchmarks.payloads import CHANNEL, Payload, catalog, load
from zcomet import Forwarder, Listener, Sender, SocketOptions
from zcomet.net.outbox import new_sender_id

__all__ = [
    "IMPLS",
    "MAX_LATENCY_NS",
    "Impl",
    "Plan",
    "Recorder",
    "make_forwarder",
    "make_listener",
    "make_sender",
    "receive",
    "send_plan",
]

Impl = Literal["zcomet", "raw"]

#: The two flavours, zcomet first.
IMPLS: tuple[Impl, ...] = ("zcomet", "raw")

#: Largest latency a histogram records (60 s); larger values are clamped.
MAX_LATENCY_NS = 60_000_000_000

_TOPIC = CHANNEL.encode() + b"\x00"


@dataclass(frozen=True)
class Plan:
    """What a sender sends.

    Attributes:
        count: Messages to send at most.
        duration: Seconds to send at most.
        rate: Messages per second on an absolute schedule; None: flat out.
        warmup: How many first messages the listeners leave out of latency.
    """

    count: int
    duration: float
    rate: float | None = None
    warmup: int = 0


class Recorder:
    """What a listener's handler does, the same for both flavours.

    It takes the wall clock once per message (CLOCK_REALTIME, the clock of the
    header's send timestamp), counts, and keeps the first and last arrival.
    With ``latency``, it records ``now - sent`` for every message whose
    sequence number is past the warm-up.
    """

    def __init__(self, warmup: int = 0, latency: bool = False) -> None:
        self.warmup = warmup
        self.received = 0
        self.first_ns = 0
        self.last_ns = 0
        self.histogram = HdrHistogram(1, MAX_LATENCY_NS, 3) if latency else None

    def record(self, sequence: int, sent_ns: int) -> None:
        """Account for one message at the handler's entry."""
        now = time.time_ns()
        if not self.received:
            self.first_ns = now
        self.last_ns = now
        self.received += 1
        histogram = self.histogram
        if histogram is not None and sequence > self.warmup:
            histogram.record_value(min(max(now - sent_ns, 1), MAX_LATENCY_NS))

    def summary(self) -> dict[str, Any]:
        """Counts, times and the encoded histogram, for the parent process."""
        histogram = self.histogram
        return {
            "received": self.received,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "histogram": None if histogram is None else histogram.encode().decode(),
        }


# Senders.


class SenderSide(Protocol):
    """A sender of either flavour."""

    address: str

    def wait_ready(self, listeners: int, timeout: float) -> int:
        """Wait until ``listeners`` subscriptions are seen; return the count."""

    def send_one(self, sequence: int) -> None:
        """Send one message."""

    def close(self) -> None:
        """Close the socket without flushing."""


class ZcometSender:
    """``zcomet.Sender``: validates, encodes, numbers and stamps each message."""

    def __init__(self, endpoint: str, payload: Payload, hwm: int) -> None:
        options = SocketOptions(sndhwm=hwm, rcvhwm=hwm)
        self._sender = Sender(endpoint, catalog(), options=options)
        self.address = self._sender.addresses[0]
        send, definition, data = self._sender.send, payload.definition, payload.data

        def send_one(sequence: int) -> None:
            send(CHANNEL, definition, data)

        self.send_one = send_one

    def wait_ready(self, listeners: int, timeout: float) -> int:
        return self._sender.wait_for_listeners(CHANNEL, listeners, timeout)

    def close(self) -> None:
        self._sender.close(linger=0)


class RawSender:
    """Plain pyzmq + msgpack: packs header and body, sends three frames."""

    def __init__(self, endpoint: str, payload: Payload, hwm: int) -> None:
        self._context = zmq.Context()
        self._socket = socket = self._context.socket(zmq.XPUB)
        socket.setsockopt(zmq.SNDHWM, hwm)
        socket.setsockopt(zmq.RCVHWM, hwm)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.XPUB_VERBOSER, 1)
        self.address = _attach(socket, endpoint)

        body_packer = msgpack.Packer(datetime=True)
        header_packer = msgpack.Packer()
        send, more = socket.send, zmq.SNDMORE
        wire, sid = payload.wire, new_sender_id()
        definition, fingerprint = payload.definition, payload.fingerprint
        clock = time.time_ns

        def send_one(sequence: int) -> None:
            body = body_packer.pack(wire)
            header = header_packer.pack(
                {
                    "v": 1,
                    "def": definition,
                    "fp": fingerprint,
                    "sid": sid,
                    "seq": sequence,
                    "ts": clock(),
                }
            )
            send(_TOPIC, more)
            send(header, more)
            send(body)

        self.send_one = send_one

    def wait_ready(self, listeners: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        seen = 0
        while seen < listeners:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{seen} of {listeners} listeners after {timeout} s")
            if not self._socket.poll(int(remaining * 1000) + 1, zmq.POLLIN):
                continue
            event = self._socket.recv()
            if event[:1] == b"\x01" and _TOPIC.startswith(event[1:]):
                seen += 1
            elif event[:1] == b"\x00" and _TOPIC.startswith(event[1:]):
                seen -= 1
        return seen

    def close(self) -> None:
        self._socket.close(0)
        self._context.term()


def make_sender(impl: Impl, endpoint: str, payload: str, hwm: int) -> SenderSide:
    """A bound or connected sender of the given flavour."""
    cls = ZcometSender if impl == "zcomet" else RawSender
    return cls(endpoint, load(payload), hwm)  # type: ignore[return-value]


def send_plan(side: SenderSide, plan: Plan) -> dict[str, Any]:
    """Send as the plan says; bounded by ``plan.count`` and ``plan.duration``.

    With a rate, message ``i`` leaves at ``start + i / rate`` (an absolute
    schedule: a late message never shifts the ones after it); a sender that
    falls behind sends at once, without sleeping, until it is back on time.

    Returns:
        ``sent``, the seconds spent sending, and the achieved rate.
    """
    send_one = side.send_one
    clock, sleep = time.perf_counter, time.sleep
    start = clock()
    deadline = start + plan.duration
    sent = 0

    if plan.rate is None:
        for sequence in range(1, plan.count + 1):
            send_one(sequence)
            sent = sequence
            if not sequence & 1023 and clock() > deadline:
                break
    else:
        interval = 1.0 / plan.rate
        for sequence in range(1, plan.count + 1):
            target = start + (sequence - 1) * interval
            now = clock()
            if now > deadline:
                break
            if target > now:
                sleep(target - now)
            send_one(sequence)
            sent = sequence

    elapsed = clock() - start
    return {
        "sent": sent,
        "send_seconds": elapsed,
        "send_rate": sent / elapsed if elapsed > 0 else 0.0,
    }


# Listeners.


class ListenerSide(Protocol):
    """A listener of either flavour."""

    def run_slice(self, timeout: float, limit: int | None) -> None:
        """Receive for up to ``timeout`` seconds or ``limit`` messages."""

    def close(self) -> None:
        """Close the socket."""

    def stats(self) -> dict[str, int] | None:
        """zcomet's listener counters (None for raw)."""


class ZcometListener:
    """``zcomet.Listener``: decodes, checks and validates, then the handler."""

    def __init__(
        self, endpoint: str, payload: Payload, hwm: int, recorder: Recorder
    ) -> None:
        options = SocketOptions(sndhwm=hwm, rcvhwm=hwm)
        self._listener = Listener(endpoint, catalog(), options=options)
        record = recorder.record

        def handler(message: Any) -> None:
            record(message.sequence, message.sent_ns)

        self._listener.on(CHANNEL, handler, definition=payload.definition)

    def run_slice(self, timeout: float, limit: int | None) -> None:
        self._listener.run(timeout=timeout, max_messages=limit)

    def close(self) -> None:
        self._listener.close(linger=0)

    def stats(self) -> dict[str, int] | None:
        return self._listener.stats.as_dict()


class RawListener:
    """Plain pyzmq + msgpack: unpacks header and body, no validation."""

    def __init__(
        self, endpoint: str, payload: Payload, hwm: int, recorder: Recorder
    ) -> None:
        self._context = zmq.Context()
        self._socket = socket = self._context.socket(zmq.SUB)
        socket.setsockopt(zmq.RCVHWM, hwm)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.SUBSCRIBE, _TOPIC)
        _attach(socket, endpoint)
        self._record = recorder.record

    def run_slice(self, timeout: float, limit: int | None) -> None:
        # The same loop shape as zcomet's Listener.run: poll, then a batch.
        socket, record, unpackb = self._socket, self._record, msgpack.unpackb
        recv, noblock = socket.recv_multipart, zmq.NOBLOCK
        deadline = time.monotonic() + timeout
        count = 0
        while count != limit:
            wait = int((deadline - time.monotonic()) * 1000)
            if wait < 0 or not socket.poll(wait, zmq.POLLIN):
                return
            for _ in range(256):
                try:
                    frames = recv(noblock)
                except zmq.Again:
                    break
                header = unpackb(frames[1])
                unpackb(frames[2], timestamp=3)
                record(header["seq"], header["ts"])
                count += 1
                if count == limit:
                    return

    def close(self) -> None:
        self._socket.close(0)
        self._context.term()

    def stats(self) -> dict[str, int] | None:
        return None


def make_listener(
    impl: Impl, endpoint: str, payload: str, hwm: int, recorder: Recorder
) -> ListenerSide:
    """A connected, subscribed listener of the given flavour."""
    cls = ZcometListener if impl == "zcomet" else RawListener
    return cls(endpoint, load(payload), hwm, recorder)  # type: ignore[return-value]


def receive(
    side: ListenerSide,
    recorder: Recorder,
    expected: Callable[[], int],
    deadline: float,
    idle: float = 0.5,
) -> None:
    """Receive until every sent message is in, the sender went quiet, or time's up.

    Args:
        side: The listener.
        recorder: Its handler's recorder.
        expected: How many messages were sent, or -1 while still sending.
        deadline: ``time.monotonic()`` after which to stop regardless.
        idle: Once the sender is done, stop after this long without a message
            (the rest was lost).
    """
    last_progress = time.monotonic()
    seen = 0
    while True:
        now = time.monotonic()
        if now > deadline:
            return
        total = expected()
        if total >= 0:
            if recorder.received >= total:
                return
            if now - last_progress > idle:
                return
        limit = None if total < 0 else total - recorder.received
        side.run_slice(min(0.1, max(deadline - now, 0.001)), limit)
        if recorder.received != seen:
            seen = recorder.received
            last_progress = time.monotonic()


# Forwarders.


class ForwarderSide(Protocol):
    """A forwarder of either flavour."""

    frontend: str
    backend: str

    def stats(self) -> dict[str, int] | None:
        """Proxy counters (zcomet) or None."""

    def close(self) -> None:
        """Stop the proxy and close its sockets."""


class ZcometForwarder:
    """``zcomet.Forwarder`` (libzmq's steerable proxy, steered from Python)."""

    def __init__(self, frontend: str, backend: str, hwm: int) -> None:
        options = SocketOptions(sndhwm=hwm, rcvhwm=hwm, linger_ms=0)
        self._forwarder = Forwarder(frontend, backend, options=options).start()
        self.frontend = self._forwarder.frontend_addresses[0]
        self.backend = self._forwarder.backend_addresses[0]

    def stats(self) -> dict[str, int] | None:
        return self._forwarder.statistics().as_dict()

    def close(self) -> None:
        self._forwarder.stop()


class RawForwarder:
    """An XSUB/XPUB pair in ``zmq.proxy_steerable``, stopped by TERMINATE."""

    def __init__(self, frontend: str, backend: str, hwm: int) -> None:
        self._context = zmq.Context()
        front = self._context.socket(zmq.XSUB)
        back = self._context.socket(zmq.XPUB)
        for socket in (front, back):
            socket.setsockopt(zmq.SNDHWM, hwm)
            socket.setsockopt(zmq.RCVHWM, hwm)
            socket.setsockopt(zmq.LINGER, 0)
        back.setsockopt(zmq.XPUB_VERBOSER, 1)
        self.frontend = _attach(front, frontend)
        self.backend = _attach(back, backend)

        control = f"inproc://bench-proxy-{id(self)}"
        steer = self._context.socket(zmq.PAIR)
        steer.bind(control)
        self._control = self._context.socket(zmq.PAIR)
        self._control.connect(control)
        self._sockets = (front, back, steer)
        self._thread = threading.Thread(
            target=zmq.proxy_steerable, args=(front, back, None, steer), daemon=True
        )
        self._thread.start()

    def stats(self) -> dict[str, int] | None:
        return None

    def close(self) -> None:
        self._control.send(b"TERMINATE")
        self._thread.join(5.0)
        for socket in (*self._sockets, self._control):
            socket.close(0)
        self._context.term()


def make_forwarder(impl: Impl, frontend: str, backend: str, hwm: int) -> ForwarderSide:
    """A started forwarder of the given flavour."""
    cls = ZcometForwarder if impl == "zcomet" else RawForwarder
    return cls(frontend, backend, hwm)  # type: ignore[return-value]


def _attach(socket: zmq.Socket[Any], endpoint: str) -> str:
    """Bind (``@``) or connect (``>``) in zcomet's notation; the address in use."""
    address = endpoint[1:]
    if endpoint.startswith("@"):
        socket.bind(address)
        return str(socket.getsockopt_string(zmq.LAST_ENDPOINT))
    socket.connect(address)
    return address
