"""Handlers the listener daemon imports by path in the tests.

Each writes one line per call to the file named by ``$ZCOMET_TEST_OUT``, so
the test process can see what ran in the daemon process.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

from zcomet import Message

_lock = threading.Lock()
_active = 0
_peak = 0


def _write(line: str) -> None:
    with _lock, open(os.environ["ZCOMET_TEST_OUT"], "a", encoding="utf-8") as out:
        out.write(line + "\n")


def record(message: Message) -> None:
    _write(f"sync {message.channel} {message.data['ticket_id']}")


async def record_async(message: Message) -> None:
    await asyncio.sleep(0)
    _write(f"async {message.channel} {message.data['ticket_id']}")


def fail(message: Message) -> None:
    raise RuntimeError(f"failing on purpose on {message.data['ticket_id']}")


def slow(message: Message) -> None:
    _write(f"start {message.data['ticket_id']}")
    time.sleep(0.5)
    _write(f"done {message.data['ticket_id']}")


def _enter() -> None:
    global _active, _peak
    with _lock:
        _active += 1
        _peak = max(_peak, _active)


def _leave(message: Message) -> None:
    global _active
    with _lock:
        _active -= 1
        peak = _peak
    _write(f"pooled {message.data['ticket_id']} peak {peak}")


def pooled(message: Message) -> None:
    _enter()
    time.sleep(0.2)
    _leave(message)


async def pooled_async(message: Message) -> None:
    _enter()
    await asyncio.sleep(0.2)
    _leave(message)
