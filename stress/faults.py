"""Faults: a forwarder or listener killed and restarted, a frozen peer, and
many start/stop cycles."""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from contextlib import ExitStack
from typing import Any

from stress.common import ACK, CATALOG_PATH, Tally, address, catalog, child
from zcomet import Forwarder, Listener, Sender, SocketOptions


class _Stream:
    """Sends on a channel every ``interval`` seconds in a thread until stopped."""

    def __init__(self, sender: Sender, channel: str, interval: float) -> None:
        self.sender, self.channel, self.interval = sender, channel, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sender.send(self.channel, "page_ack", ACK)

    def __enter__(self) -> _Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def forwarder_killed(interval: float = 0.001, downtime: float = 0.2) -> dict[str, Any]:
    """SIGKILL a forwarder process mid-stream and start it again.

    The sender and the listener (this process) connect to it over ipc and
    reconnect by themselves. Figures: the time from the new forwarder being
    bound (``ready``) until delivery resumes (the new process's own start-up
    is shown apart), and whether every message is either received or
    reported as a gap.
    """
    cat, tally, channel = catalog(), Tally(), "faults"
    with tempfile.TemporaryDirectory(prefix="zc-") as folder:
        front, back = address("ipc", folder), address("ipc", folder)
        with ExitStack() as stack:
            first = stack.enter_context(child("forwarder", "@" + front, "@" + back))
            first.wait_ready()
            sender = Sender(">" + front, cat)
            listener = Listener(">" + back, cat)
            with sender, listener:
                listener.on(channel, tally)
                listener.start()
                sender.wait_for_listeners(channel, 1, timeout=10)

                stream = _Stream(sender, channel, interval)
                with stream:
                    tally.wait(lambda t: t.count >= 200, 10)
                    first.signal(signal.SIGKILL)
                    first.process.wait(10)
                    time.sleep(downtime)  # the outage: messages sent now are lost
                    before = tally.count
                    second = stack.enter_context(
                        child("forwarder", "@" + front, "@" + back)
                    )
                    restarted = time.monotonic()
                    second.wait_ready()
                    ready = time.monotonic()
                    resumed = tally.wait(lambda t: t.count > before + 10, 10)
                    resume_s = time.monotonic() - ready
                    spawn_s = ready - restarted
                _drain(sender, tally, channel)
                listener.stop()
                stats = listener.stats.snapshot()
                sent = sender.sequence(channel)

    return {
        "downtime_s": downtime,
        "resumed": resumed,
        "restart_to_ready_s": round(spawn_s, 3),
        "ready_to_resumed_s": round(resume_s, 3),
        "sent": sent,
        "received": tally.count,
        "gaps": stats.gaps,
        "duplicates": stats.duplicates,
        "balanced": sent == tally.count + stats.gaps,
    }


def _drain(sender: Sender, tally: Tally, channel: str) -> None:
    """Wait until the sender's last message arrived (sending a few more)."""
    for _ in range(100):
        if tally.wait(lambda t: t.last >= sender.sequence(channel), 0.1):
            return
        sender.send(channel, "page_ack", ACK)
    raise RuntimeError("the stream's last message never arrived")


def listener_killed(interval: float = 0.002) -> dict[str, Any]:
    """SIGKILL a listener process and start another on the same endpoint."""
    cat, channel = catalog(), "faults"
    with (
        tempfile.TemporaryDirectory(prefix="zc-") as folder,
        Sender("@" + address("ipc", folder), cat) as sender,
        _Stream(sender, channel, interval),
    ):
        endpoint = ">" + sender.addresses[0]
        args = ("listener", endpoint, channel, str(CATALOG_PATH))
        with child(*args) as first:
            first.wait_ready()
            firsts = [first.readline(10) for _ in range(20)]
            first.signal(signal.SIGKILL)
        with child(*args) as second:
            restarted = time.monotonic()
            second.wait_ready()
            seconds = [second.readline(10) for _ in range(20)]
            resume_s = time.monotonic() - restarted

    last_before = int(firsts[-1] or 0)
    after = [int(line) for line in seconds if line]
    return {
        "received_before_kill": sum(1 for line in firsts if line),
        "received_after_restart": len(after),
        "resumed_after_kill": bool(after) and after[0] > last_before,
        "resume_s": round(resume_s, 3),
    }


