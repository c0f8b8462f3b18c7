"""Across hosts: a forwarder tree over veth links between network namespaces.

Four simulated hosts (:mod:`tests.netns`): ``app`` runs the sender, ``hub``
the central forwarder, ``east`` and ``west`` each a forwarder of their own
with two listeners behind it::

    app ──l1── hub ──l2── east: forwarder ─ 2 listeners
                  └──l3── west: forwarder ─ 2 listeners

Every hop connects upstream (the hub's frontend connects to the sender), so
each listener's subscription is passed up the tree one by one by the
forwarders' XPUB_VERBOSER backends and the sender's ``wait_for_listeners``
counts listeners, not forwarders: readiness without a sleep. Processes run
with ``ip netns exec``; the lab kills them and deletes its namespaces,
whatever happens. Without root or ``ip`` the tests skip and say why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from stress.common import ACK, CATALOG_PATH
from tests.figures import report
from tests.netns import Host, Lab, Link, Proc, unavailable

pytestmark = [pytest.mark.netns, pytest.mark.timeout(120)]

_WHY = unavailable()
if _WHY is not None:
    pytestmark.append(pytest.mark.skip(reason=f"simulated hosts: {_WHY}"))

FRONT, BACK, LOCAL = 5555, 5556, 5557


@dataclass
class Tree:
    """The four hosts and their links."""

    lab: Lab
    app: Host
    hub: Host
    east: Host
    west: Host
    l1: Link
    l2: Link
    l3: Link

    def sender_address(self) -> str:
        return f"tcp://{self.l1.ip_of(self.app)}:{FRONT}"

    def hub_backend(self) -> str:
        return ",".join(
            f"@tcp://{link.ip_of(self.hub)}:{BACK}" for link in (self.l2, self.l3)
        )

    def upstream_of(self, host: Host) -> str:
        link = self.l2 if host == self.east else self.l3
        return f">tcp://{link.ip_of(self.hub)}:{BACK}"


@pytest.fixture
def tree() -> Iterator[Tree]:
    with Lab() as lab:
        app, hub, east, west = (lab.host(n) for n in ("app", "hub", "east", "west"))
        yield Tree(
            lab,
            app,
            hub,
            east,
            west,
            lab.link(app, hub),
            lab.link(hub, east),
            lab.link(hub, west),
        )


def _stats(proc: Proc) -> tuple[int, int, int]:
    """A listener's latest (received, gaps, duplicates)."""
    for line in reversed(proc.lines):
        if line.startswith("stats "):
            received, gaps, duplicates = map(int, line.split()[1:4])
            return received, gaps, duplicates
    return 0, 0, 0


def _wait_stats(
    procs: list[Proc], check: object, timeout: float
) -> list[tuple[int, int, int]]:
    """Wait until ``check(stats)`` holds for every listener; the stats."""
    deadline = time.monotonic() + timeout
    while True:
        stats = [_stats(p) for p in procs]
        if all(check(s) for s in stats):  # type: ignore[operator]
            return stats
        assert time.monotonic() < deadline, f"listeners stuck at {stats}"
        for proc in procs:
            assert proc.popen.poll() is None, "\n".join(proc.errors[-30:])
        time.sleep(0.05)


def _listeners(tree: Tree, channel: str, per_host: int) -> dict[str, list[Proc]]:
    local = f">tcp://127.0.0.1:{LOCAL}"
    return {
        host.name: [
            tree.lab.run(host, ["-m", "tests.hosts", "listener", local, channel])
            for _ in range(per_host)
        ]
        for host in (tree.east, tree.west)
    }


