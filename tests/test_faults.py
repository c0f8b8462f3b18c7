"""Faults: processes killed and restarted, a frozen peer, start/stop cycles.

Child processes run ``stress.children`` and are killed in ``finally`` blocks
(``stress.common.child``) whatever the test's outcome.
"""

from __future__ import annotations

import pytest

from stress import faults
from tests.figures import report

pytestmark = pytest.mark.timeout(60)


def test_forwarder_killed_and_restarted_resumes_within_2_s_with_exact_gaps() -> None:
    figures = faults.forwarder_killed(interval=0.001, downtime=0.2)
    report("forwarder SIGKILL", figures)

    assert figures["resumed"]
    assert figures["ready_to_resumed_s"] < 2.0
    # The sender queues for its connect endpoint during the outage, so only
    # what was inside the killed forwarder is lost (often a few, maybe none);
    # every lost message is reported as a gap.
    assert figures["balanced"]
    assert figures["duplicates"] == 0


def test_a_killed_listener_process_restarted_resumes_receiving() -> None:
    figures = faults.listener_killed()
    report("listener SIGKILL", figures)

    assert figures["received_before_kill"] == 20
    assert figures["received_after_restart"] == 20
    assert figures["resumed_after_kill"]


def test_heartbeats_detect_a_frozen_peer_and_nothing_else_does() -> None:
    figures = faults.heartbeat(ivl_ms=100, timeout_ms=500)
    report("heartbeat", figures)

    assert figures["detected"]
    assert figures["detected_after_s"] < (100 + 500) / 1000 + 1.0
    # Control: without heartbeats the frozen peer still looks connected.
    assert figures["control_without_heartbeat_still_connected"]


def test_1000_start_stop_cycles_never_hang() -> None:
    figures = faults.cycles(1000, linger_ms=200)
    report("start/stop cycles", figures)

    assert figures["hangs"] == 0
    assert max(figures["slowest_stop_s"].values()) < figures["limit_s"]
