"""Watch a secured socket's handshakes through ZeroMQ's socket monitor.

Every secured socket gets a :class:`Guard`: a thread that reads the socket's
monitor events, counts each handshake's outcome, logs refused peers at
WARNING with the reason, lets callers wait for a secure connection, and
closes the socket's owner when the authenticator it depends on is gone.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import zmq
from zmq.utils.monitor import recv_monitor_message

from zcomet.errors import SecurityError

__all__ = ["Guard", "SecurityStats"]

log = logging.getLogger(__name__)

_EVENTS = (
    zmq.EVENT_ACCEPTED
    | zmq.EVENT_CONNECTED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_MONITOR_STOPPED
)

# How often the monitor thread looks at its stop flag and the authenticator.
_TICK_MS = 100

# Monitor endpoints are never reused: id() values are, and inproc names linger.
_serial = itertools.count(1)

# Seconds between two WARNINGs for the same refusal reason on one socket.
_REPORT_EVERY = 10.0


class _Authority(Protocol):
    """What a guard needs to know of its authenticator."""

    @property
    def running(self) -> bool: ...


@dataclass
class SecurityStats:
    """Handshake outcomes seen on one secured socket.

    Attributes:
        handshakes: Peers that completed the CURVE handshake.
        unauthorised: Peers the authenticator refused (key not allowed).
        wrong_mechanism: Peers speaking another mechanism (NULL, PLAIN).
        bad_handshake: Peers whose handshake failed otherwise (wrong server
            key, garbage bytes, a connection dropped mid-handshake).
    """

    handshakes: int = 0
    unauthorised: int = 0
    wrong_mechanism: int = 0
    bad_handshake: int = 0

    @property
    def refused(self) -> int:
        """Every failed handshake, whatever the cause."""
        return self.unauthorised + self.wrong_mechanism + self.bad_handshake

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


def _protocol_reason(code: int) -> tuple[str, str]:
    """The counter and the reason for a ZMTP protocol error code."""
    if code == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "wrong_mechanism", "wrong mechanism (the peer is not using CURVE)"
    if code == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "bad_handshake", "bad handshake (cryptographic: wrong server key?)"
    return "bad_handshake", f"bad handshake (ZMTP protocol error {code:#x})"


class Guard:
    """The handshake watch over one secured socket.

    Created by :meth:`zcomet.net.security.Security.secure` before the socket
    binds or connects. Read :attr:`stats`, or :meth:`wait_secure` for peers.

    Args:
        socket: The socket to watch (sync or asyncio).
        name: Who owns it, for the log ("sender 3f2a...").
        server: Whether the socket authenticates its peers.
        expected: Peers :meth:`wait_secure` waits for by default.
        authority: The authenticator a server socket depends on.
        on_lost: Called once, with the reason, if the authenticator stops.
    """

    def __init__(
        self,
        socket: zmq.Socket[Any],
        name: str,
        *,
        server: bool,
        expected: int = 1,
        authority: _Authority | None = None,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.server = server
        self.expected = max(1, expected)
        self.stats = SecurityStats()
        self.on_lost = on_lost
        self.last_failure: str | None = None
        self._authority = authority
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._lost = False
        # Accepted connections whose handshake has no outcome yet, oldest first.
        self._pending: deque[int] = deque()
        self._reported: dict[str, tuple[float, int]] = {}

        address = f"inproc://zcomet-monitor-{os.getpid()}-{next(_serial)}"
        socket.monitor(address, _EVENTS)
        # A sync socket on the same libzmq context, whatever the owner's flavour.
        context: zmq.Context[Any] = zmq.Context.shadow(socket.context.underlying)
        self._events: zmq.Socket[bytes] = context.socket(zmq.PAIR)
        self._events.connect(address)
        self._thread = threading.Thread(
            target=self._run, name=f"zcomet-guard-{name}", daemon=True
        )
        self._thread.start()

    # -- the monitor thread --------------------------------------------------

    def _run(self) -> None:
        try:
            # Read until MONITOR_STOPPED, even after close(): libzmq's I/O
            # thread blocks on a monitor socket nobody reads.
            while True:
                self._watch_authority()
                if not self._events.poll(_TICK_MS):
                    continue
                event = recv_monitor_message(self._events)
                if event["event"] == zmq.EVENT_MONITOR_STOPPED:
                    return
                self._on_event(event["event"], event["value"], event["endpoint"])
        except zmq.ZMQError as exc:
            if exc.errno != zmq.ETERM:
                log.exception("%s: socket monitor failed", self.name)
        finally:
            self._events.close(0)
            with self._cond:
                self._cond.notify_all()

    def _watch_authority(self) -> None:
        if self._stopping.is_set():
            return
        if self._authority is not None and not self._authority.running:
            self.lose("the authenticator stopped")

    def _on_event(self, kind: int, value: int, endpoint: bytes) -> None:
        where = endpoint.decode(errors="replace")
        if kind in (zmq.EVENT_ACCEPTED, zmq.EVENT_CONNECTED):
            self._pending.append(value)
            return
        if kind == zmq.EVENT_DISCONNECTED:
            if value in self._pending:
                self._pending.remove(value)
                self._refused("bad_handshake", self._dropped_reason(), where)
            return
        if self._pending:
            self._pending.popleft()

        if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            with self._cond:
                self.stats.handshakes += 1
                self._cond.notify_all()
            log.debug("%s: secure handshake on %s", self.name, where)
        elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            if self.server:
                reason = f"unknown key (authenticator answered {value})"
            else:
                reason = f"the server refused our key (status {value})"
            self._refused("unauthorised", reason, where)
        elif kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
            counter, reason = _protocol_reason(value)
            self._refused(counter, reason, where)
        elif kind == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            if self.server:
                reason = "bad handshake (no detail; is the authenticator running?)"
            else:
                reason = (
                    "bad handshake: the server dropped us (wrong server key, "
                    "or it does not use CURVE?)"
                )
            self._refused("bad_handshake", reason, where)

    def _dropped_reason(self) -> str:
        if self.server:
            return "bad handshake (closed before completing it)"
        return (
            "bad handshake: the server closed the connection (wrong server key, "
            "or it does not use CURVE?)"
        )

    def _refused(self, counter: str, reason: str, where: str) -> None:
        with self._cond:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
            self.last_failure = reason
            self._cond.notify_all()
        # A peer with a wrong key retries every second or so: one WARNING per
        # reason per interval, with the number of repeats, not one per try.
        now = time.monotonic()
        last, repeats = self._reported.get(reason, (0.0, 0))
        if last and now - last < _REPORT_EVERY:
            self._reported[reason] = (last, repeats + 1)
            return
        self._reported[reason] = (now, 0)
        more = f" ({repeats} more since the last report)" if repeats else ""
        if self.server and counter == "unauthorised":
            # The authenticator has already logged the key and address.
            log.debug("%s on %s refused a peer: %s", self.name, where, reason)
        elif self.server:
            log.warning("%s on %s refused a peer: %s%s", self.name, where, reason, more)
        else:
            log.warning(
                "%s: handshake with %s failed: %s%s", self.name, where, reason, more
            )

    # -- any thread --------------------------------------------------------------

    def lose(self, reason: str) -> None:
        """The authenticator is gone: tell the owner, once, to close."""
        with self._cond:
            if self._lost or self._stopping.is_set():
                return
            self._lost = True
        log.error("%s: %s; closing its socket", self.name, reason)
        if self.on_lost is not None:
            try:
                self.on_lost(reason)
            except Exception:
                log.exception("%s: closing after %s failed", self.name, reason)

    @property
    def lost(self) -> bool:
        """Whether the authenticator this socket depended on has stopped."""
        return self._lost

    def wait_secure(self, peers: int | None = None, timeout: float = 5.0) -> int:
        """Wait until ``peers`` CURVE handshakes have succeeded.

        Args:
            peers: How many; by default one per connect endpoint (at least 1).
            timeout: Seconds to wait.

        Returns:
            The number of successful handshakes so far.

        Raises:
            SecurityError: Too few within ``timeout``; the message names the
                last failure seen (a wrong server key, a refused key...).
        """
        wanted = self.expected if peers is None else peers
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.stats.handshakes < wanted:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    why = self.last_failure or "no handshake attempt seen"
                    raise SecurityError(
                        f"{self.name}: {self.stats.handshakes} of {wanted} secure "
                        f"handshakes within {timeout} s; last failure: {why}"
                    )
                self._cond.wait(min(remaining, _TICK_MS / 1000))
            return self.stats.handshakes

    def close(self, timeout: float = 2.0) -> None:
        """Stop watching; call after the socket is closed.

        The thread ends when libzmq reports the monitor stopped, which closing
        the socket causes; this waits up to ``timeout`` for it.
        """
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
