"""The suite's settings: what ``python -m benchmarks`` was asked to run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FULL", "QUICK", "Config"]


@dataclass(frozen=True)
class Config:
    """Every setting of one invocation.

    Attributes:
        suites: Which suites run: ``throughput``, ``latency``, ``micro``.
        count: Throughput: messages per run. Latency: at most this many
            measured messages per run.
        duration: Throughput: longest a sender sends. Latency: how long the
            measured part of a run lasts.
        rate: Latency: messages per second from the sender.
        delivery_cap: Latency: with many listeners the rate is lowered to
            ``delivery_cap / listeners`` so the host is not just overloaded.
        warmup: Latency: seconds of messages sent first and left out.
        listeners: Latency: listener counts.
        payloads: Payload names.
        transports: Transports.
        topologies: Topology names.
        latency_payloads: Payloads the latency suite uses.
        latency_transports: Transports the latency suite uses.
        hwm: High-water mark on every socket (zcomet and raw alike).
        repeat: Throughput: runs per flavour and case (alternating); the
            median is reported.
        micro_iterations: Calls per step in the micro benchmark.
        out: Folder for the JSON file and the plots.
        quick: Whether this is the quick suite.
    """

    suites: tuple[str, ...] = ("throughput", "latency", "micro")
    count: int = 200_000
    duration: float = 10.0
    rate: float = 10_000.0
    delivery_cap: float = 40_000.0
    warmup: float = 1.0
    listeners: tuple[int, ...] = (1, 4, 16)
    payloads: tuple[str, ...] = ("small", "ticket")
    transports: tuple[str, ...] = ("tcp", "ipc")
    topologies: tuple[str, ...] = ("direct", "forwarder", "chain")
    latency_payloads: tuple[str, ...] = ("small", "ticket")
    latency_transports: tuple[str, ...] = ("tcp", "ipc")
    hwm: int = 1_000_000
    repeat: int = 1
    micro_iterations: int = 20_000
    out: Path = field(default_factory=lambda: Path("results"))
    quick: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-able settings."""
        data = asdict(self)
        data["out"] = str(self.out)
        return data

    def latency_rate(self, listeners: int) -> float:
        """The sender's rate for a latency run with ``listeners`` listeners."""
        return min(self.rate, self.delivery_cap / max(listeners, 1))


#: Defaults of a full run.
FULL = Config()

#: Defaults of the quick suite (``make bench``, ``--quick``): every case of the
#: throughput suite with fewer messages, latency for the ticket over tcp only.
QUICK = Config(
    count=20_000,
    duration=1.0,
    warmup=0.25,
    latency_payloads=("ticket",),
    latency_transports=("tcp",),
    micro_iterations=3_000,
    quick=True,
)
