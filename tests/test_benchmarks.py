"""The benchmark suite runs end to end with tiny counts and reports every field.

No timed assertions: these tests check that the suite runs, cleans up its
processes and writes complete results, never how fast anything is.
"""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from benchmarks import harness
from benchmarks.__main__ import main
from benchmarks.latency import PERCENTILES
from benchmarks.micro import STEPS
from benchmarks.payloads import PAYLOADS, load
from benchmarks.roles import Plan

pytestmark = pytest.mark.timeout(120)

TINY = [
    "--count",
    "300",
    "--duration",
    "0.3",
    "--rate",
    "1000",
    "--warmup",
    "0.05",
    "--listeners",
    "2",
    "--payload",
    "small",
    "--transport",
    "ipc",
    "--topology",
    "forwarder",
    "--micro-iterations",
    "20",
]

TOP_LEVEL = {
    "format",
    "command",
    "config",
    "machine",
    "baseline",
    "payloads",
    "throughput",
    "latency",
    "latency_per_hop",
    "micro",
    "lossy",
    "failures",
    "wall_seconds",
    "files",
}
MACHINE = {
    "date",
    "cpu_count",
    "cpu_model",
    "platform",
    "python",
    "implementation",
    "libzmq",
    "versions",
    "load_average",
    "load_average_after",
}
VERSIONS = {"pyzmq", "msgpack", "msgspec", "marshmallow", "hdrhistogram", "zcomet"}
THROUGHPUT = {
    "sent",
    "received",
    "lost",
    "loss_pct",
    "seconds",
    "msgs_per_s",
    "mb_per_s",
    "send_rate",
    "listener_stats",
    "forwarder_stats",
    "samples",
    "runs_lost",
}
LATENCY = {
    "rate",
    "send_rate",
    "behind",
    "sent",
    "warmup",
    "measured",
    "lost",
    "loss_pct",
    "latency_us",
    "listeners",
    "forwarder_stats",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench")
    status = main([*TINY, "--out", str(out)])
    return status, json.loads((out / "bench.json").read_text()), out


def test_the_suite_runs_and_writes_json_table_and_plots(
    run: tuple[int, dict[str, Any], Path],
) -> None:
    status, results, out = run

    assert status == 0, results["failures"]
    assert set(results) == TOP_LEVEL
    for name in ("bench.json", "table.txt", "throughput.png", "latency.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "throughput.png").read_bytes()[:4] == b"\x89PNG"
    assert "Throughput" in (out / "table.txt").read_text()


def test_the_json_holds_the_machine_and_the_versions(
    run: tuple[int, dict[str, Any], Path],
) -> None:
    _, results, _ = run

    assert set(results["machine"]) == MACHINE
    assert set(results["machine"]["versions"]) == VERSIONS
    assert results["payloads"]["small"]["wire_bytes"] > 0
    assert results["config"]["listeners"] == [2]


def test_every_throughput_case_has_both_flavours_and_a_ratio(
    run: tuple[int, dict[str, Any], Path],
) -> None:
    _, results, _ = run

    [entry] = results["throughput"]
    assert entry["case"] == {
        "payload": "small",
        "transport": "ipc",
        "topology": "forwarder",
    }
    for impl in ("zcomet", "raw"):
        assert set(entry[impl]) == THROUGHPUT
        assert entry[impl]["sent"] == 300
        assert entry[impl]["received"] + entry[impl]["lost"] == 300
    assert entry["ratio"] > 0


def test_every_latency_case_has_percentiles_loss_per_listener_and_ratios(
    run: tuple[int, dict[str, Any], Path],
) -> None:
    _, results, _ = run

    [entry] = results["latency"]
    assert entry["case"]["listeners"] == 2
    for impl in ("zcomet", "raw"):
        figures = entry[impl]
        assert set(figures) == LATENCY
        assert set(figures["latency_us"]) == {*PERCENTILES, "max", "mean"}
        assert len(figures["listeners"]) == 2
        assert figures["warmup"] == 50
        # Warm-up messages are received but left out of the histogram.
        received = sum(item["received"] for item in figures["listeners"])
        assert figures["measured"] <= received - 2 * figures["warmup"]
    assert set(entry["ratio"]) == {*PERCENTILES, "max"}


def test_the_micro_benchmark_reports_every_step(
    run: tuple[int, dict[str, Any], Path],
) -> None:
    _, results, _ = run

    assert set(results["micro"]) == {"small"}
    assert set(results["micro"]["small"]) == set(STEPS)
    assert all(value > 0 for value in results["micro"]["small"].values())


@pytest.mark.parametrize("name", PAYLOADS)
def test_the_raw_baseline_carries_the_same_body_bytes(name: str) -> None:
    payload = load(name)

    assert payload.body_bytes > 0
    assert payload.wire_bytes == payload.topic_bytes + payload.header_bytes + (
        payload.body_bytes
    )


def test_a_direct_run_delivers_every_message() -> None:
    spec = harness.Run(
        "raw",
        "ticket",
        "tcp",
        harness.TOPOLOGIES["direct"],
        1,
        Plan(200, 5.0),
        hwm=10_000,
        latency=False,
    )

    result = harness.run(spec)

    assert result["sender"]["sent"] == 200
    assert [listener["received"] for listener in result["listeners"]] == [200]
    assert multiprocessing.active_children() == []


def test_a_failing_run_raises_and_leaves_no_process_behind() -> None:
    spec = harness.Run(
        "zcomet",
        "no-such-payload",
        "ipc",
        harness.TOPOLOGIES["forwarder"],
        2,
        Plan(10, 1.0),
        hwm=1000,
        latency=True,
        ready_timeout=20.0,
    )

    with pytest.raises(harness.BenchError, match="no-such-payload"):
        harness.run(spec)
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(
    "argv",
    [["--payload", "huge"], ["--listeners", "0"], ["--count", "-1"], ["--suite", "x"]],
)
def test_bad_options_exit_with_status_2(argv: list[str]) -> None:
    assert main(argv) == 2


def test_help_exits_with_status_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--topology" in capsys.readouterr().out
