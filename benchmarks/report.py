"""Results: progress lines, the terminal table, the JSON file and the plots.

Everything is written to the output folder (``results/`` by default):

- ``bench.json``: every figure of the run, its settings and the machine;
- ``table.txt``: the table printed at the end;
- ``throughput.png`` and ``latency.png`` (matplotlib, Agg backend).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "Progress",
    "machine",
    "plot",
    "table",
    "write",
]


class Progress:
    """Prints one line per run as it goes: ``[3/16] label ... result (1.2 s)``.

    Args:
        total: How many runs to expect (for the counter).
        stream: Where to print.
    """

    def __init__(self, total: int, stream: TextIO = sys.stdout) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._started = 0.0

    def begin(self, label: str) -> None:
        """A run starts."""
        self.done += 1
        self._started = time.monotonic()
        width = len(str(self.total))
        counter = f"[{self.done:>{width}}/{self.total}]"
        print(f"{counter} {label} ...", end=" ", file=self._stream, flush=True)

    def end(self, result: str) -> None:
        """The run in hand ended with ``result``."""
        took = time.monotonic() - self._started
        print(f"{result} ({took:.1f} s)", file=self._stream, flush=True)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The machine and the versions the run used."""
    import zmq

    packages = ("pyzmq", "msgpack", "msgspec", "marshmallow", "hdrhistogram")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "libzmq": zmq.zmq_version(),
        "versions": {name: _version(name) for name in (*packages, "zcomet")},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# The table.


def _loss(figures: dict[str, Any]) -> str:
    if "error" in figures:
        return "FAILED"
    others = [lost for lost in figures.get("runs_lost", ()) if lost]
    if not figures["lost"]:
        return f"0 (LOST in other runs: {others})" if others else "0"
    return f"LOST {figures['lost']:,} ({figures['loss_pct']:.2f}%)"


def _throughput_table(entries: list[dict[str, Any]]) -> list[str]:
    lines = [
        "Throughput, 1 sender -> 1 listener, delivered at the listener "
        "(ratio = zcomet / raw pyzmq, same run)",
        f"{'payload':<8}{'transport':<10}{'topology':<10}"
        f"{'zcomet msg/s':>13}{'raw msg/s':>11}{'ratio':>7}"
        f"{'zcomet MB/s':>12}{'raw MB/s':>9}  loss zcomet / raw",
    ]
    for entry in entries:
        case, zc, raw = entry["case"], entry["zcomet"], entry["raw"]

        def rate(f: dict[str, Any], key: str, fmt: str) -> str:
            return "failed" if "error" in f else format(f[key], fmt)

        ratio = entry["ratio"]
        lines.append(
            f"{case['payload']:<8}{case['transport']:<10}{case['topology']:<10}"
            f"{rate(zc, 'msgs_per_s', ',.0f'):>13}{rate(raw, 'msgs_per_s', ',.0f'):>11}"
            f"{'-' if ratio is None else format(ratio, '.2f'):>7}"
            f"{rate(zc, 'mb_per_s', '.1f'):>12}{rate(raw, 'mb_per_s', '.1f'):>9}"
            f"  {_loss(zc)} / {_loss(raw)}"
        )
    return lines


def _latency_table(entries: list[dict[str, Any]]) -> list[str]:
    keys = ("p50", "p90", "p99", "p99_9", "max")
    head = "".join(f"{k.replace('_', '.'):>10}" for k in keys)
    lines = [
        "Fan-out latency in µs, send timestamp -> handler entry, warm-up excluded "
        "(ratio = zcomet / raw pyzmq, same run)",
        f"{'payload':<8}{'transport':<10}{'topology':<10}{'listeners':>9}"
        f"{'rate/s':>8}  {'':<7}{head}  loss (all listeners)",
    ]
    for entry in entries:
        case = entry["case"]
        prefix = (
            f"{case['payload']:<8}{case['transport']:<10}{case['topology']:<10}"
            f"{case['listeners']:>9}{case['rate']:>8,.0f}  "
        )
        for impl in ("zcomet", "raw"):
            figures = entry[impl]
            note = ""
            if "error" in figures:
                cells = f"{'failed':>10}" + " " * 10 * (len(keys) - 1)
            else:
                us = figures["latency_us"]
                cells = "".join(f"{us[k]:>10,.0f}" for k in keys)
                if figures["behind"]:
                    note = f"; sender BEHIND at {figures['send_rate']:,.0f}/s"
            lines.append(f"{prefix}{impl:<7}{cells}  {_loss(figures)}{note}")
            prefix = " " * len(prefix)
        ratio = entry["ratio"]
        cells = "".join(
            f"{ratio[k]:>10.2f}" if ratio and k in ratio else f"{'-':>10}" for k in keys
        )
        lines.append(f"{prefix}{'ratio':<7}{cells}")
    return lines


def _hop_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "Latency per forwarder hop in µs: each topology minus the one with a hop "
        "fewer (direct = 0 hops, forwarder = 1, chain = 2), same case",
        f"{'payload':<8}{'transport':<10}{'listeners':>9}  {'':<7}"
        f"{'p50 by hops':>28}{'per hop':>10}{'p99 by hops':>30}{'per hop':>10}",
    ]
    for row in rows:
        p50 = " / ".join(f"{v:,.0f}" for v in row["p50_us"])
        p99 = " / ".join(f"{v:,.0f}" for v in row["p99_us"])
        lines.append(
            f"{row['payload']:<8}{row['transport']:<10}{row['listeners']:>9}  "
            f"{row['impl']:<7}{p50:>28}{row['p50_per_hop_us']:>+10,.0f}"
            f"{p99:>30}{row['p99_per_hop_us']:>+10,.0f}"
        )
    return lines


