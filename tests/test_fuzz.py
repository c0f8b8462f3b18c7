"""Random frames into the listener's receive path (no sockets).

Whatever the frames, ``Dispatcher.dispatch`` raises nothing, counts every
message exactly once and calls no handler for anything that is not a valid
message. ``make fuzz`` runs the same target longer under atheris.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stress.common import ACK
from tests.helpers import Inbox
from zcomet import Catalog, Pattern, Subscription
from zcomet.net.dispatch import Dispatcher

_OUTCOMES = (
    "delivered",
    "malformed",
    "too_large",
    "unknown_definition",
    "fingerprint_mismatch",
    "invalid",
    "unmatched",
    "duplicates",
)

msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(-9, 9), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def near_valid(draw: st.DrawFn, catalog: Catalog) -> list[bytes]:
    """A valid message with parts swapped, cut or flipped."""
    definition = catalog["page_ack"]
    header = {
        "v": draw(st.sampled_from([1, 1, 1, 2, "1"])),
        "def": draw(st.sampled_from(["page_ack", "ticket_escalation", "nope"])),
        "fp": draw(st.sampled_from([definition.fingerprint, "0" * 16])),
        "sid": draw(st.sampled_from(["a" * 16, "b" * 16])),
        "seq": draw(st.integers(-2, 5)),
        "ts": draw(st.integers(-(2**63), 2**64 - 1)),
    }
    for key in draw(st.lists(st.sampled_from(list(header)), max_size=2)):
        header[key] = draw(msgpack_values)
    body = dict(ACK)
    for key in draw(st.lists(st.sampled_from([*ACK, "extra"]), max_size=2)):
        body[key] = draw(msgpack_values)
    frames = [
        draw(st.sampled_from([b"fuzz\x00", b"fuzz.a\x00", b"fuzz", b"\xff\x00"])),
        msgpack.packb(header),
        msgpack.packb(body),
    ]
    if draw(st.booleans()):
        index = draw(st.integers(0, 2))
        cut = draw(st.integers(0, len(frames[index])))
        frames[index] = frames[index][:cut] + draw(st.binary(max_size=4))
    return frames


def _dispatcher(catalog: Catalog) -> tuple[Dispatcher, Inbox]:
    dispatcher, inbox = Dispatcher(catalog, max_body=4096), Inbox()
    dispatcher.add(Subscription(Pattern("fuzz.>"), inbox, None, dispatcher))
    dispatcher.add(Subscription(Pattern("fuzz"), inbox, None, dispatcher))
    return dispatcher, inbox


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    log = logging.getLogger("zcomet")
    level = log.level
    log.setLevel(logging.ERROR)
    yield
    log.setLevel(level)


def _check(dispatcher: Dispatcher, inbox: Inbox, frames: list[bytes]) -> None:
    before = dispatcher.stats.snapshot()
    dispatcher.dispatch(frames)
    after = dispatcher.stats

    assert after.received == before.received + 1
    outcomes = sum(getattr(after, k) - getattr(before, k) for k in _OUTCOMES)
    assert outcomes == 1  # each message ends one way, exactly once
    assert len(inbox.messages) == after.delivered


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(st.binary(max_size=64), min_size=0, max_size=6))
def test_random_frames_never_raise_and_are_counted_once(
    catalog: Catalog, frames: list[bytes]
) -> None:
    dispatcher, inbox = _dispatcher(catalog)
    _check(dispatcher, inbox, frames)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_near_valid_frames_never_raise_and_are_counted_once(
    catalog: Catalog, data: st.DataObject
) -> None:
    dispatcher, inbox = _dispatcher(catalog)
    for _ in range(3):
        _check(dispatcher, inbox, data.draw(near_valid(catalog)))


def test_the_valid_message_the_fuzzer_starts_from_is_delivered(
    catalog: Catalog,
) -> None:
    dispatcher, inbox = _dispatcher(catalog)
    definition = catalog["page_ack"]
    header = {
        "v": 1,
        "def": "page_ack",
        "fp": definition.fingerprint,
        "sid": "a" * 16,
        "seq": 1,
        "ts": 0,
    }
    frames = [b"fuzz\x00", msgpack.packb(header), msgpack.packb(ACK)]

    _check(dispatcher, inbox, frames)

    assert dispatcher.stats.delivered == 1
