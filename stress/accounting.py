"""Loss accounting: every message is either received or reported as a gap."""

from __future__ import annotations

import time
from typing import Any

from stress.common import ACK, Tally, address, catalog
from zcomet import Listener, Sender, SocketOptions


def _finish(sender: Sender, listener: Listener, tally: Tally, channel: str) -> None:
    """Send until the sender's last message is received, so no loss hides at
    the end of the stream (a gap is only seen when a later message arrives)."""
    for _ in range(200):
        if tally.wait(lambda t: t.last == sender.sequence(channel), 0.1):
            return
        sender.send(channel, "page_ack", ACK)
    raise RuntimeError("the stream's last message never arrived")


def _send_timed(sender: Sender, channel: str, count: int) -> float:
    """Send ``count`` acks on ``channel``; the longest single send, in seconds."""
    longest = 0.0
    for _ in range(count):
        began = time.perf_counter()
        sender.send(channel, "page_ack", ACK)
        longest = max(longest, time.perf_counter() - began)
    return longest


def delivery(count: int = 100_000, transport: str = "inproc") -> dict[str, Any]:
    """Send ``count`` messages right after the readiness wait, without pause.

    Default settings: ``overload="drop"``, ``sndhwm`` = ``rcvhwm`` = 100,000.
    The two queues hold the whole burst, so nothing is dropped even though
    the sender outruns the listener.
    """
    cat, tally, channel = catalog(), Tally(), "delivery"
    with Sender("@" + address(transport), cat) as sender:
        listener = Listener(">" + sender.addresses[0], cat)
        with listener:
            listener.on(channel, tally)
            listener.start()
            sender.wait_for_listeners(channel, 1, timeout=10)

            started = time.monotonic()
            for _ in range(count):
                sender.send(channel, "page_ack", ACK)
            tally.wait(lambda t: t.count >= count, 60)
            seconds = time.monotonic() - started
            listener.stop()
            stats = listener.stats.snapshot()

    return {
        "transport": transport,
        "settings": "overload=drop, sndhwm=rcvhwm=100000",
        "sent": count,
        "received": tally.count,
        "gaps": stats.gaps,
        "duplicates": stats.duplicates,
        "seconds": round(seconds, 2),
    }


def loss(
    count: int = 100_000, transport: str = "inproc", hwm: int = 50
) -> dict[str, Any]:
    """Overflow small queues on purpose: sent = received + reported gaps."""
    cat, tally, channel = catalog(), Tally(), "loss"
    reported: list[int] = []
    options = SocketOptions(sndhwm=hwm, rcvhwm=hwm)

    def on_gap(sender: str, chan: str, expected: int, received: int) -> None:
        reported.append(received - expected)

    with Sender("@" + address(transport), cat, options=options) as sender:
        listener = Listener(
            ">" + sender.addresses[0], cat, options=options, on_gap=on_gap
        )
        with listener:
            listener.on(channel, tally)
            listener.start()
            sender.wait_for_listeners(channel, 1, timeout=10)

            longest = _send_timed(sender, channel, count)
            _finish(sender, listener, tally, channel)
            listener.stop()
            stats = listener.stats.snapshot()
        sent = sender.sequence(channel)

    return {
        "transport": transport,
        "settings": f"overload=drop, sndhwm=rcvhwm={hwm}",
        "sent": sent,
        "received": tally.count,
        "gaps": stats.gaps,
        "gaps_reported_to_callback": sum(reported),
        "duplicates": stats.duplicates,
        "balanced": sent == tally.count + stats.gaps,
        "longest_send_ms": round(longest * 1000, 2),
    }


def slow_listener(
    count: int = 20_000, threshold: float = 0.2, handler_s: float = 0.0005
) -> dict[str, Any]:
    """A listener slower than its sender: drops counted, lag signalled.

    The lag delay is the time from the moment the oldest waiting message
    became older than ``threshold`` to the ``on_lag`` call.
    """
    cat, tally, channel = catalog(), Tally(), "slow"
    options = SocketOptions(sndhwm=1000, rcvhwm=1000)
    signals: list[tuple[int, int]] = []  # (called at ns, message sent_ns)

    def handler(message: Any) -> None:
        time.sleep(handler_s)
        tally(message)

    def on_lag(sender: str, chan: str, sent_ns: int, age: float) -> None:
        signals.append((time.time_ns(), sent_ns))

    with Sender("@" + address("ipc"), cat, options=options) as sender:
        listener = Listener(
            ">" + sender.addresses[0],
            cat,
            options=options,
            lag_threshold=threshold,
            on_lag=on_lag,
        )
        with listener:
            listener.on(channel, handler)
            listener.start()
            sender.wait_for_listeners(channel, 1, timeout=10)

            longest = _send_timed(sender, channel, count)
            _finish(sender, listener, tally, channel)
            listener.stop()
            stats = listener.stats.snapshot()
        sent = sender.sequence(channel)

    delay = None
    if signals:
        called, sent_ns = signals[0]
        delay = round((called - sent_ns) / 1e9 - threshold, 3)
    return {
        "settings": f"overload=drop, sndhwm=rcvhwm=1000, handler {handler_s} s",
        "sent": sent,
        "received": tally.count,
        "gaps": stats.gaps,
        "balanced": sent == tally.count + stats.gaps,
        "longest_send_ms": round(longest * 1000, 2),
        "lag_threshold_s": threshold,
        "lag_signals": len(signals),
        "lagged": stats.lagged,
        "lag_signal_delay_s": delay,
    }