def test_every_listener_on_every_host_gets_every_message_once(tree: Tree) -> None:
    count, channel, lab = 2000, "tree", tree.lab
    zcomet = ["-m", "zcomet"]
    lab.run(
        tree.hub,
        [*zcomet, "forward", "--frontend", ">" + tree.sender_address(),
         "--backend", tree.hub_backend(), "--stats-interval", "0"],
    )  # fmt: skip
    for host in (tree.east, tree.west):
        lab.run(
            host,
            [*zcomet, "forward", "--frontend", tree.upstream_of(host),
             "--backend", f"@tcp://127.0.0.1:{LOCAL}", "--stats-interval", "0"],
        )  # fmt: skip
    listeners = _listeners(tree, channel, per_host=2)
    every = [p for procs in listeners.values() for p in procs]

    # The sender waits for all four listeners' subscriptions, then sends.
    sender = lab.run(
        tree.app,
        [*zcomet, "send", "-c", str(CATALOG_PATH), "--lines",
         "--endpoint", "@" + tree.sender_address(),
         "--wait-listeners", str(len(every)), "--timeout", "60",
         channel, "page_ack"],
        stdin=True,
    )  # fmt: skip
    assert sender.popen.stdin is not None
    sender.popen.stdin.write((json.dumps(ACK) + "\n") * count)
    sender.popen.stdin.close()
    assert sender.popen.wait(90) == 0, "\n".join(sender.errors)
    assert f"sent {count} page_ack" in "\n".join(sender.errors)

    stats = _wait_stats(every, lambda s: s[0] >= count, timeout=30)
    report(
        "multi-host tree",
        {"sent": count, "listeners": {
            name: [_stats(p) for p in procs] for name, procs in listeners.items()
        }, "as": "(received, gaps, duplicates)"},
    )  # fmt: skip
    assert stats == [(count, 0, 0)] * len(every)


def _time_after(proc: Proc, words: list[str], since: float, timeout: float) -> float:
    """The monotonic time on the first ``WORDS... TIME`` line with TIME >= since."""

    def wanted(line: str) -> bool:
        parts = line.split()
        return parts[: len(words)] == words and float(parts[len(words)]) >= since

    line = proc.wait_line(wanted, "stdout", timeout, what=" ".join(words))
    return float(line.split()[len(words)])


def test_a_partitioned_host_is_detected_resumes_and_reports_its_gap_exactly(
    tree: Tree,
) -> None:
    channel, lab, ivl_ms, timeout_ms = "split", tree.lab, 500, 2000
    hosts = ["-m", "tests.hosts"]
    beats = [str(ivl_ms), str(timeout_ms)]
    lab.run(
        tree.hub,
        [*hosts, "forwarder", ">" + tree.sender_address(), tree.hub_backend(), *beats],
    )
    local = f"@tcp://127.0.0.1:{LOCAL}"
    east_fw, _ = (
        lab.run(host, [*hosts, "forwarder", tree.upstream_of(host), local, *beats])
        for host in (tree.east, tree.west)
    )
    listeners = _listeners(tree, channel, per_host=2)
    east, west = listeners["east"], listeners["west"]
    # One message every 5 ms, once all four subscriptions reached the sender.
    sender = lab.run(
        tree.app,
        [*hosts, "sender", "@" + tree.sender_address(), channel, "4", "0.005"],
        stdin=True,
    )
    sender.wait_for_prefix("ready", timeout=60)
    _wait_stats(east + west, lambda s: s[0] >= 100, timeout=30)

    # Mid-stream, east's end of its link to the hub goes down.
    down_at = time.monotonic()
    lab.set_link(tree.l2, tree.east, up=False)
    lost_at = _time_after(east_fw, ["event", "disconnected"], down_at, timeout=10)
    detected_s = lost_at - down_at

    up_at = time.monotonic()
    lab.set_link(tree.l2, tree.east, up=True)
    resumed_s = max(
        _time_after(p, ["resumed"], up_at, timeout=10) - up_at for p in east
    )

    more = min(_stats(p)[0] for p in east) + 50
    _wait_stats(east, lambda s: s[0] >= more, timeout=10)
    sender.send("stop")
    sent = int(sender.wait_for_prefix("sent ", timeout=10).split()[1])
    # Every message is either received or counted as a gap.
    stats = _wait_stats(east + west, lambda s: s[0] + s[1] >= sent, timeout=20)

    figures = {
        "heartbeat_ms": [ivl_ms, timeout_ms],
        "detected_s": round(detected_s, 3),
        "resumed_s": round(resumed_s, 3),
        "sent": sent,
        "east (received, gaps, duplicates)": stats[: len(east)],
        "west (received, gaps, duplicates)": stats[len(east) :],
    }
    report("multi-host partition", figures)
    assert detected_s < 4.0
    assert resumed_s < 2.0
    for received, gaps, duplicates in stats[: len(east)]:
        assert gaps > 0, "the partition lost nothing: was the link really down?"
        assert sent - received == gaps
        assert duplicates == 0
    assert stats[len(east) :] == [(sent, 0, 0)] * len(west)
