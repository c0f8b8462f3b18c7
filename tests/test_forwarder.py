"""The forwarder: fan-out through libzmq's proxy, chains, steering, statistics."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import pytest
import zmq

from tests.helpers import Inbox, make_address, ticket, wait_until
from tests.processes import running
from zcomet import Catalog, ConfigError, Forwarder, ForwarderStats, Listener, Sender

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_a_message_crosses_a_chain_of_two_forwarders(
    catalog: Catalog, ipc_dir: Path, transport: str
) -> None:
    first = Forwarder(
        "@" + make_address(transport, ipc_dir), "@" + make_address(transport, ipc_dir)
    )
    # The second level's frontend connects to the first level's backend.
    second = Forwarder(
        ">" + first.backend_addresses[0], "@" + make_address(transport, ipc_dir)
    )
    inbox = Inbox()
    with first.start(), second.start():
        sender = Sender(">" + first.frontend_addresses[0], catalog)
        listener = Listener(">" + second.backend_addresses[0], catalog)
        with sender, listener:
            listener.on("escalation", inbox)
            listener.start()
            # The listener's subscription travels up both levels to the sender.
            assert sender.wait_for_listeners("escalation", 1, timeout=10) == 1

            for number in (1, 2, 3):
                sender.send("escalation", "ticket_escalation", ticket(number))
            messages = inbox.wait_for(3)
            first_stats, second_stats = first.statistics(), second.statistics()

    assert [m.data["ticket_id"] for m in messages] == ["T-1001", "T-1002", "T-1003"]
    assert [m.sequence for m in messages] == [1, 2, 3]
    # Three frames per message, counted by each proxy.
    assert first_stats.frontend_in_msgs == 9
    assert second_stats.backend_out_msgs == 9
    assert second_stats.frontend_in_bytes == first_stats.backend_out_bytes


def test_the_sender_counts_every_listener_behind_a_forwarder(
    catalog: Catalog, ipc_dir: Path
) -> None:
    forwarder = Forwarder(
        "@" + make_address("ipc", ipc_dir), "@" + make_address("ipc", ipc_dir)
    )
    inboxes = [Inbox(), Inbox()]
    with forwarder.start():
        sender = Sender(">" + forwarder.frontend_addresses[0], catalog)
        listeners = [
            Listener(">" + forwarder.backend_addresses[0], catalog) for _ in inboxes
        ]
        try:
            for listener, inbox in zip(listeners, inboxes, strict=True):
                listener.on("escalation", inbox)
                listener.start()
            # XPUB_VERBOSER on the backend passes the second, identical
            # subscription on: the sender sees two listeners, not one.
            assert sender.wait_for_listeners("escalation", 2, timeout=10) == 2
            sender.send("escalation", "ticket_escalation", ticket(1))
            for inbox in inboxes:
                inbox.wait_for(1)
        finally:
            for listener in listeners:
                listener.close()
            sender.close()


def test_pause_holds_messages_and_resume_delivers_them(
    catalog: Catalog, ipc_dir: Path
) -> None:
    forwarder = Forwarder(
        "@" + make_address("ipc", ipc_dir), "@" + make_address("ipc", ipc_dir)
    )
    inbox = Inbox()
    with forwarder.start():
        sender = Sender(">" + forwarder.frontend_addresses[0], catalog)
        listener = Listener(">" + forwarder.backend_addresses[0], catalog)
        with sender, listener:
            listener.on("escalation", inbox)
            listener.start()
            sender.wait_for_listeners("escalation", 1, timeout=10)

            forwarder.pause()
            assert forwarder.paused
            sender.send("escalation", "ticket_escalation", ticket(1))
            # A bounded look for something that must not happen while paused.
            with pytest.raises(AssertionError):
                inbox.wait_for(1, timeout=0.3)
            assert forwarder.statistics().backend_out_msgs == 0

            forwarder.resume()
            assert not forwarder.paused
            [message] = inbox.wait_for(1)
    assert message.data["ticket_id"] == "T-1001"


def test_stop_ends_the_proxy_thread_and_is_idempotent(ipc_dir: Path) -> None:
    forwarder = Forwarder(
        "@" + make_address("ipc", ipc_dir), "@" + make_address("ipc", ipc_dir)
    )
    forwarder.start()
    assert forwarder.running
    forwarder.stop()
    assert not forwarder.running
    forwarder.stop()


def test_run_logs_statistics_at_the_interval_and_on_request(
    ipc_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    forwarder = Forwarder(
        "@" + make_address("ipc", ipc_dir), "@" + make_address("ipc", ipc_dir)
    )
    requested: list[ForwarderStats] = []
    result: list[ForwarderStats] = []
    caplog.set_level(logging.INFO, logger="zcomet.net.forwarder")

    def run() -> None:
        result.append(forwarder.run(stats_interval=0.05, on_request=requested.append))

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_until(lambda: forwarder.running)
        forwarder.request_statistics()
        wait_until(lambda: bool(requested))
        wait_until(
            lambda: any("statistics: in 0 frames" in r.message for r in caplog.records)
        )
    finally:
        forwarder.request_stop()
        thread.join(10)
    assert not thread.is_alive()
    assert not forwarder.running
    assert result == [ForwarderStats()]
    assert "frames/s" in caplog.text  # interval lines carry rates


def test_zcomet_forward_prints_statistics_on_sigusr1_and_stops_on_sigterm(
    catalog: Catalog, ipc_dir: Path
) -> None:
    frontend, backend = (make_address("ipc", ipc_dir) for _ in range(2))
    inbox = Inbox()
    with running(
        "forward", "--frontend", "@" + frontend, "--backend", "@" + backend
    ) as fw:
        fw.wait_for("forwarding")
        with (
            Sender(">" + frontend, catalog) as sender,
            Listener(">" + backend, catalog) as listener,
        ):
            listener.on("escalation", inbox)
            listener.start()
            sender.wait_for_listeners("escalation", 1, timeout=10)
            sender.send("escalation", "ticket_escalation", ticket(1))
            inbox.wait_for(1)

        fw.popen.send_signal(signal.SIGUSR1)
        line = fw.wait_for("statistics: in 3 frames", stream="stdout")
        fw.popen.send_signal(signal.SIGTERM)
        assert fw.wait(10) == 0
    assert "out 3 frames" in line
    assert "final statistics: in 3 frames" in fw.stderr


def test_a_monitor_socket_reports_a_listener_connecting_and_leaving() -> None:
    from zmq.utils.monitor import recv_monitor_message

    forwarder = Forwarder("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*")
    events = forwarder.monitor_socket("backend")
    try:
        forwarder.start()
        with pytest.raises(ConfigError):
            forwarder.monitor_socket("frontend")  # too late: the proxy owns it
        peer = zmq.Context.instance().socket(zmq.SUB)
        peer.connect(forwarder.backend_addresses[0])
        seen: list[int] = []
        for _ in range(10):
            if not events.poll(5000):
                break
            seen.append(recv_monitor_message(events)["event"])
            if zmq.EVENT_ACCEPTED in seen and zmq.EVENT_DISCONNECTED in seen:
                break
            if zmq.EVENT_ACCEPTED in seen:
                peer.close(0)
        assert zmq.EVENT_ACCEPTED in seen
        assert zmq.EVENT_DISCONNECTED in seen
    finally:
        forwarder.stop()
        events.close(0)
