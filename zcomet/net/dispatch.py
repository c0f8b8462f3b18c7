"""What every listener does after its socket: decode, match, account, dispatch.

The blocking and asyncio listeners are thin adapters around
:class:`Dispatcher`, so both follow one policy: a peer's bad frame is counted,
logged at WARNING and dropped; a failing handler is logged with its traceback
and counted; neither stops the listener.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from zcomet.core.catalog import Catalog
from zcomet.core.channels import Pattern
from zcomet.core.codec import DEFAULT_MAX_BODY, Envelope, FrameDecoder
from zcomet.core.definitions import Definition
from zcomet.core.message import Message
from zcomet.errors import DecodeError, FingerprintMismatch, UnknownDefinition

__all__ = [
    "Dispatcher",
    "GapCallback",
    "Handler",
    "LagCallback",
    "ListenerStats",
    "Prepared",
    "Subscription",
]

Handler = Callable[[Message], Any]
GapCallback = Callable[[str, str, int, int], Any]
"""Called as ``on_gap(sender, channel, expected, received)``."""

LagCallback = Callable[[str, str, int, float], Any]
"""Called as ``on_lag(sender, channel, sent_ns, age)``, ``age`` in seconds."""

Prepared = tuple[Message, tuple["Subscription", ...]]
"""A decoded message and the subscriptions that want it."""

# Channels (and channel-definition pairs) whose routes are cached; past it,
# routes are computed per message rather than grow without bound.
_MAX_ROUTES = 4096

# Senders remembered per listener for sequence accounting; beyond it the
# oldest is forgotten (a restarted sender has a new id, so old ids go stale).
_MAX_SENDERS = 65_536

# While a listener stays behind, the lag signal repeats at most this often.
_LAG_REPEAT_NS = 1_000_000_000

# Lag floor when the lag signal is off: below any timestamp msgpack can carry.
_NO_LAG_FLOOR = -(2**64)


@dataclass
class ListenerStats:
    """Counters of what a listener received and did.

    Attributes:
        received: Messages read from the socket.
        delivered: Handler calls that returned normally.
        handler_errors: Handler calls that raised.
        malformed: Messages dropped for bad frames or headers.
        too_large: Messages dropped for a frame over its size limit.
        unknown_definition: Messages naming a definition not in the catalog.
        fingerprint_mismatch: Messages whose definition differs from ours.
        invalid: Bodies that did not fit their definition.
        unmatched: Messages that no subscription wanted (wildcard prefixes).
        gaps: Messages missing, as seen in sequence numbers.
        duplicates: Messages dropped as already seen.
        lagged: Messages older than the lag threshold when read (0 when the
            lag signal is off).
    """

    received: int = 0
    delivered: int = 0
    handler_errors: int = 0
    malformed: int = 0
    too_large: int = 0
    unknown_definition: int = 0
    fingerprint_mismatch: int = 0
    invalid: int = 0
    unmatched: int = 0
    gaps: int = 0
    duplicates: int = 0
    lagged: int = 0

    @property
    def dropped(self) -> int:
        """Messages received but dropped as faulty."""
        return (
            self.malformed
            + self.too_large
            + self.unknown_definition
            + self.fingerprint_mismatch
            + self.invalid
        )

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)

    def snapshot(self) -> ListenerStats:
        """A copy of the counters as they are now; the copy does not change."""
        return replace(self)


class _Throttle:
    """At most one log record per key and interval; counts what it held back.

    A hostile peer or a long overload can cause thousands of drops or gaps a
    second: each is counted in the stats, but the log gets the first one and
    then one a second, saying how many were not logged in between.
    """

    def __init__(self, interval_ns: int = 1_000_000_000) -> None:
        self._interval_ns = interval_ns
        self._last: dict[str, int] = {}
        self._held: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """None to hold this record back, else how many were held before it."""
        now = time.monotonic_ns()
        last = self._last.get(key)
        if last is not None and now - last < self._interval_ns:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)


def _held_note(held: int) -> str:
    return f" ({held} more not logged)" if held else ""


class Subscription:
    """One handler listening on a channel or pattern, optionally one definition.

    Call :meth:`cancel` (or ``listener.off(subscription)``) to stop listening;
    the handler is not called again once ``cancel`` returns.
    """

    def __init__(
        self,
        pattern: Pattern,
        handler: Handler,
        definition: str | None,
        owner: Any,
    ) -> None:
        self.pattern = pattern
        self.handler = handler
        self.definition = definition
        self.active = True
        self._owner = owner

    def cancel(self) -> None:
        """Stop listening."""
        self._owner.off(self)

    def __repr__(self) -> str:
        what = f" for {self.definition!r}" if self.definition else ""
        return f"<Subscription {self.pattern.text!r}{what} active={self.active}>"


class Dispatcher:
    """Decodes frames and calls the matching handlers. No socket of its own.

    Args:
        catalog: Definitions received messages are validated against.
        max_body: Largest body accepted, in bytes.
        on_gap: Called when sequence numbers show lost messages.
        lag_threshold: Seconds; a message older than this when read means
            the listener is behind: counted in ``lagged``, logged at WARNING
            and passed to ``on_lag`` (at most once a second while it lasts).
            None turns the check off.
        on_lag: Called as ``on_lag(sender, channel, sent_ns, age)``.
        log: Logger to use (default: this module's).

    The age is measured against a clock read by :meth:`tick`, which the
    listeners call once per receive batch, so the per-message cost is one
    comparison with the header's timestamp. Clocks of other hosts must be in
    sync (NTP) for the age to mean anything across machines.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        on_gap: GapCallback | None = None,
        lag_threshold: float | None = None,
        on_lag: LagCallback | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.catalog = catalog
        self.stats = ListenerStats()
        self.on_gap = on_gap
        self.on_lag = on_lag
        self._lag_ns = 0 if lag_threshold is None else int(lag_threshold * 1e9)
        self._now_ns = 0
        self._lag_floor = _NO_LAG_FLOOR
        self._lagging = False
        self._lag_signalled_ns = 0
        self.log = log or logging.getLogger(__name__)
        self._frames = FrameDecoder(max_body)
        self._lock = threading.Lock()
        self._subscriptions: tuple[Subscription, ...] = ()
        self._routes: dict[str, tuple[Subscription, ...]] = {}
        self._wanted: dict[tuple[str, str], tuple[Subscription, ...]] = {}
        self._definitions: dict[tuple[str, str], Definition] = {}
        self._throttle = _Throttle()
        self._last_sequence: dict[tuple[str, str], int] = {}

    # Subscriptions: written under a lock, read without one. Each change
    # swaps in new tuples, so the receiving thread always sees a whole table.

    def add(self, subscription: Subscription) -> bool:
        """Add a subscription; True when its prefix is new (subscribe the socket)."""
        with self._lock:
            new = all(
                s.pattern.prefix != subscription.pattern.prefix
                for s in self._subscriptions
            )
            self._subscriptions = (*self._subscriptions, subscription)
            self._routes = {}
            self._wanted = {}
        return new

    def remove(self, subscription: Subscription) -> bool:
        """Remove a subscription; True when its prefix is no longer used."""
        with self._lock:
            subscription.active = False
            if subscription not in self._subscriptions:
                return False
            self._subscriptions = tuple(
                s for s in self._subscriptions if s is not subscription
            )
            self._routes = {}
            self._wanted = {}
            return all(
                s.pattern.prefix != subscription.pattern.prefix
                for s in self._subscriptions
            )

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The active subscriptions."""
        return self._subscriptions

    def _route(self, channel: str) -> tuple[Subscription, ...]:
        routes = self._routes
        found = routes.get(channel)
        if found is None:
            found = tuple(s for s in self._subscriptions if s.pattern.matches(channel))
            if len(routes) < _MAX_ROUTES:
                routes[channel] = found
        return found

    def _filter(
        self, channel: str, name: str, subscriptions: tuple[Subscription, ...]
    ) -> tuple[Subscription, ...]:
        wanted = tuple(
            s for s in subscriptions if s.definition is None or s.definition == name
        )
        if len(self._wanted) < _MAX_ROUTES:
            self._wanted[channel, name] = wanted
        return wanted

    # Receiving.

    @property
    def lag_threshold(self) -> float | None:
        """Seconds of message age that count as lag; None when off."""
        return self._lag_ns / 1e9 if self._lag_ns else None

    def tick(self) -> None:
        """Read the clock for the lag check (once per receive batch)."""
        if self._lag_ns:
            self._now_ns = now = time.time_ns()
            self._lag_floor = now - self._lag_ns

    def prepare(self, frames: Sequence[bytes]) -> Prepared | None:
        """Decode and check one message; None when it is dropped.

        Every fault is counted and logged here; nothing raises. This is the
        listener's hot path: look-ups are cached per channel and definition,
        and the common case (the next sequence number, no lag) takes no call
        beyond the two decoders.
        """
        stats = self.stats
        stats.received += 1
        try:
            envelope = self._frames.decode(frames)
        except DecodeError as exc:
            self._count_drop(exc, None)
            return None
        channel, header, body = envelope

        # 1. Does any subscription want this channel? (ZeroMQ's prefix filter
        #    lets wildcard neighbours through.)
        subscriptions = self._routes.get(channel)
        if subscriptions is None:
            subscriptions = self._route(channel)
        if not subscriptions:
            stats.unmatched += 1
            return None

        # 2. Sequence accounting, before any filter by definition: numbers run
        #    per sender and channel across every definition.
        key = (header.sender, channel)
        sequence = header.sequence
        last = self._last_sequence.get(key)
        if (last is None or sequence != last + 1) and not self._account(envelope, last):
            return None
        self._last_sequence[key] = sequence
        if header.sent_ns < self._lag_floor:
            self._lag(envelope)
        elif self._lagging:
            self._lagging = False
            self.log.info("listener caught up on %s", channel)

        # 3. The definition, checked against the sender's fingerprint.
        name = header.definition
        definition = self._definitions.get((name, header.fingerprint))
        try:
            if definition is None:
                definition = self._definition(name, header.fingerprint)
            wanted = self._wanted.get((channel, name))
            if wanted is None:
                wanted = self._filter(channel, name, subscriptions)
            if not wanted:
                stats.unmatched += 1
                return None
            data = definition.decode_body(body)
        except DecodeError as exc:
            self._count_drop(exc, envelope)
            return None

        message = Message(
            channel,
            name,
            data,
            header.sender,
            sequence,
            header.sent_ns,
            header.fingerprint,
        )
        return message, wanted

    def dispatch(self, frames: Sequence[bytes]) -> None:
        """Decode one message and call its synchronous handlers."""
        prepared = self.prepare(frames)
        if prepared is None:
            return
        message, subscriptions = prepared
        for subscription in subscriptions:
            if subscription.active:
                self.call(subscription, message)

    def call(self, subscription: Subscription, message: Message) -> Any:
        """Call one handler, counting and logging a failure; returns its result."""
        try:
            result = subscription.handler(message)
        except Exception:
            self.stats.handler_errors += 1
            self.log.exception(
                "handler %r failed on %s #%d from %s",
                subscription.handler,
                message.channel,
                message.sequence,
                message.sender,
            )
            return None
        self.stats.delivered += 1
        return result

    def handler_failed(self, subscription: Subscription, message: Message) -> None:
        """Count and log a handler failure seen by an adapter (async handlers)."""
        self.stats.handler_errors += 1
        self.log.exception(
            "handler %r failed on %s #%d",
            subscription.handler,
            message.channel,
            message.sequence,
        )

    def _definition(self, name: str, fingerprint: str) -> Definition:
        definition = self.catalog.get(name)
        if definition is None:
            raise UnknownDefinition(name)
        if definition.fingerprint != fingerprint:
            raise FingerprintMismatch(name, fingerprint, definition.fingerprint)
        if len(self._definitions) < _MAX_ROUTES:
            self._definitions[name, fingerprint] = definition
        return definition

    def _account(self, envelope: Envelope, last: int | None) -> bool:
        """The uncommon cases of sequence accounting; False for a duplicate.

        Called when the sequence number is not the one after ``last``: a new
        sender (or a restarted one: a new id, a new epoch, never a gap), a gap,
        or a duplicate.
        """
        header = envelope.header
        sequence = header.sequence
        if last is None:
            if len(self._last_sequence) >= _MAX_SENDERS:
                self._last_sequence.pop(next(iter(self._last_sequence)))
        elif sequence <= last:
            self.stats.duplicates += 1
            held = self._throttle.allow("duplicate")
            if held is not None:
                self.log.warning(
                    "duplicate %s #%d from %s dropped (last was #%d)%s",
                    envelope.channel,
                    sequence,
                    header.sender,
                    last,
                    _held_note(held),
                )
            return False
        else:
            missing = sequence - last - 1
            self.stats.gaps += missing
            held = self._throttle.allow("gap")
            if held is not None:
                self.log.warning(
                    "gap on %s from %s: %d message(s) lost (#%d to #%d)%s",
                    envelope.channel,
                    header.sender,
                    missing,
                    last + 1,
                    sequence - 1,
                    _held_note(held),
                )
            if self.on_gap is not None:
                try:
                    self.on_gap(header.sender, envelope.channel, last + 1, sequence)
                except Exception:
                    self.log.exception("gap callback failed")
        return True

    def _lag(self, envelope: Envelope) -> None:
        """Count a late message; signal when lag starts, then once a second."""
        self.stats.lagged += 1
        now = self._now_ns
        if self._lagging and now - self._lag_signalled_ns < _LAG_REPEAT_NS:
            return
        self._lagging = True
        self._lag_signalled_ns = now
        header = envelope.header
        age = (now - header.sent_ns) / 1e9
        self.log.warning(
            "listener behind on %s: message #%d from %s is %.3f s old (threshold %s s)",
            envelope.channel,
            header.sequence,
            header.sender,
            age,
            self.lag_threshold,
        )
        if self.on_lag is not None:
            try:
                self.on_lag(header.sender, envelope.channel, header.sent_ns, age)
            except Exception:
                self.log.exception("lag callback failed")

    def _count_drop(self, exc: DecodeError, envelope: Envelope | None) -> None:
        kind = exc.kind
        setattr(self.stats, kind, getattr(self.stats, kind) + 1)
        held = self._throttle.allow(kind)
        if held is None:
            return
        if envelope is None:
            self.log.warning("dropped a message: %s%s", exc, _held_note(held))
        else:
            self.log.warning(
                "dropped %s #%d from %s: %s%s",
                envelope.channel,
                envelope.header.sequence,
                envelope.header.sender,
                exc,
                _held_note(held),
            )
