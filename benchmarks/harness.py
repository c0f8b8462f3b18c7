"""Runs one benchmark case as a topology of child processes, and cleans up.

A topology is a number of forwarder hops between the sender and the
listeners: ``direct`` has none, ``forwarder`` one, ``chain`` two. Forwarders
are wired in series (each one's frontend connects to the previous one's
backend), as a tree of forwarders is across hosts.

Processes are started with ``spawn``. Whatever happens (a child fails, a
timeout, Ctrl-C), :func:`run` ends every child it started: it asks them to
finish, waits a bounded time, then terminates and finally kills.
"""

from __future__ import annotations

import multiprocessing
import queue
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from benchmarks.roles import Impl, Plan
from benchmarks.workers import (
    ForwarderSpec,
    ListenerSpec,
    SenderSpec,
    forwarder_main,
    listener_main,
    sender_main,
)

__all__ = ["TOPOLOGIES", "TRANSPORTS", "BenchError", "Run", "Topology", "run"]

#: Transports a case may use.
TRANSPORTS = ("tcp", "ipc")


@dataclass(frozen=True)
class Topology:
    """How messages get from the sender to the listeners.

    Attributes:
        name: Its name on the command line and in the report.
        hops: Forwarders in series between sender and listeners.
    """

    name: str
    hops: int


#: The topologies the suite knows, by name.
TOPOLOGIES = {
    "direct": Topology("direct", 0),
    "forwarder": Topology("forwarder", 1),
    "chain": Topology("chain", 2),
}


class BenchError(RuntimeError):
    """A benchmark run failed: a child raised, died or timed out."""


@dataclass(frozen=True)
class Run:
    """One run: one flavour through one topology.

    Attributes:
        impl: ``zcomet`` or ``raw``.
        payload: Payload name.
        transport: ``tcp`` or ``ipc``.
        topology: The topology.
        listeners: Listener processes.
        plan: What the sender sends.
        hwm: High-water marks on every socket.
        latency: Whether listeners record latencies.
        ready_timeout: Longest wait for processes to start and subscribe.
        idle: Once the sender is done, a listener stops after this long
            without a message.
    """

    impl: Impl
    payload: str
    transport: str
    topology: Topology
    listeners: int
    plan: Plan
    hwm: int
    latency: bool
    ready_timeout: float = 60.0
    idle: float = 0.5


def run(spec: Run) -> dict[str, Any]:
    """Run one case in child processes; always cleans them up.

    Returns:
        ``sender`` (what was sent), ``listeners`` (one summary each, by
        index) and ``forwarders`` (their counters).

    Raises:
        BenchError: A child failed or a step timed out.
    """
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    sent_total = context.Value("q", -1)
    finish = context.Event()
    processes: list[BaseProcess] = []
    inbox = _Inbox(results, processes)
    drain = spec.idle + 30.0
    running = spec.ready_timeout + spec.plan.duration + drain
    hops = spec.topology.hops

    def start(target: Callable[..., None], child: Any, index: int = 0) -> Any:
        orders = context.Queue()
        args = (child, index, orders, results, sent_total, finish)
        process = context.Process(target=target, args=args, daemon=True)
        process.start()
        processes.append(process)
        return orders

    with tempfile.TemporaryDirectory(prefix="zcbench-") as folder:
        try:
            # Start every process at once, so their imports overlap; each then
            # waits for its endpoints, passed on below as they become known.
            fspec = ForwarderSpec(spec.impl, spec.hwm, running)
            forwarders = [start(forwarder_main, fspec, hop) for hop in range(hops)]
            sspec = SenderSpec(
                spec.impl,
                spec.payload,
                spec.hwm,
                spec.listeners,
                spec.plan,
                spec.ready_timeout,
                drain + spec.plan.duration,
            )
            sender = start(sender_main, sspec)
            lspec = ListenerSpec(
                spec.impl,
                spec.payload,
                spec.hwm,
                spec.latency,
                spec.plan.warmup,
                running,
                spec.idle,
            )
            listeners = [
                start(listener_main, lspec, index) for index in range(spec.listeners)
            ]

            # Forwarders in series: each one's backend feeds the next one.
            upstream = ""
            for hop, orders in enumerate(forwarders):
                frontend = (
                    ">" + upstream
                    if upstream
                    else _bind(spec.transport, folder, f"fw{hop}-front")
                )
                backend = _bind(spec.transport, folder, f"fw{hop}-back")
                orders.put({"frontend": frontend, "backend": backend})
                addresses = inbox.take("address", "forwarder", hop, spec.ready_timeout)
                if hop == 0:
                    sender.put({"endpoint": ">" + addresses["frontend"]})
                upstream = addresses["backend"]
            if not hops:
                sender.put({"endpoint": _bind(spec.transport, folder, "sender")})
            bound = inbox.take("address", "sender", 0, spec.ready_timeout)["address"]
            for orders in listeners:
                orders.put({"endpoint": ">" + (upstream or bound)})

            sent = inbox.take("sent", "sender", 0, running)
            received = [
                inbox.take("received", "listener", index, drain)
                for index in range(spec.listeners)
            ]
            finish.set()
            proxies = [
                inbox.take("stats", "forwarder", hop, 10.0)["stats"]
                for hop in range(hops)
            ]
            return {"sender": sent, "listeners": received, "forwarders": proxies}
        finally:
            finish.set()
            _stop(processes)
            results.close()
            results.cancel_join_thread()


def _bind(transport: str, folder: str, name: str) -> str:
    if transport == "tcp":
        return "@tcp://127.0.0.1:*"
    if transport == "ipc":
        return f"@ipc://{Path(folder) / name}.sock"
    raise ValueError(f"unknown transport {transport!r}; choose from {TRANSPORTS}")


def _stop(processes: list[BaseProcess], grace: float = 5.0) -> None:
    """Join, then terminate, then kill: no child outlives its run."""
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join(2.0)
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(2.0)


class _Inbox:
    """Reads the results queue; hands out reports by kind, role and index."""

    def __init__(self, results: Any, processes: list[BaseProcess]) -> None:
        self._results = results
        self._processes = processes
        self._reports: dict[tuple[str, str, int], Any] = {}

    def take(self, kind: str, role: str, index: int, timeout: float) -> Any:
        """Wait for one report.

        Raises:
            BenchError: A child reported an error or died, or ``timeout``.
        """
        key = (kind, role, index)
        deadline = time.monotonic() + timeout
        while key not in self._reports:
            if time.monotonic() > deadline:
                raise BenchError(f"no {kind!r} from {role} {index} in {timeout:.0f} s")
            try:
                got_kind, got_role, got_index, value = self._results.get(timeout=0.25)
            except queue.Empty:
                self._check_alive()
                continue
            if got_kind == "error":
                raise BenchError(f"{got_role} {got_index} failed:\n{value}")
            self._reports[(got_kind, got_role, got_index)] = value
        return self._reports.pop(key)

    def _check_alive(self) -> None:
        for process in self._processes:
            if process.exitcode not in (None, 0):
                raise BenchError(
                    f"{process.name} died with exit code {process.exitcode}"
                )
