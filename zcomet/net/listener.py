"""Listeners: receive messages on channels and hand them to handlers.

:class:`Listener` runs a blocking loop (``run``) or a background thread
(``start``); :class:`AsyncListener` runs in an asyncio event loop and also
accepts ``async def`` handlers. Both follow the policy in
:mod:`zcomet.net.dispatch`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import zmq
import zmq.asyncio

from zcomet.core.catalog import Catalog
from zcomet.core.channels import Pattern
from zcomet.core.codec import DEFAULT_MAX_BODY, MAX_HEADER_BYTES
from zcomet.errors import (
    ClosedError,
    ConfigError,
    DefinitionError,
    SecurityError,
    Timeout,
)
from zcomet.net.closing import AsyncClosing, Closing
from zcomet.net.dispatch import (
    Dispatcher,
    GapCallback,
    Handler,
    LagCallback,
    ListenerStats,
    Subscription,
)
from zcomet.net.endpoints import Endpoint, parse_endpoints
from zcomet.net.options import SocketOptions
from zcomet.net.role import SocketRole
from zcomet.net.security import Security

__all__ = ["AsyncListener", "Listener"]

log = logging.getLogger(__name__)

# Unique inproc names: an id() is reused as soon as an object is freed, while
# libzmq may still hold the old name for a moment after close.
_inproc_ids = itertools.count()

# Frames kept of one message; more means malformed anyway (zcomet uses 3).
_MAX_FRAMES = 8

# Messages handled between two looks at the stop flag and pending changes.
_BATCH = 256

# Frames kept of one message; more means malformed anyway (zcomet uses 3).
_MAX_FRAMES = 8

# Messages handled between two clock reads for the lag check (a power of 2).
_TICK_EVERY = 32


def _make_socket(
    context: zmq.Context[Any], options: SocketOptions, max_body: int
) -> Any:
    socket = context.socket(zmq.SUB)
    options.apply(socket)
    # A peer that sends a larger frame is disconnected before it is read.
    socket.setsockopt(zmq.MAXMSGSIZE, max(max_body, MAX_HEADER_BYTES))
    return socket


def _frame_reader(socket: zmq.Socket[Any]) -> Callable[[], list[bytes]]:
    """A function reading one whole message's frames without blocking.

    It calls the compiled backend's ``recv`` and ``get`` directly: pyzmq's
    ``recv_multipart`` wraps every option number in an enum and every call in
    a Python method, which costs more per message than the decoding.

    Raises:
        zmq.Again: No message is waiting.
    """
    backend: Any = super(zmq.Socket, socket)
    recv, get = backend.recv, getattr(backend, "get", socket.getsockopt)
    flags, more = int(zmq.NOBLOCK), int(zmq.RCVMORE)

    def read() -> list[bytes]:
        frames = [recv(flags)]
        # A message's frames are all in memory already; a hostile number of
        # them is read (to drain it) but only the first few are kept.
        while get(more):
            frame = recv(flags)
            if len(frames) < _MAX_FRAMES:
                frames.append(frame)
        return frames

    return read


def _pending_check(socket: zmq.Socket[Any]) -> Callable[[], bool]:
    """A function telling whether a message is waiting (``ZMQ_EVENTS``)."""
    backend: Any = super(zmq.Socket, socket)
    get: Callable[[int], Any] = getattr(backend, "get", socket.getsockopt)
    events, pollin = int(zmq.EVENTS), int(zmq.POLLIN)

    def pending() -> bool:
        return bool(get(events) & pollin)

    return pending


class _ListenerBase(SocketRole):
    """Subscriptions and counters shared by both listeners."""

    _socket: Any

    def __init__(
        self,
        endpoints: str | Endpoint | Iterable[str | Endpoint],
        catalog: Catalog,
        options: SocketOptions | None,
        max_body: int,
        on_gap: GapCallback | None,
        log: logging.Logger | None,
        lag_threshold: float | None = None,
        on_lag: LagCallback | None = None,
    ) -> None:
        super().__init__()
        self.endpoints = parse_endpoints(endpoints, default="connect")
        self.options = options or SocketOptions()
        self.max_body = max_body
        self._dispatcher = Dispatcher(
            catalog,
            max_body=max_body,
            on_gap=on_gap,
            lag_threshold=lag_threshold,
            on_lag=on_lag,
            log=log,
        )
        self._closed = False

    @property
    def catalog(self) -> Catalog:
        """The catalog messages are validated against."""
        return self._dispatcher.catalog

    def _label(self) -> str:
        return f"listener on {', '.join(map(str, self.endpoints))}"

    @property
    def stats(self) -> ListenerStats:
        """Live counters: received, delivered, dropped by cause, gaps..."""
        return self._dispatcher.stats

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The active subscriptions."""
        return self._dispatcher.subscriptions

    def on(
        self, channel: str, handler: Handler, definition: str | None = None
    ) -> Subscription:
        """Listen on a channel or wildcard pattern.

        Args:
            channel: A channel (``alerts``) or pattern (``alerts.*``,
                ``alerts.>``). Matching is exact: ``alerts`` never receives
                ``alerts-high``.
            handler: Called with each :class:`~zcomet.Message`.
            definition: Only messages of this technical name; any if None.

        Returns:
            The subscription; ``cancel()`` it to stop listening.

        Raises:
            ChannelError: The pattern is malformed.
            DefinitionError: ``definition`` is not in the catalog.
        """
        if self._closed:
            raise ClosedError("listener is closed")
        pattern = Pattern(channel)
        if definition is not None and definition not in self.catalog:
            raise DefinitionError("not in the catalog", definition=definition)
        self._check_handler(handler)

        subscription = Subscription(pattern, handler, definition, self)
        if self._dispatcher.add(subscription):
            self._change(zmq.SUBSCRIBE, pattern.prefix)
        log.info(
            "listening on %s%s", pattern, f" for {definition}" if definition else ""
        )
        return subscription

    def off(self, subscription: Subscription) -> None:
        """Stop a subscription; its handler is not called again."""
        if self._dispatcher.remove(subscription) and not self._closed:
            self._change(zmq.UNSUBSCRIBE, subscription.pattern.prefix)
        log.info("stopped listening on %s", subscription.pattern)

    def _check_handler(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError("handler must be callable")

    def _change(self, option: int, prefix: bytes) -> None:
        raise NotImplementedError


class Listener(_ListenerBase, Closing):
    """Receives messages over a ZeroMQ SUB socket and calls handlers.

    Run it in the calling thread with :meth:`run`, or in a background thread
    with :meth:`start`. ``on`` and ``off`` may be called from any thread.

    Args:
        endpoints: Where to connect or bind, in zcomet's endpoint notation
            (``>`` connects, ``@`` binds; a bare address connects).
        catalog: Definitions received messages are validated against.
        options: Socket options (queue sizes, linger, heartbeats).
        max_body: Largest body accepted; larger frames are refused unread.
        on_gap: Called as ``on_gap(sender, channel, first_missing, received)``
            when sequence numbers show lost messages.
        context: The ZeroMQ context; the process-wide one by default.
        log: Logger for drops and handler failures.
        lag_threshold: Seconds; messages older than this when read mean the
            listener is behind (``stats.lagged``, a WARNING, ``on_lag``).
            Off (None) by default.
        on_lag: Called as ``on_lag(sender, channel, sent_ns, age)`` when the
            listener falls behind, then at most once a second while it stays
            behind.
        security: CURVE settings (:class:`~zcomet.net.security.Security`);
            plain ZeroMQ if None. If a server's authenticator stops, the
            listener closes.

    Example:
        >>> listener = Listener(">tcp://127.0.0.1:5555", catalog)
        >>> listener.on("escalation", page_duty_officer)
        >>> listener.run()
    """

    def __init__(
        self,
        endpoints: str | Endpoint | Iterable[str | Endpoint],
        catalog: Catalog,
        *,
        options: SocketOptions | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        on_gap: GapCallback | None = None,
        context: zmq.Context[Any] | None = None,
        log: logging.Logger | None = None,
        lag_threshold: float | None = None,
        on_lag: LagCallback | None = None,
        security: Security | None = None,
    ) -> None:
        super().__init__(
            endpoints, catalog, options, max_body, on_gap, log, lag_threshold, on_lag
        )
        context = context or zmq.Context.instance()

        # Socket changes from other threads go through a queue and a wake-up
        # pipe; the thread that owns the socket applies them.
        wake = f"inproc://zcomet-listener-wake-{next(_inproc_ids)}"
        self._wake_in = context.socket(zmq.PAIR)
        self._wake_in.bind(wake)
        self._wake_out = context.socket(zmq.PAIR)
        self._wake_out.connect(wake)
        self._wake_lock = threading.Lock()
        self._pending: queue.SimpleQueue[tuple[int, bytes]] = queue.SimpleQueue()
        self._owner = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

        self._open(_make_socket(context, self.options, max_body), security)

    def _check_handler(self, handler: Handler) -> None:
        super()._check_handler(handler)
        if inspect.iscoroutinefunction(handler):
            raise TypeError("async handlers need AsyncListener (or the daemon)")

    def _change(self, option: int, prefix: bytes) -> None:
        self._pending.put((option, prefix))
        if self._owner.acquire(blocking=False):
            try:
                self._apply_pending()
            finally:
                self._owner.release()
        else:
            with self._wake_lock:
                self._wake_out.send(b"")

    def _apply_pending(self) -> None:
        """Apply queued subscription changes (socket owner only)."""
        while True:
            try:
                option, prefix = self._pending.get_nowait()
            except queue.Empty:
                return
            self._socket.setsockopt(option, prefix)

    def run(self, timeout: float | None = None, max_messages: int | None = None) -> int:
        """Receive and dispatch until :meth:`stop`, ``timeout`` or ``max_messages``.

        Returns:
            The number of messages read from the socket.
        """
        if self._closed:
            raise ClosedError("listener is closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        limit = max_messages if max_messages is not None else -1
        count = 0
        socket, dispatch = self._socket, self._dispatcher.dispatch
        read = _frame_reader(socket)
        pending = _pending_check(socket)
        tick = self._dispatcher.tick
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        poller.register(self._wake_in, zmq.POLLIN)

        with self._owner:
            self._stopping.clear()
            self._apply_pending()
            while not self._stopping.is_set() and count != limit:
                if deadline is None:
                    wait = -1
                else:
                    wait = int((deadline - time.monotonic()) * 1000)
                    if wait < 0:
                        break
                events = dict(poller.poll(wait))
                if self._wake_in in events:
                    self._drain_wake()
                    self._apply_pending()
                if socket not in events:
                    continue
                tick()
                for index in range(_BATCH):
                    try:
                        frames = read()
                    except zmq.Again:
                        break
                    count += 1
                    if not count % _TICK_EVERY:
                        tick()  # bounds the lag clock's staleness in slow batches
                    dispatch(frames)
                    if count == limit or self._stopping.is_set():
                        break
                    # One message per wake-up is the common case at modest
                    # rates: asking whether another waits costs less than the
                    # zmq.Again a read would raise. In a burst, read on.
                    if index == 0 and not pending():
                        break
            self._apply_pending()
        return count

    def _drain_wake(self) -> None:
        for _ in range(10_000):
            try:
                self._wake_in.recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    def start(self, name: str = "zcomet-listener") -> Listener:
        """Run the loop in a daemon thread; returns self."""
        if self._thread is not None and self._thread.is_alive():
            raise ConfigError("listener already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()
        log.info("listener started on %s", ", ".join(self.addresses))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop after the message in hand; wait for its thread.

        Raises:
            Timeout: The background thread did not end within ``timeout``
                (a handler is still running).
        """
        self._stopping.set()
        if not self._closed:
            with self._wake_lock:
                self._wake_out.send(b"")
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                raise Timeout(f"listener thread still running after {timeout} s")
            self._thread = None

    def close(self, linger: float | None = None) -> None:
        """Stop, then close the sockets (waiting at most ``linger`` seconds)."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        linger_ms = self.options.linger_ms if linger is None else int(linger * 1000)
        with self._owner:
            self._close_sockets(linger_ms)
        log.info("listener closed; %s", self.stats.as_dict())

    def _release(self) -> None:
        self._close_sockets(0)

    def _close_sockets(self, linger_ms: int) -> None:
        self._socket.close(linger=linger_ms)
        with self._wake_lock:
            self._wake_out.close(0)
        self._wake_in.close(0)
        if self.guard is not None:
            self.guard.close()

    def _security_lost(self, reason: str) -> None:
        self.close(0)


class AsyncListener(_ListenerBase, AsyncClosing):
    """The asyncio counterpart of :class:`Listener`; handlers may be async.

    Example:
        >>> listener = AsyncListener(">tcp://127.0.0.1:5555", catalog)
        >>> listener.on("escalation", page_duty_officer)
        >>> await listener.run()
    """

    def __init__(
        self,
        endpoints: str | Endpoint | Iterable[str | Endpoint],
        catalog: Catalog,
        *,
        options: SocketOptions | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        on_gap: GapCallback | None = None,
        context: zmq.asyncio.Context | None = None,
        log: logging.Logger | None = None,
        lag_threshold: float | None = None,
        on_lag: LagCallback | None = None,
        security: Security | None = None,
    ) -> None:
        super().__init__(
            endpoints, catalog, options, max_body, on_gap, log, lag_threshold, on_lag
        )
        context = context or zmq.asyncio.Context.instance()
        self._stopping = False
        self._receiving: Any = None
        self._open(_make_socket(context, self.options, max_body), security)

    def _security_lost(self, reason: str) -> None:
        receiving = self._receiving
        if receiving is not None and not receiving.done():
            # Close in the event loop's thread, where the socket lives.
            receiving.get_loop().call_soon_threadsafe(self.close, 0)
        else:
            self._stopping = True

    def _change(self, option: int, prefix: bytes) -> None:
        self._socket.setsockopt(option, prefix)

    async def run(self, max_messages: int | None = None) -> int:
        """Receive and dispatch until :meth:`stop` or ``max_messages``.

        Handlers run one at a time, in order; an ``async def`` handler is
        awaited before the next message is read.

        Returns:
            The number of messages read from the socket.
        """
        if self._closed:
            raise ClosedError("listener is closed")
        if self.guard is not None and self.guard.lost:
            self.close(0)
            raise SecurityError("listener closed: the authenticator stopped")
        dispatcher = self._dispatcher
        count = 0
        self._stopping = False
        while not self._stopping and count != max_messages:
            self._receiving = self._socket.recv_multipart()
            try:
                frames = await self._receiving
            except asyncio.CancelledError:
                if self._stopping:
                    break
                raise
            finally:
                self._receiving = None
            count += 1

            dispatcher.tick()  # one await per message already costs far more
            prepared = dispatcher.prepare(frames)
            if prepared is None:
                continue
            message, subscriptions = prepared
            for subscription in subscriptions:
                if not subscription.active:
                    continue
                try:
                    result = subscription.handler(message)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    dispatcher.handler_failed(subscription, message)
                else:
                    dispatcher.stats.delivered += 1
        return count

    def stop(self) -> None:
        """Stop :meth:`run` after the message in hand."""
        self._stopping = True
        if self._receiving is not None and not self._receiving.done():
            self._receiving.cancel()

    def close(self, linger: float | None = None) -> None:
        """Stop and close the socket."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        linger_ms = self.options.linger_ms if linger is None else int(linger * 1000)
        self._socket.close(linger=linger_ms)
        if self.guard is not None:
            self.guard.close()
        log.info("async listener closed; %s", self.stats.as_dict())
