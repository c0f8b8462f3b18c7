"""The pager: listens on ``escalation`` and pages the duty officer.

``page_duty_officer`` is the handler; the listener daemon imports it by path
(``examples.helpdesk.pager:page_duty_officer``). Run alone::

    python -m examples.helpdesk.pager --endpoint '>tcp://127.0.0.1:5555' --count 3
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from zcomet import Catalog, Listener, Message

HERE = Path(__file__).parent


def page_duty_officer(message: Message) -> None:
    """The action: page the duty officer about an escalated ticket."""
    ticket = message.data
    due = ticket["response_due"]
    vip = " VIP" if ticket["vip"] else ""
    print(
        f"PAGE duty officer:{vip} {ticket['priority'].upper()} {ticket['ticket_id']} "
        f"'{ticket['title']}' for {ticket['customer']}, respond within "
        f"{int(due.total_seconds() // 60)} min, {len(ticket['events'])} events "
        f"(#{message.sequence} from {message.sender[:6]})",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=">tcp://127.0.0.1:5555")
    parser.add_argument("--count", type=int, default=3, help="exit after N pages")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )

    catalog = Catalog.load(HERE / "definitions.toml")
    with Listener(args.endpoint, catalog) as listener:
        listener.on("escalation", page_duty_officer, definition="ticket_escalation")
        print("pager: listening on escalation", flush=True)
        listener.run(timeout=args.timeout, max_messages=args.count)
        print(f"pager: done, {listener.stats.delivered} page(s) sent", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
