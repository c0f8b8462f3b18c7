"""``zcomet spy``: print every message on some channels, or count them.

Spy shows what is on the wire, including messages whose definition it does
not know: without a catalog (or for a definition not in it) the body is
decoded schema-less; with a catalog, known definitions are checked and each
message says whether it is valid.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any, TextIO

from zcomet.app.jsonio import dumps
from zcomet.core.catalog import Catalog
from zcomet.core.channels import Pattern
from zcomet.core.codec import FrameDecoder, decode_any_body
from zcomet.errors import DecodeError, InvalidBody
from zcomet.net.tap import Tap

__all__ = ["ChannelCount", "Spy", "run_spy"]

log = logging.getLogger(__name__)

# How often the receive loop looks at the stop flag, in seconds.
_SLICE = 0.2


@dataclass
class ChannelCount:
    """Messages and bytes seen on one channel."""

    messages: int = 0
    size: int = 0
    last_messages: int = 0


class Spy:
    """Decodes, checks and prints messages; keeps per-channel counts.

    Args:
        patterns: The patterns subscribed to (matching is exact on top of
            ZeroMQ's prefix filter).
        catalog: Definitions to check messages against, if any.
        json_lines: One JSON object per message instead of the readable form.
        out: Where messages and statistics go.
    """

    def __init__(
        self,
        patterns: Sequence[Pattern],
        catalog: Catalog | None,
        json_lines: bool,
        out: TextIO,
    ) -> None:
        self.patterns = tuple(patterns)
        self.catalog = catalog
        self.json_lines = json_lines
        self.out = out
        self.counts: dict[str, ChannelCount] = {}
        self.malformed = 0
        self._frames = FrameDecoder()

    def record(self, frames: list[bytes]) -> dict[str, Any] | None:
        """Decode one message into a printable record; None if not wanted."""
        try:
            envelope = self._frames.decode(frames)
        except DecodeError as exc:
            self.malformed += 1
            log.debug("malformed message of %d frame(s): %s", len(frames), exc)
            return {"check": f"malformed: {exc}", "size": sum(map(len, frames))}
        if self.patterns and not any(
            p.matches(envelope.channel) for p in self.patterns
        ):
            return None
        header = envelope.header
        count = self.counts.setdefault(envelope.channel, ChannelCount())
        count.messages += 1
        count.size += sum(map(len, frames))

        check, data = self._check(header.definition, header.fingerprint, envelope.body)
        return {
            "channel": envelope.channel,
            "definition": header.definition,
            "fingerprint": header.fingerprint,
            "sender": header.sender,
            "sequence": header.sequence,
            "sent_at": datetime.fromtimestamp(header.sent_ns / 1e9, tz=UTC),
            "check": check,
            "data": data,
        }

    def _check(self, name: str, fingerprint: str, body: bytes) -> tuple[str, Any]:
        definition = self.catalog.get(name) if self.catalog is not None else None
        check = "unchecked" if self.catalog is None else "unknown definition"
        if definition is not None:
            if definition.fingerprint != fingerprint:
                check = f"fingerprint mismatch (local {definition.fingerprint})"
            else:
                try:
                    return "valid", definition.decode_body(body)
                except InvalidBody as exc:
                    check = f"invalid: {exc.detail}"
                except DecodeError as exc:
                    check = f"malformed: {exc}"
        try:
            return check, decode_any_body(body)
        except DecodeError as exc:
            return f"malformed: {exc}", None

    def show(self, record: dict[str, Any]) -> None:
        """Print one record, as a JSON line or in the readable form."""
        if self.json_lines:
            print(dumps(record), file=self.out, flush=True)
            return
        if "channel" not in record:
            print(f"-- {record['check']}", file=self.out, flush=True)
            return
        sent = record["sent_at"].astimezone().strftime("%H:%M:%S.%f")[:-3]
        print(
            f"[{sent}] {record['channel']} {record['definition']} "
            f"#{record['sequence']} from {record['sender'][:8]} "
            f"fp {record['fingerprint']} ({record['check']})",
            file=self.out,
        )
        body = dumps(record["data"], indent=2)
        print("\n".join("  " + line for line in body.splitlines()), file=self.out)
        self.out.flush()

    def show_counts(self, seconds: float, final: bool = False) -> None:
        """Print the per-channel table; rates over the last ``seconds``."""
        title = "total" if final else "last"
        print(
            f"{'channel':<32} {'messages':>10} {'rate/s':>10} {'bytes':>12}"
            f"   ({title} {seconds:.1f} s)",
            file=self.out,
        )
        for channel, count in sorted(self.counts.items()):
            recent = count.messages if final else count.messages - count.last_messages
            rate = recent / seconds if seconds > 0 else 0.0
            print(
                f"{channel:<32} {count.messages:>10,} {rate:>10,.1f} {count.size:>12,}",
                file=self.out,
            )
            count.last_messages = count.messages
        if self.malformed:
            print(f"{'(malformed)':<32} {self.malformed:>10,}", file=self.out)
        self.out.flush()


def run_spy(args: argparse.Namespace, catalog: Catalog | None) -> int:
    """Run ``zcomet spy`` with parsed arguments; returns the exit code."""
    patterns = [Pattern(text) for text in args.patterns]
    spy = Spy(patterns, catalog, args.json, sys.stdout)
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, stop)
    started = last_table = time.monotonic()
    deadline = None if args.timeout is None else started + args.timeout
    seen = 0
    try:
        with Tap(args.endpoint, patterns) as tap:
            what = ", ".join(args.patterns) or "every channel"
            print(
                f"zcomet spy: listening on {what} at {', '.join(tap.addresses)}",
                file=sys.stderr,
                flush=True,
            )
            while not stopping and seen != args.count:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if args.stats and now - last_table >= args.interval:
                    spy.show_counts(now - last_table)
                    last_table = now
                frames = tap.receive(_SLICE)
                if frames is None:
                    continue
                record = spy.record(frames)
                if record is None:
                    continue
                seen += 1
                if not args.stats:
                    spy.show(record)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)

    if args.stats:
        spy.show_counts(time.monotonic() - started, final=True)
    if args.count is not None and seen < args.count:
        print(
            f"zcomet spy: saw {seen} of {args.count} message(s) before the timeout",
            file=sys.stderr,
        )
        return 1
    return 0
