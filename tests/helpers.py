"""Helpers shared by the tests: addresses, sample data and bounded waits."""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zcomet import Message

ROOT = Path(__file__).resolve().parent.parent
HELPDESK = ROOT / "examples" / "helpdesk" / "definitions.toml"

_counter = itertools.count()


def make_address(transport: str, ipc_dir: Path | None = None) -> str:
    n = next(_counter)
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    if transport == "ipc":
        folder = ipc_dir or Path(tempfile.gettempdir())
        return f"ipc://{folder / f's{os.getpid()}-{n}.sock'}"
    return f"inproc://zc-test-{os.getpid()}-{n}"


def ticket(number: int = 1, **changes: Any) -> dict[str, Any]:
    """A valid ticket_escalation message."""
    from examples.helpdesk.app import make_ticket

    data = make_ticket(number)
    data.update(changes)
    return data


class Inbox:
    """A handler that records messages and lets a test wait for them."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._cond = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Message]:
        """Wait until ``count`` messages arrived; fails the test on timeout."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.messages) >= count, timeout)
        assert ok, f"got {len(self.messages)} of {count} messages in {timeout} s"
        return list(self.messages)


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``check`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
