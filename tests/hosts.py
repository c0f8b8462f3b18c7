"""Roles the multi-host tests run inside namespaces: ``python -m tests.hosts``.

- ``listener ENDPOINT CHANNEL``: prints ``ready``, then ``stats RECEIVED GAPS
  DUPLICATES LAST`` whenever its counters change (at most every 20 ms), and
  ``resumed T SILENCE`` when a message arrives after more than 0.3 s without
  one (``T`` on the monotonic clock, shared by every namespace).
- ``forwarder FRONTEND BACKEND IVL_MS TIMEOUT_MS``: a forwarder with those
  heartbeats whose frontend is watched by a socket monitor; prints ``ready``,
  then ``event connected|disconnected T`` as the upstream link comes and goes.
- ``sender ENDPOINT CHANNEL LISTENERS INTERVAL``: waits until LISTENERS
  subscriptions reach it, prints ``ready``, sends a message every INTERVAL
  seconds until a ``stop`` line on stdin, then prints ``sent N``.

Every role runs until killed (the lab kills it whatever happens).
"""

from __future__ import annotations

import sys
import threading
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

from stress.common import ACK, catalog
from zcomet import Forwarder, Listener, Message, Sender, SocketOptions

_SILENCE = 0.3


def listener(endpoint: str, channel: str) -> None:
    """Count messages and report the listener's own sequence accounting."""
    last_at = [0.0]

    def on_message(message: Message) -> None:
        now = time.monotonic()
        if last_at[0] and now - last_at[0] > _SILENCE:
            print(f"resumed {now:.6f} {now - last_at[0]:.3f}", flush=True)
        last_at[0] = now

    with Listener(endpoint, catalog()) as lst:
        lst.on(channel, on_message)
        lst.start()
        print("ready", flush=True)
        shown = None
        while True:
            s = lst.stats
            now = (s.received, s.gaps, s.duplicates, s.delivered)
            if now != shown:
                print(f"stats {s.received} {s.gaps} {s.duplicates}", flush=True)
                shown = now
            time.sleep(0.02)


def forwarder(frontend: str, backend: str, ivl_ms: str, timeout_ms: str) -> None:
    """Forward with heartbeats; report the upstream link's monitor events."""
    options = SocketOptions(
        heartbeat_ivl_ms=int(ivl_ms), heartbeat_timeout_ms=int(timeout_ms)
    )
    with Forwarder(frontend, backend, options=options) as fw:
        # Watch the upstream link, before the proxy thread owns the socket.
        events = fw.monitor_socket("frontend")
        fw.start()
        print("ready", flush=True)
        names = {
            zmq.EVENT_CONNECTED: "connected",
            zmq.EVENT_DISCONNECTED: "disconnected",
        }
        while True:
            event = recv_monitor_message(events)
            name = names.get(event["event"], str(event["event"]))
            print(f"event {name} {time.monotonic():.6f}", flush=True)


def sender(endpoint: str, channel: str, listeners: str, interval: str) -> None:
    """Stream messages until told to stop; report how many were sent."""
    with Sender(endpoint, catalog()) as snd:
        snd.wait_for_listeners(channel, int(listeners), timeout=60)
        print("ready", flush=True)
        stop = threading.Event()

        def stream() -> None:
            pause = float(interval)
            next_at = time.monotonic()
            while not stop.is_set():
                snd.send(channel, "page_ack", ACK)
                next_at += pause
                stop.wait(max(0.0, next_at - time.monotonic()))

        thread = threading.Thread(target=stream, daemon=True)
        thread.start()
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()
        thread.join(10)
        print(f"sent {snd.sequence(channel)}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    {"listener": listener, "forwarder": forwarder, "sender": sender}[role](*args)
