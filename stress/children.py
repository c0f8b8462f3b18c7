"""Processes the fault scenarios kill: a forwarder and a listener.

Run as ``python -m stress.children forwarder FRONTEND BACKEND`` or
``python -m stress.children listener ENDPOINT CHANNEL``. Each prints ``ready``
once its sockets are set up; the listener then prints one sequence number a
line for each message it receives. Both run until killed.
"""

from __future__ import annotations

import signal
import sys
import threading

from zcomet import Catalog, Forwarder, Listener, Message
from zcomet.net.options import SocketOptions

# Children exit promptly when their parent asks them to.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def forwarder(frontend: str, backend: str) -> None:
    """Forward until killed."""
    with Forwarder(frontend, backend) as fw:
        fw.start()
        print("ready", flush=True)
        threading.Event().wait()


def listener(endpoint: str, channel: str, catalog_path: str) -> None:
    """Print each message's sequence number until killed."""

    def show(message: Message) -> None:
        sys.stdout.write(f"{message.sequence}\n")
        sys.stdout.flush()

    options = SocketOptions(heartbeat_ivl_ms=0)
    with Listener(endpoint, Catalog.load(catalog_path), options=options) as lst:
        lst.on(channel, show)
        print("ready", flush=True)
        lst.run()


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    {"forwarder": forwarder, "listener": listener}[role](*args)
