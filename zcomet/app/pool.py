"""A bounded pool of worker threads for slow synchronous handlers.

The standard ``ThreadPoolExecutor`` joins its threads when the interpreter
exits, so one handler stuck forever would keep the daemon from exiting. These
workers are daemon threads: the daemon waits for them up to its drain timeout
and no longer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerPool"]

log = logging.getLogger(__name__)

_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


def _settle(
    future: asyncio.Future[Any], result: Any, error: BaseException | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class WorkerPool:
    """``size`` daemon threads running calls handed over from an event loop.

    Args:
        size: Number of threads.
        name: Thread name prefix, for logs and debuggers.
    """

    def __init__(self, size: int, name: str = "zcomet-worker") -> None:
        self.size = size
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``function(*args)`` on a worker; await the result in the loop."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._jobs.put((function, args, future))
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            function, args, future = job
            result: Any = None
            error: BaseException | None = None
            try:
                result = function(*args)
            except BaseException as exc:  # handed to the awaiting coroutine
                error = exc
            try:
                future.get_loop().call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:
                # The loop is closed: the daemon stopped waiting for this call.
                log.debug("worker finished after the event loop closed")

    def shutdown(self) -> None:
        """Let idle workers end; busy ones end after their current call."""
        for _ in self._threads:
            self._jobs.put(None)
