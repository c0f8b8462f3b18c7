"""Socket options shared by senders, listeners and forwarders."""

from __future__ import annotations

from dataclasses import dataclass

import zmq

__all__ = ["SocketOptions"]


@dataclass(frozen=True)
class SocketOptions:
    """ZeroMQ settings a zcomet socket is created with.

    Attributes:
        linger_ms: How long ``close`` may wait to flush queued messages.
        sndhwm: Messages queued per peer before the sender's overload
            policy applies.
        rcvhwm: Messages queued at a listener before ZeroMQ drops.
        heartbeat_ivl_ms: ZMTP heartbeat interval; 0 disables heartbeats.
        heartbeat_timeout_ms: A peer silent this long after a heartbeat is
            dead and its connection closed (0: same as the interval).
        reconnect_ivl_ms: First delay before reconnecting a lost connection.
        reconnect_ivl_max_ms: Longest delay between reconnect attempts.
    """

    linger_ms: int = 1000
    sndhwm: int = 100_000
    rcvhwm: int = 100_000
    heartbeat_ivl_ms: int = 1000
    heartbeat_timeout_ms: int = 3000
    reconnect_ivl_ms: int = 100
    reconnect_ivl_max_ms: int = 1000

    def apply(self, socket: zmq.Socket[bytes]) -> None:
        """Set these options on a socket before it binds or connects."""
        socket.setsockopt(zmq.LINGER, self.linger_ms)
        socket.setsockopt(zmq.SNDHWM, self.sndhwm)
        socket.setsockopt(zmq.RCVHWM, self.rcvhwm)
        socket.setsockopt(zmq.RECONNECT_IVL, self.reconnect_ivl_ms)
        socket.setsockopt(zmq.RECONNECT_IVL_MAX, self.reconnect_ivl_max_ms)
        if self.heartbeat_ivl_ms > 0:
            socket.setsockopt(zmq.HEARTBEAT_IVL, self.heartbeat_ivl_ms)
            socket.setsockopt(
                zmq.HEARTBEAT_TIMEOUT,
                self.heartbeat_timeout_ms or self.heartbeat_ivl_ms,
            )
