"""Loss accounting over real sockets: every message received or reported."""

from __future__ import annotations

import logging
import time

import pytest

from stress import accounting
from stress.common import ACK
from tests.figures import report
from tests.helpers import Inbox, make_address
from zcomet import Catalog, Listener, Pattern, Sender, Subscription
from zcomet.core.codec import HeaderEncoder
from zcomet.net.dispatch import Dispatcher

pytestmark = pytest.mark.timeout(90)


def test_100000_of_100000_delivered_after_the_readiness_wait() -> None:
    figures = accounting.delivery(100_000, "inproc")
    report("delivery", figures)

    assert figures["received"] == figures["sent"] == 100_000
    assert figures["gaps"] == figures["duplicates"] == 0


def test_sent_equals_received_plus_reported_gaps_over_100000() -> None:
    figures = accounting.loss(100_000, "inproc", hwm=50)
    report("loss accounting", figures)

    assert figures["gaps"] > 0  # the small queues did overflow
    assert figures["balanced"]
    assert figures["gaps_reported_to_callback"] == figures["gaps"]
    assert figures["duplicates"] == 0


def test_a_slow_listener_counts_drops_and_signals_lag_within_1_s() -> None:
    figures = accounting.slow_listener(10_000, threshold=0.2)
    report("slow listener", figures)

    assert figures["gaps"] > 0
    assert figures["balanced"]
    assert figures["longest_send_ms"] < 500  # drop policy: send never waits
    assert figures["lag_signals"] >= 1
    assert figures["lag_signal_delay_s"] < 1.0


def test_no_lag_signal_for_a_listener_that_keeps_up(catalog: Catalog) -> None:
    signals: list[float] = []
    inbox = Inbox()
    with Sender("@" + make_address("inproc"), catalog) as sender:
        listener = Listener(
            ">" + sender.addresses[0],
            catalog,
            lag_threshold=0.2,
            on_lag=lambda *args: signals.append(args[-1]),
        )
        with listener:
            listener.on("calm", inbox)
            listener.start()
            sender.wait_for_listeners("calm", 1)
            for _ in range(100):
                sender.send("calm", "page_ack", ACK)
            inbox.wait_for(100)

    assert signals == []
    assert listener.stats.lagged == 0


def test_old_messages_raise_the_lag_signal_once_then_once_a_second(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    signals: list[tuple[str, float]] = []
    dispatcher = Dispatcher(
        catalog,
        lag_threshold=1.0,
        on_lag=lambda sender, channel, sent_ns, age: signals.append((channel, age)),
    )
    dispatcher.add(_subscription(dispatcher, "late"))
    header = HeaderEncoder("a" * 16)
    definition = catalog["page_ack"]
    body = definition.encode_body(ACK)
    old = time.time_ns() - 5 * 10**9

    with caplog.at_level(logging.WARNING):
        dispatcher.tick()
        for sequence in range(1, 4):
            dispatcher.dispatch(
                [
                    b"late\x00",
                    header.encode("page_ack", definition.fingerprint, sequence, old),
                    body,
                ]
            )
        # Positive control: a fresh message is not late and ends the lag.
        dispatcher.dispatch(
            [
                b"late\x00",
                header.encode("page_ack", definition.fingerprint, 4, time.time_ns()),
                body,
            ]
        )

    assert [channel for channel, _ in signals] == ["late"]
    assert signals[0][1] > 4.0
    assert dispatcher.stats.lagged == 3
    assert dispatcher.stats.delivered == 4
    assert "listener behind on late" in caplog.text


def test_a_restarted_sender_is_a_new_epoch_not_a_gap(catalog: Catalog) -> None:
    inbox = Inbox()
    with Listener("@" + make_address("tcp"), catalog) as listener:
        listener.on("epoch", inbox)
        listener.start()
        for restart in range(2):
            with Sender(">" + listener.addresses[0], catalog) as sender:
                sender.wait_for_listeners("epoch", 1)
                for _ in range(3):
                    sender.send("epoch", "page_ack", ACK)
                inbox.wait_for(3 * (restart + 1))

    assert [m.sequence for m in inbox.messages] == [1, 2, 3, 1, 2, 3]
    assert len({m.sender for m in inbox.messages}) == 2
    assert listener.stats.gaps == listener.stats.duplicates == 0


def test_a_duplicate_is_dropped_and_counted_a_skip_is_a_gap(catalog: Catalog) -> None:
    gaps: list[tuple[int, int]] = []
    dispatcher = Dispatcher(catalog, on_gap=lambda s, c, e, r: gaps.append((e, r)))
    inbox = Inbox()
    dispatcher.add(_subscription(dispatcher, "dup", inbox))
    header = HeaderEncoder("d" * 16)
    definition = catalog["page_ack"]
    body = definition.encode_body(ACK)

    for sequence in (1, 2, 2, 1, 5, 6):
        dispatcher.dispatch(
            [
                b"dup\x00",
                header.encode("page_ack", definition.fingerprint, sequence, 0),
                body,
            ]
        )

    assert [m.sequence for m in inbox.messages] == [1, 2, 5, 6]
    assert dispatcher.stats.duplicates == 2
    assert dispatcher.stats.gaps == 2
    assert gaps == [(3, 5)]


def test_stats_snapshot_does_not_change_afterwards(catalog: Catalog) -> None:
    dispatcher = Dispatcher(catalog)
    snapshot = dispatcher.stats.snapshot()
    dispatcher.dispatch([b"x"])

    assert snapshot.received == 0
    assert dispatcher.stats.received == dispatcher.stats.malformed == 1


def _subscription(
    dispatcher: Dispatcher, channel: str, handler: Inbox | None = None
) -> Subscription:
    return Subscription(Pattern(channel), handler or Inbox(), None, dispatcher)
