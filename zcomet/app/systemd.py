"""Tell systemd about the daemon's state (``Type=notify`` units), if asked to.

systemd sets ``NOTIFY_SOCKET`` for a ``Type=notify`` service; without it
these calls do nothing, so the daemon runs the same anywhere.
"""

from __future__ import annotations

import logging
import os
import socket

__all__ = ["notify"]

log = logging.getLogger(__name__)


def notify(state: str) -> bool:
    """Send ``state`` (``READY=1``, ``STOPPING=1``...) to systemd.

    Returns:
        True if a notification socket was set and the state was sent.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.warning("cannot notify systemd (%s): %s", address, exc)
        return False
    return True
