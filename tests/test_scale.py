"""Fan-out scale: one forwarder serving 1,000 listener sockets in 4 processes.

The small version of ``stress.fanout`` (``make stress`` sweeps the rate up to
where loss begins): one modest rate, every socket must get every message.
"""

from __future__ import annotations

import pytest

from stress.fanout import fanout
from tests.figures import report

pytestmark = pytest.mark.timeout(120)


def test_one_forwarder_delivers_every_message_to_1000_listener_sockets() -> None:
    figures = fanout(sockets=1000, processes=4, rates=(50.0,), step_s=2.0)
    report("fan-out 1000 sockets", figures)

    (step,) = figures["steps"]
    assert figures["sockets"] == 1000
    assert step["achieved_rate"] > 40
    assert step["sockets_complete"] == 1000
    assert step["deliveries"] == 1000 * step["messages"]
    assert step["gaps_total"] == step["duplicates_total"] == 0
    assert figures["listener_kib_per_socket"] > 0
