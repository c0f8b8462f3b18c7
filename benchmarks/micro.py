"""Micro benchmark: the cost per message of each step on zcomet's hot path.

Each step runs ``--micro-iterations`` times in a row, three times over; the
figure is the best of the three, in µs per call (the least disturbed by other
work on the host). The steps, in the order a message meets them:

- sender: ``validate``, ``encode_body`` (validates, then encodes), the header
  encode, and ``Sender.send`` as a whole into an XPUB socket with no peer
  (zmq drops the message: this is the sender's own cost per message);
- listener: frame decode (topic + header), ``decode_body`` (decodes and
  validates), and ``dispatch`` as a whole (frames in, handler called);
- for comparison: marshmallow's own ``schema.load`` of the same data, and
  plain msgpack packing and unpacking the same body (the raw baseline's work).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from benchmarks.payloads import CHANNEL, catalog, load
from benchmarks.report import Progress
from zcomet import Pattern, Sender
from zcomet.core.codec import FrameDecoder, HeaderEncoder
from zcomet.net.dispatch import Dispatcher, Subscription

__all__ = ["STEPS", "run_suite"]

#: Steps reported, in hot-path order, with what each one is.
STEPS = {
    "validate": "Definition.validate(data)",
    "encode_body": "Definition.encode_body(data): validate + encode",
    "header_encode": "HeaderEncoder.encode(...)",
    "sender_send": "Sender.send(...) whole, into XPUB with no peer",
    "frame_decode": "FrameDecoder.decode(frames): topic + header",
    "decode_body": "Definition.decode_body(body): decode + validate",
    "dispatch": "Dispatcher.dispatch(frames) whole, no-op handler",
    "marshmallow_load": "schema.load(data): marshmallow alone",
    "msgpack_pack": "msgpack Packer.pack(wire): raw sender's body",
    "msgpack_unpack": "msgpack.unpackb(body): raw listener's body",
}

_REPEATS = 3


def _best(step: Callable[[int], Any], iterations: int) -> float:
    """Best of three runs of ``iterations`` calls, in µs per call."""
    best = float("inf")
    for _ in range(_REPEATS):
        start = time.perf_counter_ns()
        for index in range(iterations):
            step(index)
        best = min(best, (time.perf_counter_ns() - start) / iterations)
    return best / 1000


def measure(payload_name: str, iterations: int) -> dict[str, float]:
    """Per-call µs of every step in :data:`STEPS` for one payload."""
    the_catalog = catalog()
    payload = load(payload_name, the_catalog)
    definition = the_catalog[payload.definition]
    data, wire = payload.data, payload.wire
    body = definition.encode_body(data)
    topic = CHANNEL.encode() + b"\x00"
    headers = HeaderEncoder("0123456789abcdef")
    fingerprint = definition.fingerprint
    now = time.time_ns()

    def header(sequence: int) -> bytes:
        return headers.encode(payload.definition, fingerprint, sequence, now)

    # Dispatch tracks sequence numbers and drops duplicates: every call gets
    # its own header, made before the clock starts.
    total = iterations * _REPEATS
    frames = [[topic, header(n + 1), body] for n in range(total)]
    dispatcher = Dispatcher(the_catalog)
    dispatcher.add(
        Subscription(Pattern(CHANNEL), lambda message: None, payload.definition, None)
    )
    calls = iter(range(total))
    decoder = FrameDecoder()
    packer = msgpack.Packer(datetime=True)
    schema = definition.schema

    context = zmq.Context()
    sender = Sender("@inproc://bench-micro", the_catalog, context=context)
    try:
        steps: dict[str, Callable[[int], Any]] = {
            "validate": lambda i: definition.validate(data),
            "encode_body": lambda i: definition.encode_body(data),
            "header_encode": lambda i: header(i),
            "sender_send": lambda i: sender.send(CHANNEL, payload.definition, data),
            "frame_decode": lambda i: decoder.decode(frames[0]),
            "decode_body": lambda i: definition.decode_body(body),
            "dispatch": lambda i: dispatcher.dispatch(frames[next(calls)]),
            "marshmallow_load": lambda i: schema.load(data),
            "msgpack_pack": lambda i: packer.pack(wire),
            "msgpack_unpack": lambda i: msgpack.unpackb(body, timestamp=3),
        }
        result = {name: _best(step, iterations) for name, step in steps.items()}
    finally:
        sender.close(linger=0)
        context.term()
    if dispatcher.stats.delivered != total:
        raise RuntimeError(f"dispatch delivered {dispatcher.stats.delivered}/{total}")
    return result


def run_suite(
    payloads: tuple[str, ...], iterations: int, progress: Progress
) -> dict[str, dict[str, float]]:
    """Measure every payload; returns ``{payload: {step: µs}}``."""
    results: dict[str, dict[str, float]] = {}
    for name in payloads:
        progress.begin(f"micro {name:<6} ({iterations:,} calls x {_REPEATS})")
        results[name] = measure(name, iterations)
        steps = results[name]
        progress.end(
            f"encode_body {steps['encode_body']:.1f} µs, "
            f"decode_body {steps['decode_body']:.1f} µs, "
            f"marshmallow {steps['marshmallow_load']:.1f} µs"
        )
    return results