def _micro_table(
    micro: dict[str, dict[str, float]], steps: dict[str, str]
) -> list[str]:
    names = list(micro)
    lines = [
        "Hot path, µs per message (best of 3)",
        f"{'step':<18}" + "".join(f"{n:>9}" for n in names) + "  what",
    ]
    for step, what in steps.items():
        cells = "".join(f"{micro[n][step]:>9.1f}" for n in names)
        lines.append(f"{step:<18}{cells}  {what}")
    return lines


def table(results: dict[str, Any]) -> str:
    """The whole run as a plain-text table (terminal and README alike)."""
    from benchmarks.micro import STEPS

    sections: list[list[str]] = []
    if results.get("throughput"):
        sections.append(_throughput_table(results["throughput"]))
    if results.get("latency"):
        sections.append(_latency_table(results["latency"]))
    if results.get("latency_per_hop"):
        sections.append(_hop_table(results["latency_per_hop"]))
    if results.get("micro"):
        sections.append(_micro_table(results["micro"], STEPS))
    info = results["machine"]
    footer = [
        f"{info['date']}  {info['cpu_count']} CPUs ({info['cpu_model']}), "
        f"Python {info['python']}, libzmq {info['libzmq']}, "
        f"pyzmq {info['versions']['pyzmq']}",
        f"command: {results['command']}",
    ]
    before, after = info.get("load_average"), info.get("load_average_after")
    if before and after:
        footer.append(
            f"load average (1 min) {before[0]:.2f} at the start, {after[0]:.2f} "
            "at the end: other work on the host slows both flavours alike"
        )
    if results.get("lossy"):
        footer.append("NOTE: messages were lost in this run (see the loss columns).")
    if results.get("failures"):
        footer.append(f"NOTE: {len(results['failures'])} run(s) FAILED.")
    sections.append(footer)
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


# Files.


def write(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write the JSON file, the table and the plots; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "bench.json", "table": out / "table.txt"}
    paths.update(plot(results, out))
    results["files"] = {key: str(path) for key, path in paths.items()}
    paths["json"].write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    paths["table"].write_text(table(results))
    return paths


def plot(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """PNG plots of throughput by case and latency by listener count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths: dict[str, Path] = {}
    if results.get("throughput"):
        paths["throughput_png"] = _plot_throughput(plt, results["throughput"], out)
    if results.get("latency"):
        paths["latency_png"] = _plot_latency(plt, results["latency"], out)
    return paths


def _plot_throughput(plt: Any, entries: list[dict[str, Any]], out: Path) -> Path:
    labels, zc, raw, ratios = [], [], [], []
    for entry in entries:
        case = entry["case"]
        labels.append(f"{case['payload']} {case['transport']} {case['topology']}")
        zc.append(entry["zcomet"].get("msgs_per_s", 0.0))
        raw.append(entry["raw"].get("msgs_per_s", 0.0))
        ratios.append(entry["ratio"])

    figure, axes = plt.subplots(figsize=(9, 1.0 + 0.6 * len(labels)))
    rows = range(len(labels))
    axes.barh([r + 0.2 for r in rows], raw, height=0.4, label="raw pyzmq + msgpack")
    axes.barh([r - 0.2 for r in rows], zc, height=0.4, label="zcomet (validated)")
    for row, (value, ratio) in enumerate(zip(zc, ratios, strict=True)):
        text = "failed" if ratio is None else f"{ratio:.2f}x"
        axes.text(value, row - 0.2, f" {text}", va="center", fontsize=8)
    axes.set_yticks(list(rows), labels)
    axes.invert_yaxis()
    axes.set_xlabel("messages/s delivered at the listener")
    axes.set_title("Throughput, 1 sender -> 1 listener (ratio = zcomet / raw)")
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path = out / "throughput.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _plot_latency(plt: Any, entries: list[dict[str, Any]], out: Path) -> Path:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        case = entry["case"]
        key = (case["payload"], case["transport"], case["topology"])
        groups.setdefault(key, []).append(entry)

    figure, all_axes = plt.subplots(
        1, len(groups), figsize=(4.5 * len(groups), 4), squeeze=False, sharey=True
    )
    for axes, (key, group) in zip(all_axes[0], groups.items(), strict=True):
        counts = [entry["case"]["listeners"] for entry in group]
        for impl, style in (("zcomet", "-"), ("raw", "--")):
            for percentile, marker, color in (
                ("p50", "o", "C0"),
                ("p99", "s", "C1"),
                ("p99_9", "^", "C3"),
            ):
                values = [
                    entry[impl]["latency_us"][percentile]
                    if "latency_us" in entry[impl]
                    else float("nan")
                    for entry in group
                ]
                axes.plot(
                    counts,
                    values,
                    style,
                    marker=marker,
                    color=color,
                    label=f"{impl} {percentile.replace('_', '.')}",
                )
        axes.set_xscale("log", base=2)
        axes.set_xticks(counts, [str(c) for c in counts])
        axes.set_yscale("log")
        axes.set_xlabel("listeners")
        axes.set_title(" ".join(key), fontsize=10)
        axes.grid(True, which="both", alpha=0.3)
    all_axes[0][0].set_ylabel("latency, µs")
    all_axes[0][-1].legend(fontsize=7)
    figure.suptitle("Fan-out latency by listener count (send -> handler entry)")
    figure.tight_layout()
    path = out / "latency.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
