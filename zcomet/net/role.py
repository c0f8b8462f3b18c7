"""What every socket-owning role shares: endpoints, a CURVE guard, opening.

Senders and listeners (sync and asyncio) derive from :class:`SocketRole`, so
securing a socket, attaching it to its endpoints and releasing it when that
fails are written once.
"""

from __future__ import annotations

from typing import Any

from zcomet.net.endpoints import Endpoint, attach
from zcomet.net.monitor import Guard
from zcomet.net.security import Security, require_guard

__all__ = ["SocketRole"]


class SocketRole:
    """A role with one ZeroMQ socket, its endpoints and an optional guard.

    Subclasses set ``endpoints`` before calling :meth:`_open`, and name
    themselves with :meth:`_label` in logs and errors.
    """

    endpoints: list[Endpoint]
    _socket: Any

    def __init__(self) -> None:
        self.addresses: list[str] = []
        #: The handshake watch when ``security`` was given, else None.
        self.guard: Guard | None = None

    def _label(self) -> str:
        """How this role is named in logs and errors."""
        raise NotImplementedError

    def wait_secure(self, timeout: float = 5.0, peers: int | None = None) -> int:
        """Wait for CURVE handshakes; see :meth:`zcomet.net.monitor.Guard.wait_secure`.

        Raises:
            SecurityError: Not secured, or too few handshakes within ``timeout``
                (the message names the last failure, e.g. a wrong server key).
        """
        return require_guard(self.guard, self._label()).wait_secure(peers, timeout)

    def _open(self, socket: Any, security: Security | None) -> None:
        """Take ``socket``, secure it if asked, then bind or connect it.

        On any failure everything opened so far is released (see
        :meth:`_release`) before the error goes on, so a failed constructor
        leaks nothing.
        """
        self._socket = socket
        try:
            if security is not None:
                self.guard = security.secure(
                    socket, self._label(), self.endpoints, self._security_lost
                )
            self.addresses = attach(socket, self.endpoints)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        """Close the socket and the guard at once (a constructor failed)."""
        self._socket.close(0)
        if self.guard is not None:
            self.guard.close()

    def _security_lost(self, reason: str) -> None:
        """Called by the guard when the authenticator is gone."""
        raise NotImplementedError
