"""Sender to listener over real sockets: tcp, ipc and inproc."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta

import pytest
import zmq

from tests.helpers import Inbox, make_address, ticket, wait_until
from zcomet import (
    AsyncListener,
    AsyncSender,
    Catalog,
    ChannelError,
    Listener,
    Message,
    Sender,
    Timeout,
    ValidationError,
)
from zcomet.core.codec import HeaderEncoder

pytestmark = pytest.mark.timeout(30)


def pair(catalog: Catalog, address: str) -> tuple[Sender, Listener]:
    sender = Sender("@" + address, catalog)
    listener = Listener(">" + sender.addresses[0], catalog)
    return sender, listener


def test_a_message_reaches_the_listener_with_natural_values(
    catalog: Catalog, address: str
) -> None:
    sender, listener = pair(catalog, address)
    inbox = Inbox()
    with sender, listener:
        listener.on("escalation", inbox)
        listener.start()
        sender.wait_for_listeners("escalation", 1)

        sent = ticket(1)
        sequence = sender.send("escalation", "ticket_escalation", sent)
        [message] = inbox.wait_for(1)

    assert message.channel == "escalation"
    assert message.definition == "ticket_escalation"
    assert message.sequence == sequence == 1
    assert message.sender == sender.id
    assert isinstance(message.sent_at, datetime)
    assert message.data["ticket_id"] == sent["ticket_id"]
    assert message.data["opened_at"] == sent["opened_at"]
    assert message.data["response_due"] == timedelta(minutes=15)
    assert message.data["events"][1]["note"] == "reproduced"


def test_exact_channels_never_receive_longer_names(catalog: Catalog) -> None:
    sender, listener = pair(catalog, make_address("inproc"))
    exact, prefixed = Inbox(), Inbox()
    with sender, listener:
        listener.on("alerts", exact, definition="page_ack")
        listener.on("alerts-high", prefixed)
        listener.start()
        sender.wait_for_listeners("alerts", 1)
        sender.wait_for_listeners("alerts-high", 1)

        ack = {
            "ticket_id": "T-1234",
            "officer": "Ana",
            "acknowledged_at": "2026-01-01T00:00:00Z",
        }
        sender.send("alerts-high", "page_ack", ack)
        sender.send("alerts", "page_ack", ack)
        prefixed.wait_for(1)
        exact.wait_for(1)
        listener.stop()

    assert [m.channel for m in exact.messages] == ["alerts"]
    assert [m.channel for m in prefixed.messages] == ["alerts-high"]


def test_wildcards_match_token_by_token(catalog: Catalog) -> None:
    sender, listener = pair(catalog, make_address("inproc"))
    one, many = Inbox(), Inbox()
    ack = {
        "ticket_id": "T-1234",
        "officer": "Ana",
        "acknowledged_at": datetime.now().astimezone(),
    }
    with sender, listener:
        listener.on("desk.*", one)
        listener.on("desk.>", many)
        listener.start()
        sender.wait_for_listeners("desk.a", 1)

        for channel in ("desk.a", "desk.a.b", "desk", "desks.a"):
            sender.send(channel, "page_ack", ack)
        many.wait_for(2)
        one.wait_for(1)
        listener.stop()

    assert [m.channel for m in one.messages] == ["desk.a"]
    assert [m.channel for m in many.messages] == ["desk.a", "desk.a.b"]
    assert listener.stats.received == 2  # ZeroMQ filtered "desk" and "desks.a"


def test_a_definition_filter_only_passes_that_definition(catalog: Catalog) -> None:
    sender, listener = pair(catalog, make_address("inproc"))
    acks, anything = Inbox(), Inbox()
    ack = {
        "ticket_id": "T-1234",
        "officer": "Ana",
        "acknowledged_at": "2026-01-01T00:00:00+01:00",
    }
    with sender, listener:
        listener.on("escalation", acks, definition="page_ack")
        listener.on("escalation", anything)
        listener.start()
        sender.wait_for_listeners("escalation", 1)

        sender.send("escalation", "ticket_escalation", ticket())
        sender.send("escalation", "page_ack", ack)
        anything.wait_for(2)
        acks.wait_for(1)

    assert [m.definition for m in acks.messages] == ["page_ack"]
    assert [m.definition for m in anything.messages] == [
        "ticket_escalation",
        "page_ack",
    ]


def test_invalid_data_raises_at_the_call_site_and_sends_nothing(
    catalog: Catalog,
) -> None:
    sender, listener = pair(catalog, make_address("inproc"))
    inbox = Inbox()
    with sender, listener:
        listener.on("escalation", inbox)
        listener.start()
        sender.wait_for_listeners("escalation", 1)

        with pytest.raises(ValidationError) as caught:
            sender.send(
                "escalation",
                "ticket_escalation",
                ticket(priority="urgent", escalation_level=9),
            )
        assert set(caught.value.messages) == {"priority", "escalation_level"}
        with pytest.raises(ChannelError):
            sender.send("bad channel", "ticket_escalation", ticket())

        # Positive control: the next valid message is the first one received.
        sender.send("escalation", "ticket_escalation", ticket(2))
        [message] = inbox.wait_for(1)

    assert message.data["ticket_id"] == "T-1002"
    assert message.sequence == 1
    assert listener.stats.received == 1


def test_stopped_subscription_receives_nothing_more(catalog: Catalog) -> None:
    sender, listener = pair(catalog, make_address("inproc"))
    stopped, control = Inbox(), Inbox()
    with sender, listener:
        subscription = listener.on("escalation", stopped)
        listener.on("escalation", control)
        listener.start()
        sender.wait_for_listeners("escalation", 1)

        sender.send("escalation", "ticket_escalation", ticket(1))
        stopped.wait_for(1)
        subscription.cancel()
        sender.send("escalation", "ticket_escalation", ticket(2))
        control.wait_for(2)

    assert len(stopped.messages) == 1
    assert subscription not in listener.subscriptions


def test_unsubscribing_the_last_handler_is_seen_by_the_sender(catalog: Catalog) -> None:
    sender, listener = pair(catalog, make_address("tcp"))
    with sender, listener:
        subscription = listener.on("escalation", Inbox())
        listener.start()
        sender.wait_for_listeners("escalation", 1)
        assert sender.subscriptions("escalation") == 1  # the control
        subscription.cancel()
        wait_until(lambda: sender.subscriptions("escalation") == 0)


def test_a_failing_handler_is_logged_counted_and_the_listener_goes_on(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    sender, listener = pair(catalog, make_address("inproc"))
    inbox = Inbox()

    def broken(message: Message) -> None:
        raise RuntimeError("pager offline")

    with sender, listener:
        listener.on("escalation", broken)
        listener.on("escalation", inbox)
        listener.start()
        sender.wait_for_listeners("escalation", 1)
        with caplog.at_level(logging.ERROR):
            for n in range(3):
                sender.send("escalation", "ticket_escalation", ticket(n))
            inbox.wait_for(3)

    assert listener.stats.handler_errors == 3
    assert listener.stats.delivered == 3
    assert "pager offline" in caplog.text


def test_wait_for_listeners_times_out_with_a_clear_error(catalog: Catalog) -> None:
    sender = Sender("@" + make_address("inproc"), catalog)
    with sender, pytest.raises(Timeout, match="0 of 2 listeners"):
        sender.wait_for_listeners("escalation", 2, timeout=0.2)


def test_wait_for_listeners_counts_each_listener(catalog: Catalog) -> None:
    with Sender("@" + make_address("tcp"), catalog) as sender:
        listeners = [Listener(sender.addresses[0], catalog) for _ in range(3)]
        inboxes = [Inbox() for _ in listeners]
        try:
            for listener, inbox in zip(listeners, inboxes, strict=True):
                listener.on("escalation", inbox)
                listener.start()
            assert sender.wait_for_listeners("escalation", 3) == 3

            sender.send("escalation", "ticket_escalation", ticket())
            for inbox in inboxes:
                inbox.wait_for(1)
        finally:
            for listener in listeners:
                listener.close()


def test_senders_are_safe_from_several_threads(catalog: Catalog) -> None:
    sender, listener = pair(catalog, make_address("inproc"))
    inbox = Inbox()
    threads, per_thread = 4, 50
    with sender, listener:
        listener.on("escalation", inbox)
        listener.start()
        sender.wait_for_listeners("escalation", 1)

        def work(offset: int) -> None:
            for n in range(per_thread):
                sender.send("escalation", "ticket_escalation", ticket(offset + n))

        workers = [
            threading.Thread(target=work, args=(i * 1000,)) for i in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(10)
        inbox.wait_for(threads * per_thread)

    assert [m.sequence for m in inbox.messages] == list(range(1, 201))
    assert listener.stats.gaps == 0


def test_run_blocks_until_max_messages(catalog: Catalog) -> None:
    sender, listener = pair(catalog, make_address("inproc"))
    inbox = Inbox()
    with sender, listener:
        listener.on("escalation", inbox)
        # Subscriptions made before run() are applied at once.
        sender.wait_for_listeners("escalation", 1)
        for n in range(3):
            sender.send("escalation", "ticket_escalation", ticket(n))
        assert listener.run(timeout=5, max_messages=3) == 3
    assert len(inbox.messages) == 3


def test_run_returns_at_its_timeout_when_nothing_comes(catalog: Catalog) -> None:
    with Listener(">" + make_address("tcp").replace("*", "1"), catalog) as listener:
        listener.on("escalation", Inbox())
        assert listener.run(timeout=0.1) == 0


def test_asyncio_sender_and_listener_with_an_async_handler(catalog: Catalog) -> None:
    received: list[Message] = []

    async def handle(message: Message) -> None:
        await asyncio.sleep(0)
        received.append(message)

    async def scenario() -> None:
        sender = AsyncSender("@" + make_address("tcp"), catalog)
        listener = AsyncListener(sender.addresses[0], catalog)
        async with sender, listener:
            listener.on("escalation", handle)
            task = asyncio.create_task(listener.run())
            await sender.wait_for_listeners("escalation", 1, timeout=5)
            for n in range(3):
                await sender.send("escalation", "ticket_escalation", ticket(n))
            for _ in range(500):
                if len(received) == 3:
                    break
                await asyncio.sleep(0.01)
            listener.stop()
            assert await asyncio.wait_for(task, 5) == 3

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert [m.sequence for m in received] == [1, 2, 3]


def test_sync_listener_refuses_async_handlers(catalog: Catalog) -> None:
    async def handle(message: Message) -> None:
        return None

    listener = Listener(">" + make_address("inproc"), catalog)
    with listener, pytest.raises(TypeError, match="AsyncListener"):
        listener.on("escalation", handle)


def test_a_malformed_frame_is_counted_logged_and_dropped(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    address = make_address("inproc")
    raw = zmq.Context.instance().socket(zmq.XPUB)
    raw.bind(address)
    inbox = Inbox()
    definition = catalog["page_ack"]
    body = definition.encode_body(
        {
            "ticket_id": "T-1234",
            "officer": "Ana",
            "acknowledged_at": "2026-01-01T00:00:00Z",
        }
    )
    header = HeaderEncoder("f" * 16).encode("page_ack", definition.fingerprint, 1, 0)
    try:
        with (
            Listener(">" + address, catalog) as listener,
            caplog.at_level(logging.WARNING),
        ):
            listener.on("escalation", inbox)
            listener.start()
            assert raw.poll(5000), "no subscription seen"
            raw.recv()

            raw.send_multipart([b"escalation\x00", b"\xc1", b"garbage"])
            raw.send_multipart([b"escalation\x00"])
            raw.send_multipart([b"escalation\x00", header, body])  # the control
            inbox.wait_for(1)
    finally:
        raw.close(0)

    assert listener.stats.malformed == 2
    assert listener.stats.delivered == 1
    assert "dropped a message" in caplog.text
