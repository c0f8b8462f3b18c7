"""Fan-out latency: one sender at a fixed rate, N listener processes.

Latency is the time from the header's send timestamp (``time.time_ns()`` in
the sender, just before the socket send) to the handler's entry in the
listener, both on CLOCK_REALTIME of the same host. For zcomet it includes
decoding and validating the message; for the raw baseline, unpacking it with
msgpack. The first ``--warmup`` seconds of messages are sent but left out of
the histograms (connections, caches and allocators settle then). Every
listener's latencies go into one HdrHistogram per run (3 significant
digits); loss is counted per listener.

The sender follows an absolute schedule; if it cannot keep the rate, the
achieved rate is reported and the run is flagged. Latencies are measured
from the actual send time, so a late sender does not show up as latency
(no coordinated-omission correction).
"""

from __future__ import annotations

import itertools
from typing import Any

from hdrh.histogram import HdrHistogram

from benchmarks import harness
from benchmarks.config import Config
from benchmarks.report import Progress
from benchmarks.roles import IMPLS, MAX_LATENCY_NS, Plan

__all__ = ["PERCENTILES", "cases", "figures", "per_hop", "run_suite"]

#: Percentiles reported, by key.
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99_9": 99.9}


def cases(config: Config) -> list[dict[str, Any]]:
    """The suite's cases, in report order."""
    return [
        {
            "payload": payload,
            "transport": transport,
            "topology": topology,
            "listeners": listeners,
            "rate": config.latency_rate(listeners),
        }
        for payload, transport, topology, listeners in itertools.product(
            config.latency_payloads,
            config.latency_transports,
            config.topologies,
            config.listeners,
        )
    ]


def _percentiles(histogram: HdrHistogram) -> dict[str, float]:
    found = {
        key: histogram.get_value_at_percentile(value) / 1000
        for key, value in PERCENTILES.items()
    }
    found["max"] = histogram.get_max_value() / 1000
    found["mean"] = histogram.get_mean_value() / 1000
    return found


def figures(result: dict[str, Any], rate: float, warmup: int) -> dict[str, Any]:
    """The figures of one run: merged percentiles in µs, loss per listener."""
    sent = result["sender"]["sent"]
    merged = HdrHistogram(1, MAX_LATENCY_NS, 3)
    per_listener = []
    for summary in result["listeners"]:
        histogram = HdrHistogram.decode(summary["histogram"].encode())
        merged.add(histogram)
        per_listener.append(
            {
                "received": summary["received"],
                "lost": sent - summary["received"],
                "p99_us": histogram.get_value_at_percentile(99.0) / 1000,
                "stats": summary["stats"],
            }
        )
    lost = sum(item["lost"] for item in per_listener)
    send_rate = result["sender"]["send_rate"]
    return {
        "rate": rate,
        "send_rate": send_rate,
        "behind": send_rate < 0.95 * rate,
        "sent": sent,
        "warmup": warmup,
        "measured": merged.get_total_count(),
        "lost": lost,
        "loss_pct": 100.0 * lost / (sent * len(per_listener)) if sent else 0.0,
        "latency_us": _percentiles(merged),
        "listeners": per_listener,
        "forwarder_stats": result["forwarders"],
    }


def run_suite(config: Config, progress: Progress) -> list[dict[str, Any]]:
    """Run every case, zcomet then raw; a failed run is recorded, not hidden."""
    entries: list[dict[str, Any]] = []
    for case in cases(config):
        rate = case["rate"]
        warmup = int(rate * config.warmup)
        measured = max(1, min(config.count, int(rate * config.duration)))
        total = warmup + measured
        # Bounded in time too: a slow sender stops at 1.5x the planned time.
        plan = Plan(total, 1.5 * total / rate + 1.0, rate=rate, warmup=warmup)
        entry: dict[str, Any] = {"case": case}
        for impl in IMPLS:
            label = f"latency {case['payload']:<6} {case['transport']} "
            label += f"{case['topology']:<9} x{case['listeners']:<3} {impl}"
            progress.begin(label)
            spec = harness.Run(
                impl,
                case["payload"],
                case["transport"],
                harness.TOPOLOGIES[case["topology"]],
                case["listeners"],
                plan,
                config.hwm,
                latency=True,
            )
            try:
                entry[impl] = figures(harness.run(spec), rate, warmup)
            except harness.BenchError as exc:
                entry[impl] = {"error": str(exc)}
                progress.end("FAILED: " + str(exc).splitlines()[0])
                continue
            got = entry[impl]
            note = f", LOST {got['lost']}" if got["lost"] else ""
            if got["behind"]:
                note += f", sender behind ({got['send_rate']:,.0f}/s)"
            us = got["latency_us"]
            progress.end(f"p50 {us['p50']:>7,.0f} µs  p99 {us['p99']:>8,.0f} µs{note}")
        entry["ratio"] = _ratios(entry)
        entries.append(entry)
    return entries


def _ratios(entry: dict[str, Any]) -> dict[str, float] | None:
    zc, raw = entry.get("zcomet", {}), entry.get("raw", {})
    if "latency_us" not in zc or "latency_us" not in raw:
        return None
    return {
        key: zc["latency_us"][key] / raw["latency_us"][key]
        for key in (*PERCENTILES, "max")
        if raw["latency_us"][key]
    }


def per_hop(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each forwarder hop adds to latency, from runs differing only in hops.

    Cases are grouped by payload, transport and listener count; within a
    group, each topology's p50 and p99 are set beside the direct run's. The
    cost of hop ``k`` is the latency with ``k`` forwarders minus the latency
    with ``k - 1`` (the direct run is 0 hops); ``per_hop`` is the average
    over the hops measured. Groups without a direct run are left out.
    """
    groups: dict[tuple[str, str, int], dict[int, dict[str, Any]]] = {}
    for entry in entries:
        case = entry["case"]
        hops = harness.TOPOLOGIES[case["topology"]].hops
        key = (case["payload"], case["transport"], case["listeners"])
        groups.setdefault(key, {})[hops] = entry
    found = []
    for (payload, transport, listeners), by_hops in groups.items():
        if 0 not in by_hops or len(by_hops) < 2:
            continue
        for impl in IMPLS:
            us = {
                hops: e[impl]["latency_us"]
                for hops, e in sorted(by_hops.items())
                if "latency_us" in e.get(impl, {})
            }
            if 0 not in us or len(us) < 2:
                continue
            row: dict[str, Any] = {
                "payload": payload,
                "transport": transport,
                "listeners": listeners,
                "impl": impl,
                "hops": sorted(us),
            }
            most = max(us)
            for key in ("p50", "p99"):
                row[f"{key}_us"] = [us[h][key] for h in sorted(us)]
                row[f"{key}_hop_us"] = [
                    us[h][key] - us[h - 1][key] for h in sorted(us) if h and h - 1 in us
                ]
                row[f"{key}_per_hop_us"] = (us[most][key] - us[0][key]) / most
            found.append(row)
    return found
