"""Hostile input at a real listener, from a raw pyzmq socket.

Each kind is sent 1,000 times, then one valid control message: all are
rejected and counted under their cause, no handler runs, the control arrives.
"""

from __future__ import annotations

import pytest

from stress import hostile
from tests.figures import report

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, object]]:
    table = hostile.hostile(1000)
    report(
        "hostile input",
        {
            "kinds": len(table),
            "each": 1000,
            "rejected": sum(row["rejected"] for row in table),
            "handler_calls": sum(row["handler_calls"] for row in table),
            "controls_delivered": sum(row["control_delivered"] for row in table),
        },
    )
    return {row["kind"]: row for row in table}


def test_at_least_12_kinds_of_malformed_input() -> None:
    assert len(hostile.KINDS) >= 12


@pytest.mark.parametrize("kind", sorted(hostile.KINDS))
def test_each_malformed_kind_is_rejected_counted_and_harmless(
    rows: dict[str, dict[str, object]], kind: str
) -> None:
    row = rows[kind]

    assert row["rejected"] == row["sent"] == 1000
    assert row["other_causes"] == 0
    assert row["handler_calls"] == 0
    assert row["control_delivered"]  # positive control: still delivering


def test_an_oversized_frame_disconnects_the_peer_unread() -> None:
    figures = hostile.oversized(max_body=64 * 1024, size=8 * 1024 * 1024)
    report("oversized frame", figures)

    assert figures["peer_disconnected"]
    assert figures["messages_read"] == 1  # only the control, never the large one
    assert figures["control_delivered"]
