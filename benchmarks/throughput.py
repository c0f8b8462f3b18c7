"""Throughput: one sender process flat out to one listener process.

For each payload, transport and topology, zcomet and the raw pyzmq baseline
run one after the other in the same invocation. The rate is measured where
it matters, at the listener: messages received between the first and the
last arrival, divided by the time between them. Loss is ``sent - received``:
PUB sockets drop when a queue is full, so every socket gets the same large
high-water mark (``--hwm``) and whatever was still lost is reported.
"""

from __future__ import annotations

import itertools
from typing import Any

from benchmarks import harness
from benchmarks.config import Config
from benchmarks.payloads import load
from benchmarks.report import Progress
from benchmarks.roles import IMPLS, Plan

__all__ = ["cases", "figures", "run_suite"]


def cases(config: Config) -> list[dict[str, str]]:
    """The suite's cases, in report order."""
    return [
        {"payload": payload, "transport": transport, "topology": topology}
        for payload, transport, topology in itertools.product(
            config.payloads, config.transports, config.topologies
        )
    ]


def figures(result: dict[str, Any], wire_bytes: int) -> dict[str, Any]:
    """The figures of one run, from what its processes reported."""
    sender, [listener] = result["sender"], result["listeners"]
    sent, received = sender["sent"], listener["received"]
    seconds = (listener["last_ns"] - listener["first_ns"]) / 1e9
    rate = (received - 1) / seconds if received > 1 and seconds > 0 else 0.0
    return {
        "sent": sent,
        "received": received,
        "lost": sent - received,
        "loss_pct": 100.0 * (sent - received) / sent if sent else 0.0,
        "seconds": seconds,
        "msgs_per_s": rate,
        "mb_per_s": rate * wire_bytes / 1e6,
        "send_rate": sender["send_rate"],
        "listener_stats": listener["stats"],
        "forwarder_stats": result["forwarders"],
    }


def run_suite(config: Config, progress: Progress) -> list[dict[str, Any]]:
    """Run every case, zcomet then raw, ``config.repeat`` times over.

    With repeats, the two flavours alternate and each reports its median run
    (by msg/s), with every run's rate in ``samples``. A failed run is
    recorded, not hidden.
    """
    entries: list[dict[str, Any]] = []
    plan = Plan(config.count, config.duration)
    for case in cases(config):
        wire_bytes = load(case["payload"]).wire_bytes
        entry: dict[str, Any] = {"case": case, "wire_bytes": wire_bytes}
        runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in IMPLS}
        for _, impl in itertools.product(range(config.repeat), IMPLS):
            label = f"throughput {case['payload']:<6} {case['transport']} "
            label += f"{case['topology']:<9} {impl}"
            progress.begin(label)
            spec = harness.Run(
                impl,
                case["payload"],
                case["transport"],
                harness.TOPOLOGIES[case["topology"]],
                1,
                plan,
                config.hwm,
                latency=False,
            )
            try:
                got = figures(harness.run(spec), wire_bytes)
            except harness.BenchError as exc:
                runs[impl].append({"error": str(exc)})
                progress.end("FAILED: " + str(exc).splitlines()[0])
                continue
            runs[impl].append(got)
            lost = f", LOST {got['lost']}" if got["lost"] else ""
            progress.end(f"{got['msgs_per_s']:>9,.0f} msg/s{lost}")
        for impl, done in runs.items():
            entry[impl] = _median(done)
        entry["ratio"] = _ratio(entry)
        entries.append(entry)
    return entries


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by rate (any failure wins: it must show)."""
    failed = [run for run in runs if "error" in run]
    if failed:
        return failed[0]
    ordered = sorted(runs, key=lambda run: float(run["msgs_per_s"]))
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["samples"] = [run["msgs_per_s"] for run in runs]
    median["runs_lost"] = [run["lost"] for run in runs]
    return median


def _ratio(entry: dict[str, Any]) -> float | None:
    zc, raw = entry.get("zcomet", {}), entry.get("raw", {})
    if "msgs_per_s" not in zc or not raw.get("msgs_per_s"):
        return None
    return float(zc["msgs_per_s"] / raw["msgs_per_s"])
