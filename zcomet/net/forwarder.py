"""The forwarder: an XSUB/XPUB proxy that fans messages out.

Senders connect to its frontend (XSUB), listeners to its backend (XPUB);
subscriptions flow upstream, messages downstream. The message path runs in
libzmq's steerable proxy, in C; Python only steers it (pause, resume,
statistics, stop) through an inproc control socket.

Forwarders chain: a forwarder whose frontend connects to another's backend
is one more level of a fan-out tree.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import zmq

from zcomet.errors import ClosedError, ConfigError, Timeout
from zcomet.net.closing import Closing
from zcomet.net.endpoints import Endpoint, attach, parse_endpoints
from zcomet.net.monitor import Guard
from zcomet.net.options import SocketOptions
from zcomet.net.security import Security

__all__ = ["Forwarder", "ForwarderStats", "describe_statistics"]

log = logging.getLogger(__name__)

# Unique inproc names: an id() is reused as soon as an object is freed, while
# libzmq may still hold the old name for a moment after close.
_inproc_ids = itertools.count()

# libzmq 4.3.5's steerable proxy has PAUSE and RESUME the wrong way round
# (fixed upstream by zeromq/libzmq#4600, after that release);
# tests/test_forwarder.py checks that a pause really holds messages.
if zmq.zmq_version_info()[:3] == (4, 3, 5):
    _PAUSE, _RESUME = b"RESUME", b"PAUSE"
else:
    _PAUSE, _RESUME = b"PAUSE", b"RESUME"


@dataclass(frozen=True)
class ForwarderStats:
    """Counters read from the proxy (frames, not whole messages, as libzmq counts).

    Attributes:
        frontend_in_msgs: Frames received from senders.
        frontend_in_bytes: Bytes received from senders.
        frontend_out_msgs: Subscription frames sent upstream.
        frontend_out_bytes: Bytes sent upstream.
        backend_in_msgs: Subscription frames received from listeners.
        backend_in_bytes: Bytes received from listeners.
        backend_out_msgs: Frames sent to listeners.
        backend_out_bytes: Bytes sent to listeners.
    """

    frontend_in_msgs: int = 0
    frontend_in_bytes: int = 0
    frontend_out_msgs: int = 0
    frontend_out_bytes: int = 0
    backend_in_msgs: int = 0
    backend_in_bytes: int = 0
    backend_out_msgs: int = 0
    backend_out_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


def describe_statistics(
    stats: ForwarderStats,
    previous: ForwarderStats | None = None,
    seconds: float = 0.0,
) -> str:
    """One log line: totals each way, and rates since ``previous`` if given."""
    before = previous or ForwarderStats()

    def part(label: str, frames: str, size: str) -> str:
        text = f"{label} {getattr(stats, frames):,} frames {getattr(stats, size):,} B"
        if previous is not None and seconds > 0:
            frame_rate = (getattr(stats, frames) - getattr(before, frames)) / seconds
            byte_rate = (getattr(stats, size) - getattr(before, size)) / seconds
            text += f" ({frame_rate:,.0f} frames/s, {byte_rate:,.0f} B/s)"
        return text

    return (
        f"{part('in', 'frontend_in_msgs', 'frontend_in_bytes')}, "
        f"{part('out', 'backend_out_msgs', 'backend_out_bytes')}, "
        f"subscriptions {stats.backend_in_msgs:,} in, {stats.frontend_out_msgs:,} up"
    )


class Forwarder(Closing):
    """Forwards every message from its frontend to its backend, in C.

    Args:
        frontend: Where senders reach it (XSUB); a bare address binds.
        backend: Where listeners reach it (XPUB); a bare address binds.
        options: Socket options for both sides.
        context: The ZeroMQ context; the process-wide one by default.
        frontend_security: CURVE settings for the senders' side, usually
            ``Security.server`` with the senders' allowlist.
        backend_security: CURVE settings for the listeners' side, usually
            ``Security.server`` with the listeners' allowlist. If an
            authenticator either side depends on stops, the forwarder stops.

    Example:
        >>> with Forwarder("@tcp://127.0.0.1:5555", "@tcp://127.0.0.1:5556") as fw:
        ...     fw.start()
        ...     print(fw.statistics())
    """

    def __init__(
        self,
        frontend: str | Endpoint | Iterable[str | Endpoint],
        backend: str | Endpoint | Iterable[str | Endpoint],
        *,
        options: SocketOptions | None = None,
        context: zmq.Context[Any] | None = None,
        frontend_security: Security | None = None,
        backend_security: Security | None = None,
    ) -> None:
        self.options = options or SocketOptions()
        self._context = context or zmq.Context.instance()
        self.frontend_endpoints = parse_endpoints(frontend, default="bind")
        self.backend_endpoints = parse_endpoints(backend, default="bind")
        self._control_address = f"inproc://zcomet-forwarder-{next(_inproc_ids)}"
        self._control_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._control: zmq.Socket[Any] | None = None
        self._closed = False
        self._paused = False
        # Set from signal handlers: plain flags, read by run().
        self._stop_requested = False
        self._statistics_requested = False

        self._frontend = self._context.socket(zmq.XSUB)
        self._backend = self._context.socket(zmq.XPUB)
        self._steer = self._context.socket(zmq.REP)
        for socket in (self._frontend, self._backend):
            self.options.apply(socket)
        # Pass every listener's subscription upstream (and its unsubscription),
        # so a sender's wait_for_listeners counts listeners, not forwarders.
        self._backend.setsockopt(zmq.XPUB_VERBOSER, 1)
        #: The handshake watch of each side when it is secured, else None.
        self.frontend_guard: Guard | None = None
        self.backend_guard: Guard | None = None
        try:
            if frontend_security is not None:
                self.frontend_guard = frontend_security.secure(
                    self._frontend,
                    "forwarder frontend",
                    self.frontend_endpoints,
                    self._security_lost,
                )
            if backend_security is not None:
                self.backend_guard = backend_security.secure(
                    self._backend,
                    "forwarder backend",
                    self.backend_endpoints,
                    self._security_lost,
                )
            self._steer.bind(self._control_address)
            self.frontend_addresses = attach(self._frontend, self.frontend_endpoints)
            self.backend_addresses = attach(self._backend, self.backend_endpoints)
        except BaseException:
            for socket in (self._frontend, self._backend, self._steer):
                socket.close(0)
            self._close_guards()
            raise

    def _close_guards(self) -> None:
        for guard in (self.frontend_guard, self.backend_guard):
            if guard is not None:
                guard.close()

    def _security_lost(self, reason: str) -> None:
        self.stop()

    def monitor_socket(
        self,
        side: Literal["frontend", "backend"],
        events: int = (
            zmq.EVENT_CONNECTED | zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED
        ),
    ) -> zmq.Socket[Any]:
        """A PAIR socket that receives ZeroMQ's monitor events for one side.

        Call it before :meth:`start`: once running, the sockets belong to the
        proxy thread. Read the returned socket (``zmq.utils.monitor.
        recv_monitor_message``) for as long as the forwarder runs, and close
        it after: libzmq blocks its I/O thread on a monitor nobody reads.

        Args:
            side: ``"frontend"`` (senders) or ``"backend"`` (listeners).
            events: A mask of ``zmq.EVENT_*`` values.

        Raises:
            ConfigError: The forwarder is already running, or ``side`` is
                neither side.
        """
        if self._thread is not None:
            raise ConfigError("monitor_socket must be called before start()")
        if side not in ("frontend", "backend"):
            raise ConfigError(f"side must be 'frontend' or 'backend', not {side!r}")
        socket = self._frontend if side == "frontend" else self._backend
        monitor: zmq.Socket[Any] = socket.get_monitor_socket(events)
        return monitor

    def start(self) -> Forwarder:
        """Run the proxy in a background thread; returns self."""
        if self._closed:
            raise ClosedError("forwarder is closed")
        if self._thread is not None:
            raise ConfigError("forwarder already started")
        self._thread = threading.Thread(
            target=self._proxy, name="zcomet-forwarder", daemon=True
        )
        self._thread.start()
        self._control = self._context.socket(zmq.REQ)
        self._control.setsockopt(zmq.LINGER, 0)
        self._control.connect(self._control_address)
        log.info(
            "forwarding %s -> %s",
            ", ".join(self.frontend_addresses),
            ", ".join(self.backend_addresses),
        )
        return self

    def _proxy(self) -> None:
        try:
            zmq.proxy_steerable(self._frontend, self._backend, None, self._steer)
        except zmq.ContextTerminated:
            pass
        except zmq.ZMQError:
            log.exception("forwarder proxy failed")
        finally:
            for socket in (self._frontend, self._backend, self._steer):
                socket.close(self.options.linger_ms)

    def _command(self, command: bytes, timeout: float = 2.0) -> list[bytes]:
        if self._control is None:
            raise ClosedError("forwarder is not running")
        with self._control_lock:
            self._control.send(command)
            if not self._control.poll(int(timeout * 1000)):
                raise Timeout(f"forwarder did not answer {command.decode()}")
            return self._control.recv_multipart()

    @property
    def running(self) -> bool:
        """Whether the proxy thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def paused(self) -> bool:
        """Whether forwarding is paused."""
        return self._paused

    def pause(self) -> None:
        """Stop forwarding; messages queue up to the high-water marks."""
        self._command(_PAUSE)
        self._paused = True
        log.info("forwarder paused")

    def resume(self) -> None:
        """Resume forwarding."""
        self._command(_RESUME)
        self._paused = False
        log.info("forwarder resumed")

    def statistics(self) -> ForwarderStats:
        """Counters of frames and bytes each way, read from the proxy."""
        frames = self._command(b"STATISTICS")
        return ForwarderStats(*(int.from_bytes(f, "little") for f in frames[:8]))

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop; safe to call from a signal handler."""
        self._stop_requested = True

    def request_statistics(self) -> None:
        """Ask :meth:`run` to report statistics now; safe in a signal handler."""
        self._statistics_requested = True

    def run(
        self,
        stats_interval: float | None = None,
        on_request: Callable[[ForwarderStats], object] | None = None,
    ) -> ForwarderStats:
        """Forward until :meth:`request_stop`, then stop; for a main thread.

        The proxy runs in its thread as after :meth:`start`; this thread logs
        statistics every ``stats_interval`` seconds (INFO, with rates) and
        whenever :meth:`request_statistics` is called. Signal handlers should
        call those two ``request_`` methods, which only set flags.

        Args:
            stats_interval: Seconds between statistics lines; none if None.
            on_request: Called with requested statistics instead of logging.

        Returns:
            The final statistics.
        """
        if self._thread is None:
            self.start()
        thread = self._thread
        assert thread is not None
        last, last_at = self.statistics(), time.monotonic()
        next_at = last_at + stats_interval if stats_interval else float("inf")

        while not self._stop_requested and thread.is_alive():
            thread.join(max(0.0, min(0.2, next_at - time.monotonic())))
            if self._stop_requested or not thread.is_alive():
                break
            now = time.monotonic()
            if self._statistics_requested:
                self._statistics_requested = False
                current = self.statistics()
                if on_request is not None:
                    on_request(current)
                else:
                    log.info("statistics: %s", describe_statistics(current))
            if now >= next_at:
                current = self.statistics()
                line = describe_statistics(current, last, now - last_at)
                log.info("statistics: %s", line)
                last, last_at = current, now
                next_at = now + (stats_interval or float("inf"))

        if not thread.is_alive():
            # The proxy failed (logged by its thread); nothing left to steer.
            self._closed = True
            if self._control is not None:
                self._control.close(0)
            return last
        final = self.statistics()
        self.stop()
        log.info("final statistics: %s", describe_statistics(final))
        return final

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the proxy and close its sockets; waits up to ``timeout``.

        Raises:
            Timeout: The proxy thread did not end in time.
        """
        if self._closed:
            return
        self._closed = True
        thread = self._thread
        if thread is None:
            for socket in (self._frontend, self._backend, self._steer):
                socket.close(0)
            self._close_guards()
            return
        try:
            self._command(b"TERMINATE", timeout)
        finally:
            assert self._control is not None
            self._control.close(0)
        thread.join(timeout)
        self._close_guards()
        if thread.is_alive():
            raise Timeout(f"forwarder still running after {timeout} s")
        log.info("forwarder stopped")

    close = stop
