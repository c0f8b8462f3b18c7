"""The helpdesk app: raises tickets; high-priority ones go to ``escalation``.

Run by ``make demo``; also usable alone::

    python -m examples.helpdesk.app --endpoint @tcp://127.0.0.1:5555 --tickets 5
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from zcomet import Catalog, Sender, ValidationError

HERE = Path(__file__).parent
CHANNEL = "escalation"


def make_ticket(number: int) -> dict[str, Any]:
    """A ticket as the helpdesk app would build it (natural Python values)."""
    opened = datetime.now(UTC) - timedelta(minutes=30 + number)
    return {
        "ticket_id": f"T-{1000 + number}",
        "title": f"Checkout fails for customer #{number}",
        "description": "**Payments** time out after the *3-D Secure* step.",
        "priority": "critical" if number % 2 else "high",
        "tags": ["billing", "network"],
        "customer": f"ACME shop {number}",
        "opened_at": opened,
        "response_due": timedelta(minutes=15),
        "escalation_level": 2,
        "impact_score": 7.5,
        "vip": number % 3 == 0,
        "events": [
            {"at": opened, "actor": "web form", "note": "ticket opened"},
            {"at": opened + timedelta(minutes=5), "actor": "l1", "note": "reproduced"},
            {"at": opened + timedelta(minutes=20), "actor": "l2", "note": "escalated"},
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="@tcp://127.0.0.1:5555")
    parser.add_argument("--tickets", type=int, default=3)
    parser.add_argument(
        "--listeners",
        type=int,
        default=1,
        help="wait for this many listeners before sending",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )

    catalog = Catalog.load(HERE / "definitions.toml")
    with Sender(args.endpoint, catalog) as sender:
        # No slow-joiner loss: wait until the pager has subscribed.
        sender.wait_for_listeners(CHANNEL, args.listeners, timeout=10)

        # A bad ticket raises at the call site, with per-field messages.
        try:
            sender.send(CHANNEL, "ticket_escalation", {"ticket_id": "oops"})
        except ValidationError as exc:
            print(f"helpdesk: refused a bad ticket: {exc}")

        for number in range(1, args.tickets + 1):
            ticket = make_ticket(number)
            sequence = sender.send(CHANNEL, "ticket_escalation", ticket)
            print(
                f"helpdesk: sent {ticket['ticket_id']} ({ticket['priority']})",
                f"#{sequence}",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
