"""Fan-out scale: one forwarder, a thousand listener sockets in a few processes.

The sender (this process) binds; a forwarder process connects its frontend
to it, so every listener's subscription reaches the sender one by one
(XPUB_VERBOSER) and ``wait_for_listeners(channel, 1000)`` is the readiness
signal. Listener processes each hold many SUB sockets, polled by one
``zmq.Poller``; every socket has its own zcomet :class:`Dispatcher` (decode,
validate, sequence accounting), so each socket is a listener in all but the
thread.

Run as a child: ``python -m stress.fanout forwarder FRONTEND BACKEND HWM`` or
``python -m stress.fanout listeners ENDPOINT CHANNEL COUNT HWM``. Both print
``ready`` (the forwarder with its backend's address, the listeners with the
memory their sockets took, KiB); the listeners then answer each ``report``
line on stdin with one JSON line of their counters. Memory is read from
``/proc/PID/status``.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import zmq

from stress.common import ACK, ROOT, catalog
from zcomet import Forwarder, Message, Sender, SocketOptions
from zcomet.core.channels import Pattern
from zcomet.net.dispatch import Dispatcher, Subscription

# Generous per-run limits: every wait below is bounded by one of these.
READY_TIMEOUT = 120.0
DRAIN_TIMEOUT = 90.0
# The rates ``make stress`` steps through (messages a second, to every socket).
SWEEP = (100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0)
# A step's deliveries have settled after this long without progress.
SETTLE = 1.0


def _raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit; the new one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# -- the children ---------------------------------------------------------


def forwarder(frontend: str, backend: str, hwm: str) -> None:
    """Forward until killed."""
    _raise_fd_limit()
    options = SocketOptions(sndhwm=int(hwm), rcvhwm=int(hwm), heartbeat_ivl_ms=0)
    with Forwarder(frontend, backend, options=options) as fw:
        fw.start()
        print(f"ready {fw.backend_addresses[0]}", flush=True)
        threading.Event().wait()


class _Count:
    """A handler that counts its socket's deliveries."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, message: Message) -> None:
        self.count += 1


def listeners(endpoint: str, channel: str, count: str, hwm: str) -> None:
    """Hold COUNT listener sockets; answer ``report`` lines until killed."""
    n = int(count)
    _raise_fd_limit()
    # Above the onset every socket logs its gaps; the counters say it all.
    logging.getLogger("zcomet").setLevel(logging.ERROR)
    context = zmq.Context()
    context.set(zmq.MAX_SOCKETS, n + 64)
    cat = catalog()
    before = rss_kib(os.getpid())

    sockets: list[zmq.Socket[bytes]] = []
    dispatchers: dict[zmq.Socket[bytes], Dispatcher] = {}
    counts: list[_Count] = []
    poller = zmq.Poller()
    for _ in range(n):
        socket = context.socket(zmq.SUB)
        socket.setsockopt(zmq.RCVHWM, int(hwm))
        socket.setsockopt(zmq.LINGER, 0)
        dispatcher = Dispatcher(cat)
        tally = _Count()
        pattern = Pattern(channel)
        dispatcher.add(Subscription(pattern, tally, None, None))
        socket.connect(endpoint.lstrip(">"))
        socket.setsockopt(zmq.SUBSCRIBE, pattern.prefix)
        poller.register(socket, zmq.POLLIN)
        sockets.append(socket)
        dispatchers[socket] = dispatcher
        counts.append(tally)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    print(f"ready {rss_kib(os.getpid()) - before}", flush=True)

    while True:
        for item, _ in poller.poll(1000):
            if item == sys.stdin.fileno():
                line = sys.stdin.readline()
                if not line:
                    return
                print(json.dumps(_report(sockets, dispatchers, counts)), flush=True)
                continue
            dispatch = dispatchers[item].dispatch  # type: ignore[index]
            for _ in range(64):
                try:
                    dispatch(item.recv_multipart(zmq.NOBLOCK))  # type: ignore[union-attr]
                except zmq.Again:
                    break


def _report(
    sockets: list[zmq.Socket[bytes]],
    dispatchers: dict[zmq.Socket[bytes], Dispatcher],
    counts: list[_Count],
) -> dict[str, Any]:
    received = [c.count for c in counts]
    stats = [dispatchers[s].stats for s in sockets]
    return {
        "received": received,
        "gaps": sum(s.gaps for s in stats),
        "duplicates": sum(s.duplicates for s in stats),
        "dropped": sum(s.dropped for s in stats),
        "rss_kib": rss_kib(os.getpid()),
    }


# -- the scenario -----------------------------------------------------------


class _Child:
    """A ``stress.fanout`` child process with a stdin line channel."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stress.fanout", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def readline(self, timeout: float) -> str:
        stdout = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline().strip() if ready else ""
        if not line:
            raise RuntimeError(f"{self.process.args[2:]}: no answer in {timeout} s")
        return line

    def ask(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("report\n")
        self.process.stdin.flush()
        return dict(json.loads(self.readline(DRAIN_TIMEOUT)))

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@contextmanager
def _child(*args: str) -> Iterator[_Child]:
    child = _Child(*args)
    try:
        yield child
    finally:
        child.kill()


def _send_at(sender: Sender, channel: str, rate: float, count: int) -> float:
    """Send ``count`` messages paced at ``rate`` a second; the rate achieved."""
    started = time.monotonic()
    sent = 0
    while sent < count:
        due = min(count, int((time.monotonic() - started) * rate) + 1)
        while sent < due:
            sender.send(channel, "page_ack", ACK)
            sent += 1
        time.sleep(0.001)
    return count / max(time.monotonic() - started, 1e-9)


def _settle(groups: list[_Child], target: int) -> list[dict[str, Any]]:
    """Ask until every socket has ``target`` messages or progress stops."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    last_total, last_change = -1, time.monotonic()
    while True:
        reports = [group.ask() for group in groups]
        total = sum(sum(r["received"]) for r in reports)
        if all(min(r["received"]) >= target for r in reports):
            return reports
        now = time.monotonic()
        if now > deadline:
            return reports
        if total != last_total:
            last_total, last_change = total, now
        elif now - last_change > SETTLE:
            return reports
        time.sleep(0.1)


