"""Child-process entry points: one sender, one listener or one forwarder each.

The parent (:mod:`benchmarks.harness`) starts every process of a run at once
with ``multiprocessing``'s ``spawn`` context, so their start-up overlaps. Each
first takes its endpoints from its own ``orders`` queue (the parent learns a
bound address from the process that bound it and passes it on), then reports
on the shared results queue as ``(kind, role, index, value)``. All three take
the same arguments: ``(spec, index, orders, results, sent_total, finish)``,
where ``sent_total`` is set by the sender when it is done and ``finish`` by the
parent when the run is over.

- ``("address", role, i, {...})`` once bound (a sender or forwarder);
- ``("sent", "sender", 0, {...})`` when the sender is done;
- ``("received", "listener", i, {...})`` when a listener is done;
- ``("stats", "forwarder", i, {...})`` when a forwarder stops;
- ``("error", role, i, traceback)`` when anything fails.

A child never waits without a deadline: every wait is bounded by the
timeouts in its spec, so a failed run cannot leave one behind (and the parent
terminates whatever is still alive).
"""

from __future__ import annotations

import logging
import queue
import time
import traceback
from dataclasses import dataclass
from typing import Any

from benchmarks.roles import (
    Impl,
    Plan,
    Recorder,
    make_forwarder,
    make_listener,
    make_sender,
    receive,
    send_plan,
)

__all__ = [
    "ForwarderSpec",
    "ListenerSpec",
    "SenderSpec",
    "forwarder_main",
    "listener_main",
    "sender_main",
]


@dataclass(frozen=True)
class SenderSpec:
    """What a sender process does.

    Attributes:
        impl: ``zcomet`` or ``raw``.
        payload: Payload name.
        hwm: Send and receive high-water marks.
        listeners: Subscriptions to wait for before sending.
        plan: What to send.
        ready_timeout: Longest wait for the listeners.
        finish_timeout: Longest wait, once done, for the parent's go to close.
    """

    impl: Impl
    payload: str
    hwm: int
    listeners: int
    plan: Plan
    ready_timeout: float
    finish_timeout: float


@dataclass(frozen=True)
class ListenerSpec:
    """What a listener process does.

    Attributes:
        impl: ``zcomet`` or ``raw``.
        payload: Payload name.
        hwm: Receive high-water mark.
        latency: Whether to record latencies.
        warmup: Sequence numbers up to this are left out of the latencies.
        timeout: Longest time it runs.
        idle: Once the sender is done, stop after this long without a message.
    """

    impl: Impl
    payload: str
    hwm: int
    latency: bool
    warmup: int
    timeout: float
    idle: float = 0.5


@dataclass(frozen=True)
class ForwarderSpec:
    """What a forwarder process does.

    Attributes:
        impl: ``zcomet`` or ``raw``.
        hwm: High-water marks on both sides.
        timeout: Longest time it runs (also the longest wait for its orders).
    """

    impl: Impl
    hwm: int
    timeout: float


def _take(orders: Any, finish: Any, timeout: float) -> dict[str, str]:
    """The parent's orders; gives up when the run is over or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not finish.is_set() and time.monotonic() < deadline:
        try:
            return orders.get(timeout=0.1)  # type: ignore[no-any-return]
        except queue.Empty:
            continue
    raise TimeoutError("no orders from the parent (the run was given up)")


def _quiet() -> None:
    # Drops and gaps are counted and reported; a log line per message would
    # only slow the run down.
    logging.basicConfig(level=logging.ERROR)


def sender_main(
    spec: SenderSpec,
    index: int,
    orders: Any,
    results: Any,
    sent_total: Any,
    finish: Any,
) -> None:
    """Bind or connect, wait for the listeners, send the plan, report."""
    _quiet()
    try:
        endpoint = _take(orders, finish, spec.ready_timeout)["endpoint"]
        side = make_sender(spec.impl, endpoint, spec.payload, spec.hwm)
        try:
            results.put(("address", "sender", 0, {"address": side.address}))
            side.wait_ready(spec.listeners, spec.ready_timeout)
            report = send_plan(side, spec.plan)
            sent_total.value = report["sent"]
            results.put(("sent", "sender", 0, report))
            finish.wait(spec.finish_timeout)
        finally:
            side.close()
    except BaseException:
        results.put(("error", "sender", 0, traceback.format_exc()))


def listener_main(
    spec: ListenerSpec,
    index: int,
    orders: Any,
    results: Any,
    sent_total: Any,
    finish: Any,
) -> None:
    """Connect, receive until done, report what arrived and when."""
    _quiet()
    try:
        deadline = time.monotonic() + spec.timeout
        endpoint = _take(orders, finish, spec.timeout)["endpoint"]
        recorder = Recorder(spec.warmup, spec.latency)
        side = make_listener(spec.impl, endpoint, spec.payload, spec.hwm, recorder)
        try:

            def expected() -> int:
                return int(sent_total.value)

            receive(side, recorder, expected, deadline, spec.idle)
        finally:
            side.close()
        summary = recorder.summary()
        summary["stats"] = side.stats()
        results.put(("received", "listener", index, summary))
    except BaseException:
        results.put(("error", "listener", index, traceback.format_exc()))


def forwarder_main(
    spec: ForwarderSpec,
    index: int,
    orders: Any,
    results: Any,
    sent_total: Any,
    finish: Any,
) -> None:
    """Bind or connect both sides, forward until the parent says finish."""
    _quiet()
    try:
        order = _take(orders, finish, spec.timeout)
        side = make_forwarder(spec.impl, order["frontend"], order["backend"], spec.hwm)
        try:
            addresses = {"frontend": side.frontend, "backend": side.backend}
            results.put(("address", "forwarder", index, addresses))
            finish.wait(spec.timeout)
            stats = side.stats()
        finally:
            side.close()
        results.put(("stats", "forwarder", index, {"stats": stats}))
    except BaseException:
        results.put(("error", "forwarder", index, traceback.format_exc()))
