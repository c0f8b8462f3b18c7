"""Atheris target: random frames into the listener's receive path.

Run by ``make fuzz`` (``python fuzz/fuzz_listener.py -max_total_time=60``).
Whatever the frames, ``Dispatcher.dispatch`` must raise nothing and count
the message exactly once; any exception is a finding.
"""

from __future__ import annotations

import logging
import sys

import atheris

with atheris.instrument_imports():
    import msgpack

    from zcomet import Catalog, Pattern, Subscription
    from zcomet.net.dispatch import Dispatcher

CATALOG = Catalog.load("examples/helpdesk/definitions.toml")
DEFINITION = CATALOG["page_ack"]
BODY = DEFINITION.encode_body(
    {"ticket_id": "T-1234", "officer": "Ana", "acknowledged_at": "2026-01-01T00:00:00Z"}
)
HEADER = msgpack.packb(
    {"v": 1, "def": "page_ack", "fp": DEFINITION.fingerprint, "sid": "a" * 16,
     "seq": 1, "ts": 0}
)  # fmt: skip
OUTCOMES = (
    "delivered", "malformed", "too_large", "unknown_definition",
    "fingerprint_mismatch", "invalid", "unmatched", "duplicates",
)  # fmt: skip

logging.getLogger("zcomet").setLevel(logging.CRITICAL)
dispatcher = Dispatcher(CATALOG, max_body=4096)
dispatcher.add(Subscription(Pattern("fuzz.>"), lambda m: None, None, dispatcher))
dispatcher.add(Subscription(Pattern("fuzz"), lambda m: None, None, dispatcher))


def one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    mode = provider.ConsumeIntInRange(0, 3)
    if mode == 0:  # free-form frames
        count = provider.ConsumeIntInRange(0, 6)
        frames = [provider.ConsumeBytes(provider.ConsumeIntInRange(0, 256))
                  for _ in range(count)]  # fmt: skip
    else:  # a valid message with one frame replaced by fuzzed bytes
        frames = [b"fuzz\x00", HEADER, BODY]
        frames[mode - 1] = provider.ConsumeBytes(provider.remaining_bytes())

    before = sum(getattr(dispatcher.stats, k) for k in OUTCOMES)
    dispatcher.dispatch(frames)
    after = sum(getattr(dispatcher.stats, k) for k in OUTCOMES)
    if after != before + 1:
        raise AssertionError(f"message counted {after - before} times: {frames!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