def fanout(
    sockets: int = 1000,
    processes: int = 4,
    rates: tuple[float, ...] = (50.0,),
    step_s: float = 2.0,
    hwm: int = 1000,
    stop_at_loss: bool = True,
) -> dict[str, Any]:
    """Every listener socket receives every message, rate by rate.

    For each rate (bounded list), sends ``rate * step_s`` messages paced at
    that rate, waits until every socket has them or deliveries stop
    (bounded), and counts what each socket missed. With ``stop_at_loss``
    the sweep ends at the first rate that lost messages: the loss onset.

    Loss begins only when a burst overflows the queues (ZeroMQ's and the
    kernel's), which can be well above the rate the listeners follow: a step
    "kept up" when its last delivery came within 1 s of its last send, and
    ``deliveries_per_s`` is what the listener processes really decoded and
    validated per second, the drain included.

    Returns:
        Per-step figures, the loss-onset rate (None if none lost) and memory
        per listener socket (listener processes and the forwarder).
    """
    per = sockets // processes
    channel = "fanout"
    cat = catalog()
    started = time.monotonic()
    options = SocketOptions(sndhwm=hwm, rcvhwm=hwm, heartbeat_ivl_ms=0)
    with ExitStack() as stack:
        sender = stack.enter_context(Sender("@tcp://127.0.0.1:*", cat, options=options))
        port = sender.addresses[0].rsplit(":", 1)[1]
        fw = stack.enter_context(
            _child("forwarder", f">tcp://127.0.0.1:{port}", "@tcp://127.0.0.1:*",
                   str(hwm))
        )  # fmt: skip
        backend = fw.readline(READY_TIMEOUT).split()[1]
        fw_before = rss_kib(fw.process.pid)
        groups = [
            stack.enter_context(
                _child("listeners", ">" + backend, channel,
                       str(per), str(hwm))
            )
            for _ in range(processes)
        ]  # fmt: skip
        listener_kib = [int(g.readline(READY_TIMEOUT).split()[1]) for g in groups]
        sender.wait_for_listeners(channel, per * processes, timeout=READY_TIMEOUT)
        ready_s = time.monotonic() - started
        fw_connected = rss_kib(fw.process.pid)

        steps: list[dict[str, Any]] = []
        onset = None
        expected = 0
        previous = [0] * (per * processes)
        for rate in rates:
            count = max(1, int(rate * step_s))
            step_started = time.monotonic()
            achieved = _send_at(sender, channel, rate, count)
            sent_s = time.monotonic() - step_started
            expected += count
            reports = _settle(groups, expected)
            # Until the last delivery (within the 0.1 s of _settle's polling,
            # plus its SETTLE wait when deliveries stopped short).
            delivered_s = time.monotonic() - step_started
            received = [n for r in reports for n in r["received"]]
            got = [now - before for now, before in zip(received, previous, strict=True)]
            previous = received
            missed = sum(count - n for n in got)
            steps.append({
                "rate": rate,
                "achieved_rate": round(achieved, 1),
                "messages": count,
                "deliveries": sum(got),
                "sent_s": round(sent_s, 2),
                "delivered_s": round(delivered_s, 2),
                "deliveries_per_s": round(sum(got) / delivered_s),
                # Kept up: everything in within the sending time plus 1 s; a
                # longer drain means queues absorbed a burst the listeners
                # could not follow at that rate.
                "kept_up": not missed and delivered_s <= sent_s + 1.0,
                "missed": missed,
                "sockets_complete": sum(n == count for n in got),
                "gaps_total": sum(r["gaps"] for r in reports),
                "duplicates_total": sum(r["duplicates"] for r in reports),
                "dropped_total": sum(r["dropped"] for r in reports),
            })  # fmt: skip
            if missed and onset is None:
                onset = rate
                if stop_at_loss:
                    break
        fw_after = rss_kib(fw.process.pid)

    n = per * processes
    return {
        "sockets": n,
        "processes": processes,
        "hwm": hwm,
        "step_s": step_s,
        "ready_s": round(ready_s, 2),
        "steps": steps,
        "loss_onset_rate": onset,
        "last_lossless_rate": max(
            (s["rate"] for s in steps if not s["missed"]), default=None
        ),
        "highest_rate_kept_up": max(
            (s["rate"] for s in steps if s["kept_up"]), default=None
        ),
        "sustained_deliveries_per_s": max(
            (s["deliveries_per_s"] for s in steps if not s["missed"]), default=None
        ),
        "listener_kib_per_socket": round(sum(listener_kib) / n, 1),
        "forwarder_kib_per_listener": round((fw_connected - fw_before) / n, 1),
        "forwarder_kib_per_listener_after_traffic": round(
            (fw_after - fw_before) / n, 1
        ),
        "seconds": round(time.monotonic() - started, 1),
    }


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    {"forwarder": forwarder, "listeners": listeners}[role](*args)