def heartbeat(ivl_ms: int = 100, timeout_ms: int = 500) -> dict[str, Any]:
    """Freeze (SIGSTOP) a listener process: heartbeats find it dead.

    Two senders in this process serve the frozen listener over tcp, one with
    heartbeats and one without (the control). A frozen process keeps its TCP
    connections open, so only the heartbeat notices; the sender sees the
    listener's subscription go away when the connection is closed.
    """
    cat, channel = catalog(), "beat"
    beating = SocketOptions(heartbeat_ivl_ms=ivl_ms, heartbeat_timeout_ms=timeout_ms)
    silent = SocketOptions(heartbeat_ivl_ms=0)
    with (
        Sender("@" + address("tcp"), cat, options=beating) as checked,
        Sender("@" + address("tcp"), cat, options=silent) as control,
    ):
        endpoints = ",".join(">" + s.addresses[0] for s in (checked, control))
        with child("listener", endpoints, channel, str(CATALOG_PATH)) as peer:
            peer.wait_ready()
            checked.wait_for_listeners(channel, 1, timeout=10)
            control.wait_for_listeners(channel, 1, timeout=10)

            peer.signal(signal.SIGSTOP)
            frozen = time.monotonic()
            limit = (ivl_ms + timeout_ms) / 1000 + 1.0
            detected = None
            while time.monotonic() - frozen < limit:
                if checked.subscriptions(channel) == 0:
                    detected = time.monotonic() - frozen
                    break
                time.sleep(0.01)
            control_still_connected = control.subscriptions(channel) == 1

    return {
        "heartbeat_ivl_ms": ivl_ms,
        "heartbeat_timeout_ms": timeout_ms,
        "detected": detected is not None,
        "detected_after_s": None if detected is None else round(detected, 3),
        "control_without_heartbeat_still_connected": control_still_connected,
    }


def cycles(count: int = 1000, linger_ms: int = 200) -> dict[str, Any]:
    """Start and stop a forwarder, a sender and a listener ``count`` times.

    Each cycle passes one message through the forwarder (so the three really
    ran), then closes all three and times each stop. The transport rotates
    over tcp, ipc and inproc. A stop slower than linger + 1 s is a hang.
    """
    cat = catalog()
    options = SocketOptions(linger_ms=linger_ms)
    limit = linger_ms / 1000 + 1.0
    slowest = {"forwarder": 0.0, "sender": 0.0, "listener": 0.0}
    hangs = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="zc-") as folder:
        for n in range(count):
            transport = ("tcp", "ipc", "inproc")[n % 3]
            tally = Tally()
            forwarder = Forwarder(
                "@" + address(transport, folder),
                "@" + address(transport, folder),
                options=options,
            ).start()
            sender = Sender(">" + forwarder.frontend_addresses[0], cat, options=options)
            listener = Listener(
                ">" + forwarder.backend_addresses[0], cat, options=options
            )
            listener.on("cycle", tally)
            listener.start()
            sender.wait_for_listeners("cycle", 1, timeout=10)
            sender.send("cycle", "page_ack", ACK)
            if not tally.wait(lambda t: t.count == 1, 10):
                raise RuntimeError(f"cycle {n}: message not delivered")

            for name, stop in (
                ("listener", listener.close),
                ("sender", sender.close),
                ("forwarder", forwarder.stop),
            ):
                began = time.monotonic()
                stop()
                took = time.monotonic() - began
                slowest[name] = max(slowest[name], took)
                hangs += took > limit

    return {
        "cycles": count,
        "linger_ms": linger_ms,
        "hangs": hangs,
        "slowest_stop_s": {k: round(v, 3) for k, v in slowest.items()},
        "limit_s": limit,
        "seconds": round(time.monotonic() - started, 1),
    }
