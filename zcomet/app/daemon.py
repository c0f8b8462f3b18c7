"""The listener daemon: handlers from a config file, run until a signal.

``zcomet listen --config listeners.toml`` builds an
:class:`~zcomet.AsyncListener`, subscribes one runner per configured
subscription and runs until SIGTERM or SIGINT:

- A subscription's handler runs in order, one message at a time, unless its
  ``concurrency`` is above 1: then up to that many calls run at once (``async
  def`` handlers as tasks, plain functions on worker threads). When all are
  busy the daemon logs a WARNING, counts it (``pool_full``) and waits for a
  free worker before reading on, so ZeroMQ's queue absorbs the burst.
- A handler that raises is logged with its traceback and counted; the daemon
  goes on.
- On a signal it finishes the message in hand, waits up to ``drain_timeout``
  for pool calls still running, closes its socket with a bounded linger and
  returns 0. A second signal cuts the wait short.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import time
from dataclasses import asdict, dataclass
from typing import Any

import zmq.asyncio

from zcomet.app.config import DaemonConfig, SubscriptionConfig
from zcomet.app.pool import WorkerPool
from zcomet.app.systemd import notify
from zcomet.core.message import Message
from zcomet.errors import SecurityError
from zcomet.net.listener import AsyncListener
from zcomet.net.options import SocketOptions
from zcomet.net.security import Authenticator

__all__ = ["Daemon", "SubscriptionStats", "serve"]

log = logging.getLogger(__name__)

# At most one "pool full" warning per subscription in this many seconds.
_WARN_EVERY = 5.0


@dataclass
class SubscriptionStats:
    """What one subscription's handler did.

    Attributes:
        handled: Calls that returned normally.
        failed: Calls that raised (logged with their traceback).
        pool_full: Messages that found every worker busy and had to wait.
    """

    handled: int = 0
    failed: int = 0
    pool_full: int = 0


class _Runner:
    """Calls one subscription's handler, in order or in a bounded pool."""

    def __init__(self, config: SubscriptionConfig) -> None:
        self.config = config
        self.stats = SubscriptionStats()
        self.is_async = inspect.iscoroutinefunction(config.handler)
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._threads: WorkerPool | None = None
        self._warned_at = -_WARN_EVERY
        if config.concurrency > 1:
            self._slots = asyncio.Semaphore(config.concurrency)
            if not self.is_async:
                self._threads = WorkerPool(
                    config.concurrency, f"zcomet-{config.key or 'handler'}"
                )

    def __repr__(self) -> str:
        return f"<handler {self.config.handler_path} on {self.config.channel}>"

    async def __call__(self, message: Message) -> None:
        if self._slots is None:
            await self._call(message)
            return

        if self._slots.locked():
            self.stats.pool_full += 1
            now = time.monotonic()
            if now - self._warned_at >= _WARN_EVERY:
                self._warned_at = now
                log.warning(
                    "%s: all %d workers busy, waiting for one (pool full %d time(s))",
                    self.config.handler_path,
                    self.config.concurrency,
                    self.stats.pool_full,
                )
        await self._slots.acquire()
        task = asyncio.create_task(self._call(message, self._slots))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(
        self, message: Message, slot: asyncio.Semaphore | None = None
    ) -> None:
        handler = self.config.handler
        try:
            if self._threads is not None:
                await self._threads.run(handler, message)
            else:
                result = handler(message)
                if inspect.isawaitable(result):
                    await result
        except Exception:
            self.stats.failed += 1
            log.exception(
                "handler %s failed on %s #%d from %s",
                self.config.handler_path,
                message.channel,
                message.sequence,
                message.sender,
            )
        else:
            self.stats.handled += 1
            log.debug("%s handled %s #%d", self, message.channel, message.sequence)
        finally:
            if slot is not None:
                slot.release()

    @property
    def busy(self) -> int:
        """Pool calls still running."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for every pool call still running."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def close(self) -> None:
        """Release the worker threads."""
        if self._threads is not None:
            self._threads.shutdown()


class Daemon:
    """Runs the handlers of a :class:`~zcomet.app.config.DaemonConfig`.

    Args:
        config: The checked configuration.
    """

    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.listener: AsyncListener | None = None
        self._runners: list[_Runner] = []
        self._signals = 0
        self._hurry: asyncio.Event | None = None

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Per-subscription counters, keyed ``channel handler``."""
        return {
            f"{r.config.channel} {r.config.handler_path}": asdict(r.stats)
            for r in self._runners
        }

    async def run(self, max_messages: int | None = None) -> int:
        """Listen until a signal (or ``max_messages`` read); returns 0.

        Raises:
            ConfigError: An endpoint cannot be bound or connected.
        """
        config = self.config
        loop = asyncio.get_running_loop()
        self._hurry = asyncio.Event()
        options = SocketOptions(linger_ms=int(config.linger * 1000))
        # A server's authenticator serves the asyncio listener's context.
        security, auth = config.security.build(zmq.asyncio.Context.instance())
        try:
            listener = AsyncListener(
                config.endpoints,
                config.catalog,
                options=options,
                max_body=config.max_body,
                security=security,
            )
        except BaseException:
            if auth is not None:
                auth.stop()
            raise
        self.listener = listener
        handled_signals: list[signal.Signals] = []
        try:
            loop.add_signal_handler(signal.SIGHUP, _reload, auth)
            handled_signals.append(signal.SIGHUP)
            for subscription in config.subscriptions:
                runner = _Runner(subscription)
                self._runners.append(runner)
                listener.on(subscription.channel, runner, subscription.definition)
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._on_signal, signum)
                handled_signals.append(signum)

            log.info(
                "daemon ready: %d subscription(s) on %s (config %s)",
                len(self._runners),
                ", ".join(listener.addresses),
                config.source,
            )
            notify("READY=1")
            read = await listener.run(max_messages=max_messages)

            notify("STOPPING=1")
            log.info("stopping after %d message(s) read", read)
            await self._drain()
        finally:
            for signum in handled_signals:
                loop.remove_signal_handler(signum)
            listener.close(linger=config.linger)
            if auth is not None:
                auth.stop()
            for runner in self._runners:
                runner.close()
        log.info(
            "daemon stopped; handlers %s; listener %s",
            self.stats,
            listener.stats.as_dict(),
        )
        return 0

    def _on_signal(self, signum: signal.Signals) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("%s: finishing the message in hand, then stopping", signum.name)
            if self.listener is not None:
                self.listener.stop()
        else:
            log.warning("%s again: not waiting for running handlers", signum.name)
            if self._hurry is not None:
                self._hurry.set()

    async def _drain(self) -> None:
        busy = sum(runner.busy for runner in self._runners)
        if not busy:
            return
        timeout = self.config.drain_timeout
        log.info("waiting up to %.1f s for %d running handler call(s)", timeout, busy)
        assert self._hurry is not None
        drain: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(runner.drain() for runner in self._runners))
        )
        hurry: asyncio.Future[Any] = asyncio.ensure_future(self._hurry.wait())
        done, _ = await asyncio.wait(
            {drain, hurry}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        hurry.cancel()
        if drain not in done:
            drain.cancel()
            left = sum(runner.busy for runner in self._runners)
            log.warning("%d handler call(s) still running; leaving them", left)


def _reload(auth: Authenticator | None) -> None:
    """SIGHUP: read the allowlist again; a removed key can no longer connect."""
    if auth is None:
        log.info("SIGHUP: no allowlist to reload (not a CURVE server)")
        return
    try:
        auth.reload()
    except SecurityError as exc:
        log.error("SIGHUP: %s", exc)


def serve(config: DaemonConfig, max_messages: int | None = None) -> int:
    """Run a daemon for ``config`` in a new event loop; returns the exit code."""
    daemon = Daemon(config)
    code: Any = asyncio.run(daemon.run(max_messages))
    return int(code)
