"""The tap: a bare SUB socket that hands over raw frames, for tools.

A :class:`~zcomet.Listener` drops what it cannot validate; a tool such as
``zcomet spy`` wants to see everything on the wire, including messages whose
definition it does not know. The tap only owns the socket: it subscribes to
the prefixes that cover some channel patterns and returns each message's
frames. Decoding and matching are left to the caller (``zcomet.core``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import zmq

from zcomet.core.channels import Pattern
from zcomet.core.codec import DEFAULT_MAX_BODY, MAX_HEADER_BYTES
from zcomet.errors import ClosedError
from zcomet.net.closing import Closing
from zcomet.net.endpoints import Endpoint, attach, parse_endpoints
from zcomet.net.options import SocketOptions

__all__ = ["Tap"]

log = logging.getLogger(__name__)


class Tap(Closing):
    """Receives the raw frames of every message on some channels.

    Args:
        endpoints: Where to connect or bind (a bare address connects).
        patterns: Channels or wildcard patterns; every channel if empty.
        options: Socket options.
        max_body: Largest frame accepted; a peer sending more is cut off.
        context: The ZeroMQ context; the process-wide one by default.
    """

    def __init__(
        self,
        endpoints: str | Endpoint | Iterable[str | Endpoint],
        patterns: Iterable[Pattern] = (),
        *,
        options: SocketOptions | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        self.endpoints = parse_endpoints(endpoints, default="connect")
        self.options = options or SocketOptions()
        self.patterns = tuple(patterns)
        prefixes = {p.prefix for p in self.patterns} if self.patterns else {b""}
        context = context or zmq.Context.instance()

        self._socket: zmq.Socket[bytes] = context.socket(zmq.SUB)
        self.options.apply(self._socket)
        self._socket.setsockopt(zmq.MAXMSGSIZE, max(max_body, MAX_HEADER_BYTES))
        for prefix in sorted(prefixes):
            self._socket.setsockopt(zmq.SUBSCRIBE, prefix)
        try:
            self.addresses = attach(self._socket, self.endpoints)
        except BaseException:
            self._socket.close(0)
            raise
        self._closed = False

    def receive(self, timeout: float | None = None) -> list[bytes] | None:
        """The next message's frames, or None if none came within ``timeout``."""
        if self._closed:
            raise ClosedError("tap is closed")
        wait = -1 if timeout is None else max(0, int(timeout * 1000))
        if not self._socket.poll(wait, zmq.POLLIN):
            return None
        return self._socket.recv_multipart()

    def close(self) -> None:
        """Close the socket; a tap has nothing to flush."""
        if not self._closed:
            self._closed = True
            self._socket.close(0)
