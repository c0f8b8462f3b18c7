"""The dispatcher alone: frames in, handlers called, faults counted. No sockets."""

from __future__ import annotations

import logging

import pytest

from tests.helpers import Inbox
from zcomet import Catalog, Pattern
from zcomet.core.codec import HeaderEncoder
from zcomet.net.dispatch import Dispatcher, Subscription

ACK = {
    "ticket_id": "T-1234",
    "officer": "Ana",
    "acknowledged_at": "2026-01-01T00:00:00Z",
}


def frames(catalog: Catalog, sequence: int, sender: str = "a" * 16) -> list[bytes]:
    definition = catalog["page_ack"]
    header = HeaderEncoder(sender).encode(
        "page_ack", definition.fingerprint, sequence, 0
    )
    return [b"desk\x00", header, definition.encode_body(ACK)]


def dispatcher_with(catalog: Catalog, inbox: Inbox, **options: object) -> Dispatcher:
    dispatcher = Dispatcher(catalog, **options)  # type: ignore[arg-type]
    dispatcher.add(Subscription(Pattern("desk"), inbox, None, dispatcher))
    return dispatcher


def test_a_flood_of_bad_frames_is_counted_in_full_and_logged_sparingly(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Inbox()
    dispatcher = dispatcher_with(catalog, inbox)
    with caplog.at_level(logging.WARNING):
        for _ in range(1000):
            dispatcher.dispatch([b"desk\x00", b"\xc1", b""])
        dispatcher.dispatch(frames(catalog, 1))  # the control

    assert dispatcher.stats.malformed == 1000
    assert len(inbox.messages) == 1
    assert 1 <= len(caplog.records) <= 3  # one a second at most


def test_gaps_and_duplicates_are_counted_exactly_and_reported(
    catalog: Catalog,
) -> None:
    inbox = Inbox()
    reported: list[tuple[str, str, int, int]] = []
    dispatcher = dispatcher_with(
        catalog, inbox, on_gap=lambda *gap: reported.append(gap)
    )
    for sequence in (1, 2, 5, 5, 3, 6, 10):
        dispatcher.dispatch(frames(catalog, sequence))

    assert [m.sequence for m in inbox.messages] == [1, 2, 5, 6, 10]
    assert dispatcher.stats.gaps == 2 + 3
    assert dispatcher.stats.duplicates == 2
    assert reported == [("a" * 16, "desk", 3, 5), ("a" * 16, "desk", 7, 10)]


def test_a_new_sender_id_starts_a_new_epoch_not_a_gap(catalog: Catalog) -> None:
    inbox = Inbox()
    dispatcher = dispatcher_with(catalog, inbox)
    dispatcher.dispatch(frames(catalog, 500, sender="a" * 16))
    dispatcher.dispatch(frames(catalog, 1, sender="b" * 16))
    dispatcher.dispatch(frames(catalog, 2, sender="b" * 16))

    assert len(inbox.messages) == 3
    assert dispatcher.stats.gaps == 0


def test_an_unknown_definition_and_a_fingerprint_mismatch_are_dropped(
    catalog: Catalog,
) -> None:
    inbox = Inbox()
    dispatcher = dispatcher_with(catalog, inbox)
    body = catalog["page_ack"].encode_body(ACK)
    encoder = HeaderEncoder("c" * 16)
    dispatcher.dispatch([b"desk\x00", encoder.encode("nope", "0" * 16, 1, 0), body])
    dispatcher.dispatch([b"desk\x00", encoder.encode("page_ack", "0" * 16, 2, 0), body])
    dispatcher.dispatch(frames(catalog, 1))  # the control

    assert dispatcher.stats.unknown_definition == 1
    assert dispatcher.stats.fingerprint_mismatch == 1
    assert len(inbox.messages) == 1
