"""``python -m benchmarks``: run the suite, print the table, write the files.

``zcomet bench`` calls :func:`main` with its own arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import latency, micro, throughput
from benchmarks.config import FULL, QUICK, Config
from benchmarks.harness import TOPOLOGIES, TRANSPORTS
from benchmarks.payloads import PAYLOADS
from benchmarks.report import Progress, machine, table, write

__all__ = ["main"]

SUITES = ("throughput", "latency", "micro")


def _names(choices: tuple[str, ...]) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(name.strip() for name in text.split(",") if name.strip())
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"{text!r}: choose from {', '.join(choices)} (comma-separated)"
            )
        return names

    return parse


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: positive integers, e.g. 1,4,16")
    return counts


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r}: a positive number")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks`` and ``zcomet bench``."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="zcomet against raw pyzmq + msgpack: throughput, fan-out "
        "latency and hot-path costs. Every zcomet figure is reported beside its "
        "raw baseline from the same run, and as a ratio to it.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="the quick suite (make bench): fewer messages, latency for the "
        "ticket over tcp only; under 3 minutes on 2 cores",
    )
    p.add_argument(
        "--suite",
        type=_names(SUITES),
        help=f"suites to run (default: all of {','.join(SUITES)})",
    )
    p.add_argument(
        "--count",
        type=_positive(int),
        help=f"messages per throughput run; latency: most measured messages per "
        f"run (default {FULL.count:,}; quick {QUICK.count:,})",
    )
    p.add_argument(
        "--duration",
        type=_positive(float),
        help=f"seconds: longest a throughput sender sends; how long a latency run "
        f"measures (default {FULL.duration}; quick {QUICK.duration})",
    )
    p.add_argument(
        "--rate",
        type=_positive(float),
        help=f"latency: messages/s from the sender (default {FULL.rate:,.0f})",
    )
    p.add_argument(
        "--delivery-cap",
        type=_positive(float),
        help="latency: lower the rate to CAP / listeners when that is less, so "
        "many listeners do not just overload the host "
        f"(default {FULL.delivery_cap:,.0f})",
    )
    p.add_argument(
        "--warmup",
        type=float,
        help=f"latency: seconds of messages sent first and left out "
        f"(default {FULL.warmup}; quick {QUICK.warmup})",
    )
    p.add_argument(
        "--listeners",
        type=_counts,
        help="latency: listener counts, comma-separated (default 1,4,16)",
    )
    p.add_argument(
        "--payload",
        type=_names(PAYLOADS),
        help=f"payloads, comma-separated (default {','.join(PAYLOADS)})",
    )
    p.add_argument(
        "--transport",
        type=_names(TRANSPORTS),
        help=f"transports, comma-separated (default {','.join(TRANSPORTS)})",
    )
    p.add_argument(
        "--topology",
        type=_names(tuple(TOPOLOGIES)),
        help=f"topologies, comma-separated (default {','.join(TOPOLOGIES)})",
    )
    p.add_argument(
        "--hwm",
        type=_positive(int),
        help=f"high-water mark on every socket, both flavours (default {FULL.hwm:,})",
    )
    p.add_argument(
        "--repeat",
        type=_positive(int),
        help="throughput: runs per flavour and case, alternating; the median "
        "is reported (default 1)",
    )
    p.add_argument(
        "--micro-iterations",
        type=_positive(int),
        help="calls per step in the micro benchmark "
        f"(default {FULL.micro_iterations:,})",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="folder for bench.json, table.txt and the plots (default results)",
    )
    return p


def configure(args: argparse.Namespace) -> Config:
    """The settings: the quick or full defaults, then the options given."""
    config = QUICK if args.quick else FULL
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("suites", args.suite),
            ("count", args.count),
            ("duration", args.duration),
            ("rate", args.rate),
            ("delivery_cap", args.delivery_cap),
            ("warmup", args.warmup),
            ("listeners", args.listeners),
            ("hwm", args.hwm),
            ("repeat", args.repeat),
            ("micro_iterations", args.micro_iterations),
            ("out", args.out),
        )
        if value is not None
    }
    # Payloads and transports given on the command line apply to every suite;
    # otherwise the latency suite keeps its own (smaller, when quick) choice.
    if args.payload:
        changes["payloads"] = changes["latency_payloads"] = args.payload
    if args.transport:
        changes["transports"] = changes["latency_transports"] = args.transport
    if args.topology:
        changes["topologies"] = args.topology
    return dataclasses.replace(config, **changes)


def run(config: Config, command: str) -> dict[str, Any]:
    """Run the suites the config asks for; returns every figure."""
    started = time.monotonic()
    total = 0
    if "throughput" in config.suites:
        total += 2 * config.repeat * len(throughput.cases(config))
    if "latency" in config.suites:
        total += 2 * len(latency.cases(config))
    if "micro" in config.suites:
        total += len(config.payloads)
    progress = Progress(total)

    results: dict[str, Any] = {
        "format": 1,
        "command": command,
        "config": config.as_dict(),
        "machine": machine(),
        "baseline": "raw pyzmq + msgpack: the same XPUB/SUB sockets and options, "
        "the same three frames (topic, msgpack header, msgpack body of the same "
        "bytes) packed per message with msgpack.Packer and sent with SNDMORE; "
        "received with recv_multipart and msgpack.unpackb, no validation; "
        "forwarder: XSUB/XPUB in zmq.proxy_steerable",
        "payloads": {name: _describe(name) for name in config.payloads},
        "throughput": [],
        "latency": [],
        "latency_per_hop": [],
        "micro": {},
    }
    if "throughput" in config.suites:
        results["throughput"] = throughput.run_suite(config, progress)
    if "latency" in config.suites:
        results["latency"] = latency.run_suite(config, progress)
        results["latency_per_hop"] = latency.per_hop(results["latency"])
    if "micro" in config.suites:
        results["micro"] = micro.run_suite(
            config.payloads, config.micro_iterations, progress
        )

    figures = [
        entry[impl]
        for entry in (*results["throughput"], *results["latency"])
        for impl in ("zcomet", "raw")
    ]
    results["lossy"] = any(
        f.get("lost") or any(f.get("runs_lost", ())) for f in figures
    )
    results["failures"] = [f["error"] for f in figures if "error" in f]
    results["wall_seconds"] = time.monotonic() - started
    results["machine"]["load_average_after"] = machine()["load_average"]
    return results


def _describe(name: str) -> dict[str, Any]:
    from benchmarks.payloads import load

    return load(name).describe()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark suite; returns the exit status (1 if a run failed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    config = configure(args)
    command = " ".join(["python -m benchmarks", *argv])

    print(f"zcomet benchmarks: {command}", flush=True)
    try:
        results = run(config, command)
    except KeyboardInterrupt:
        print("\ninterrupted; child processes were stopped", file=sys.stderr)
        return 130
    paths = write(results, config.out)

    print()
    print(table(results), end="")
    print(f"\nwrote {', '.join(str(p) for p in paths.values())}")
    print(f"wall time {results['wall_seconds']:.0f} s")
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
