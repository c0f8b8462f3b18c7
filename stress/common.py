"""Shared by the scenarios: the catalog, a payload, counters, child processes."""

from __future__ import annotations

import itertools
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zcomet import Catalog, Message

ROOT = Path(__file__).resolve().parent.parent
CATALOG_PATH = ROOT / "examples" / "helpdesk" / "definitions.toml"
ACK = {
    "ticket_id": "T-1234",
    "officer": "Ana",
    "acknowledged_at": "2026-01-01T00:00:00Z",
}

_counter = itertools.count()


def catalog() -> Catalog:
    """The helpdesk example's catalog."""
    return Catalog.load(CATALOG_PATH)


def address(transport: str, folder: str | None = None) -> str:
    """A fresh address on 127.0.0.1, ipc (in ``folder``) or inproc."""
    n = next(_counter)
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    if transport == "ipc":
        return f"ipc://{folder or tempfile.gettempdir()}/zs{os.getpid()}-{n}.sock"
    return f"inproc://zc-stress-{os.getpid()}-{n}"


class Tally:
    """A handler that counts messages and lets a caller wait on a condition."""

    def __init__(self) -> None:
        self.count = 0
        self.last = 0
        self.first_at: float | None = None
        self._cond = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self._cond:
            self.count += 1
            self.last = message.sequence
            if self.first_at is None:
                self.first_at = time.monotonic()
            self._cond.notify_all()

    def wait(self, check: Any, timeout: float) -> bool:
        """Wait until ``check(self)`` is true; False after ``timeout`` s."""
        with self._cond:
            return bool(self._cond.wait_for(lambda: check(self), timeout))


class Child:
    """A ``stress.children`` process, killed for sure on exit."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stress.children", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []

    def readline(self, timeout: float) -> str | None:
        """The child's next output line, or None after ``timeout`` s."""
        stdout = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        if not ready:
            return None
        line = stdout.readline().strip()
        self.lines.append(line)
        return line

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait for the child's ``ready`` line."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            line = self.readline(left)
            if line == "ready":
                return
            if line == "" and self.process.poll() is not None:
                break
        raise RuntimeError(f"child {self.process.args} not ready in {timeout} s")

    def signal(self, signum: int) -> None:
        """Send a signal (SIGKILL, SIGSTOP...) if the child still runs."""
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL the child and reap it."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def child(*args: str) -> Iterator[Child]:
    """Run a child process; it is killed when the block ends, however it ends."""
    process = Child(*args)
    try:
        yield process
    finally:
        process.kill()


@contextmanager
def quiet(logger: str = "zcomet") -> Iterator[None]:
    """Silence WARNINGs from ``logger`` (scenarios that drop on purpose)."""
    import logging

    log = logging.getLogger(logger)
    level, log.level = log.level, logging.ERROR
    try:
        yield
    finally:
        log.setLevel(level)
