"""CURVE encryption and authentication for zcomet sockets, fail-closed.

Keys are files in ZeroMQ's certificate format: ``NAME.key`` holds the public
key, ``NAME.key_secret`` both keys (:func:`generate_keys` writes the pair).
An allowlist is a directory of public key files.

The rule: the **server** is the socket that authenticates its peers; the
**client** proves its key to it and checks the server's public key. The
role is chosen per socket and does not depend on binding or connecting,
though the socket that binds is usually the server (a forwarder's two sides,
a sender that binds). A server needs its own key pair, an allowlist and a
running :class:`Authenticator`; a client needs its own key pair and the
server's public key.

Fail-closed, in four places:

- an empty, missing or unreadable allowlist raises
  :class:`~zcomet.errors.SecurityError` before any socket exists;
- a server socket refuses to bind or connect unless its authenticator is
  running and holds its allowlist;
- every server socket sets ``ZMQ_ZAP_ENFORCE_DOMAIN``: if no ZAP handler
  answers, libzmq refuses the peer instead of accepting it unauthenticated;
- when the authenticator stops (or its thread dies), every server socket
  that depends on it is closed; a sender then raises ``SecurityError``.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from zcomet.errors import SecurityError
from zcomet.net.endpoints import Endpoint
from zcomet.net.monitor import Guard

__all__ = [
    "AuthStats",
    "Authenticator",
    "KeyPair",
    "Security",
    "generate_keys",
    "load_allowlist",
    "load_keys",
    "public_key",
]

log = logging.getLogger(__name__)

_domains = itertools.count(1)

# Seconds start() waits for a previous authenticator's endpoint to be released.
_START_TIMEOUT = 2.0


@dataclass(frozen=True)
class KeyPair:
    """A CURVE key pair, both keys Z85-encoded (40 characters)."""

    public: bytes
    secret: bytes

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.decode()!r}, secret=...)"


def generate_keys(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """Write a new key pair as ``NAME.key`` and ``NAME.key_secret``.

    The secret file is readable by its owner only. Existing files are never
    overwritten.

    Returns:
        The public and the secret key file.

    Raises:
        SecurityError: A file exists already, or the directory is not writable.
    """
    folder = Path(directory)
    public_file, secret_file = folder / f"{name}.key", folder / f"{name}.key_secret"
    for path in (public_file, secret_file):
        if path.exists():
            raise SecurityError(f"{path} exists; not overwriting a key")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        zmq.auth.create_certificates(folder, name)
        secret_file.chmod(0o600)
    except OSError as exc:
        raise SecurityError(f"cannot write keys in {folder}: {exc}") from exc
    log.info("wrote key pair %s and %s", public_file, secret_file)
    return public_file, secret_file


def _is_z85_key(text: str | bytes) -> bool:
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) != 40:
        return False
    try:
        z85.decode(raw)
    except (ValueError, KeyError):
        return False
    return True


def load_keys(source: str | os.PathLike[str] | KeyPair) -> KeyPair:
    """Load a key pair from a ``.key_secret`` file.

    Raises:
        SecurityError: The file is missing, unreadable, or holds no secret key.
    """
    if isinstance(source, KeyPair):
        return source
    try:
        public, secret = zmq.auth.load_certificate(source)
    except (OSError, ValueError) as exc:
        raise SecurityError(f"cannot read key pair {source}: {exc}") from exc
    if secret is None:
        raise SecurityError(
            f"{source} holds no secret key; give the NAME.key_secret file"
        )
    if not (_is_z85_key(public) and _is_z85_key(secret)):
        raise SecurityError(f"{source} does not hold valid CURVE keys")
    return KeyPair(public, secret)


def public_key(source: str | bytes | os.PathLike[str]) -> bytes:
    """A public key from a key file or from its 40-character Z85 text.

    Raises:
        SecurityError: Neither a readable key file nor a Z85 key.
    """
    if isinstance(source, bytes | str) and _is_z85_key(source):
        return source.encode() if isinstance(source, str) else source
    path = os.fsdecode(source)
    try:
        key, _ = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise SecurityError(f"cannot read public key {path}: {exc}") from exc
    if not _is_z85_key(key):
        raise SecurityError(f"{path} does not hold a valid CURVE public key")
    return key


def load_allowlist(directory: str | os.PathLike[str]) -> frozenset[bytes]:
    """The public keys (Z85) of every ``*.key`` file in ``directory``.

    Raises:
        SecurityError: The directory is missing or unreadable, a key file is
            malformed, or there is no key at all (fail-closed).
    """
    folder = Path(directory)
    try:
        files = sorted(folder.glob("*.key")) if folder.is_dir() else None
        if files is None:
            raise SecurityError(f"allowlist {folder} is not a readable directory")
        keys = frozenset(public_key(path) for path in files)
        os.listdir(folder)  # glob hides a directory we may not list
    except OSError as exc:
        raise SecurityError(f"cannot read allowlist {folder}: {exc}") from exc
    if not keys:
        raise SecurityError(f"allowlist {folder} holds no *.key file; refusing all")
    return keys


@dataclass
class AuthStats:
    """What the authenticator decided for one allowlist.

    Attributes:
        keys: Keys in the allowlist now.
        accepted: Handshakes it accepted.
        refused: Handshakes it refused (key not in the allowlist).
        reloads: Successful reloads.
    """

    keys: int = 0
    accepted: int = 0
    refused: int = 0
    reloads: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


class _Domain:
    """One allowlist, answering the ZAP handler for one ZAP domain."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.directory = directory
        self.keys = load_allowlist(directory)
        self.stats = AuthStats(keys=len(self.keys))
        self.address = ""

    def callback(self, domain: str, key: bytes) -> bool:
        """pyzmq's credentials-provider hook: is this Z85 key allowed?"""
        if key in self.keys:
            self.stats.accepted += 1
            log.debug("allowed key %s on %s", key.decode(), domain)
            return True
        self.stats.refused += 1
        log.warning(
            "refused peer %s on %s: unknown key %s (not in allowlist %s)",
            self.address or "?",
            domain,
            key.decode(errors="replace"),
            self.directory,
        )
        return False


class _ZapThread(ThreadAuthenticator):
    """pyzmq's threaded ZAP handler, remembering each request's peer address."""

    def __init__(self, context: zmq.Context[Any], domains: dict[str, _Domain]) -> None:
        super().__init__(context, log=logging.getLogger(f"{__name__}.zap"))
        self._zc_domains = domains

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        if len(msg) >= 4:
            domain = self._zc_domains.get(msg[2].decode(errors="replace"))
            if domain is not None:
                domain.address = msg[3].decode(errors="replace")
        await super().handle_zap_message(msg)


class Authenticator:
    """The ZAP handler of one ZeroMQ context, with one allowlist per domain.

    ZeroMQ allows one authenticator per context; server sockets on that
    context name their allowlist by ZAP domain. Start it before any server
    socket binds; stopping it closes those sockets.

    Args:
        context: The context to serve; the process-wide one by default. An
            asyncio socket's context (``zmq.asyncio.Context.instance()``) is
            a different context and needs its own authenticator.

    Example:
        >>> with Authenticator() as auth:
        ...     security = Security.server("server.key_secret", "allow/", auth)
    """

    def __init__(self, context: zmq.Context[Any] | None = None) -> None:
        self.context: zmq.Context[Any] = context or zmq.Context.instance()
        self._domains: dict[str, _Domain] = {}
        self._zap: _ZapThread | None = None
        self._guards: weakref.WeakSet[Guard] = weakref.WeakSet()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the ZAP handler thread is alive."""
        zap = self._zap
        return zap is not None and zap.is_alive()

    def start(self) -> Authenticator:
        """Start the ZAP handler thread; returns self.

        Raises:
            SecurityError: Another authenticator already serves this context.
        """
        with self._lock:
            if self.running:
                return self
            # A stopped authenticator's ZAP endpoint is released a moment
            # after its socket closes; wait for that, not for ever.
            deadline = time.monotonic() + _START_TIMEOUT
            while True:
                zap = _ZapThread(self.context, self._domains)
                try:
                    zap.start()
                    break
                except zmq.ZMQError as exc:
                    zap.stop()
                    if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                        raise SecurityError(
                            f"cannot start the authenticator: {exc} (one per context)"
                        ) from exc
                    time.sleep(0.01)
            for domain in self._domains.values():
                zap.configure_curve_callback(domain.name, domain)
            self._zap = zap
        log.info("authenticator started (%d allowlists)", len(self._domains))
        return self

    def stop(self) -> None:
        """Close every server socket that depends on this, then stop."""
        for guard in list(self._guards):
            guard.lose("the authenticator stopped")
        with self._lock:
            zap, self._zap = self._zap, None
        if zap is not None:
            zap.stop()
            log.info("authenticator stopped")

    def allow(self, domain: str, directory: str | os.PathLike[str]) -> AuthStats:
        """Load an allowlist for a ZAP domain (replacing any before).

        Raises:
            SecurityError: The allowlist is empty or unreadable.
        """
        entry = _Domain(domain, Path(directory))
        with self._lock:
            self._domains[domain] = entry
            if self._zap is not None:
                self._zap.configure_curve_callback(domain, entry)
        log.info(
            "allowlist %s for %s: %d keys", entry.directory, domain, len(entry.keys)
        )
        return entry.stats

    def holds(self, domain: str) -> bool:
        """Whether a non-empty allowlist is loaded for ``domain``."""
        entry = self._domains.get(domain)
        return entry is not None and bool(entry.keys)

    def reload(self, domain: str | None = None) -> dict[str, int]:
        """Read the allowlists again from their directories.

        New handshakes are checked against the new keys at once; peers already
        connected with a removed key stay connected until they reconnect.
        If a directory became empty or unreadable, that domain refuses every
        new peer until a reload succeeds (fail-closed) and this raises.

        Returns:
            The number of keys per domain after the reload.

        Raises:
            SecurityError: An allowlist could not be loaded.
        """
        names = list(self._domains) if domain is None else [domain]
        failures: list[str] = []
        for name in names:
            entry = self._domains[name]
            try:
                keys = load_allowlist(entry.directory)
            except SecurityError as exc:
                entry.keys = frozenset()
                entry.stats.keys = 0
                failures.append(str(exc))
                log.error("reload of %s failed, refusing all new peers: %s", name, exc)
                continue
            removed, added = entry.keys - keys, keys - entry.keys
            entry.keys = keys
            entry.stats.keys = len(keys)
            entry.stats.reloads += 1
            log.info(
                "reloaded %s: %d keys (+%d, -%d)",
                name,
                len(keys),
                len(added),
                len(removed),
            )
            if removed:
                log.warning(
                    "%s: %d keys removed; peers already connected with them stay "
                    "connected until they reconnect",
                    name,
                    len(removed),
                )
        if failures:
            raise SecurityError("; ".join(failures))
        return {name: len(self._domains[name].keys) for name in names}

    def stats(self, domain: str) -> AuthStats:
        """The counters of one domain's allowlist."""
        return self._domains[domain].stats

    def _watch(self, guard: Guard) -> None:
        self._guards.add(guard)

    def __enter__(self) -> Authenticator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Security:
    """How a socket is secured with CURVE: as a server or as a client.

    Build one with :meth:`server` or :meth:`client` and pass it as
    ``security=`` to a sender or listener (or ``frontend_security`` /
    ``backend_security`` to a forwarder). One object may secure several
    sockets; a server's allowlist is shared by all of them.
    """

    def __init__(
        self,
        keys: KeyPair,
        *,
        server_key: bytes | None = None,
        authenticator: Authenticator | None = None,
        domain: str | None = None,
    ) -> None:
        if (server_key is None) == (authenticator is None):
            raise SecurityError("give either a server key (client) or an authenticator")
        self.keys = keys
        self.server_key = server_key
        self.authenticator = authenticator
        self.domain = domain

    @classmethod
    def server(
        cls,
        keys: str | os.PathLike[str] | KeyPair,
        allowlist: str | os.PathLike[str],
        authenticator: Authenticator,
        *,
        domain: str | None = None,
    ) -> Security:
        """A server: authenticates peers against ``allowlist``.

        Args:
            keys: This socket's ``.key_secret`` file or key pair.
            allowlist: A directory of the peers' public ``.key`` files.
            authenticator: The authenticator of the socket's context.
            domain: The ZAP domain; a fresh one by default.

        Raises:
            SecurityError: Unreadable keys, or an empty or unreadable allowlist.
        """
        pair = load_keys(keys)
        name = domain or f"zcomet-{os.getpid()}-{next(_domains)}"
        authenticator.allow(name, allowlist)
        return cls(pair, authenticator=authenticator, domain=name)

    @classmethod
    def client(
        cls,
        keys: str | os.PathLike[str] | KeyPair,
        server_key: str | bytes | os.PathLike[str],
    ) -> Security:
        """A client: proves ``keys`` to a server whose public key it checks.

        Args:
            keys: This socket's ``.key_secret`` file or key pair.
            server_key: The server's ``.key`` file or Z85 public key.
        """
        return cls(load_keys(keys), server_key=public_key(server_key))

    @property
    def is_server(self) -> bool:
        """Whether sockets secured by this authenticate their peers."""
        return self.authenticator is not None

    def reload(self) -> int:
        """Reload a server's allowlist from its directory; returns its size.

        Raises:
            SecurityError: The allowlist became empty or unreadable (new peers
                are then refused until a reload succeeds), or this is a client.
        """
        if self.authenticator is None or self.domain is None:
            raise SecurityError("only a server's allowlist can be reloaded")
        return self.authenticator.reload(self.domain)[self.domain]

    @property
    def stats(self) -> AuthStats | None:
        """The authenticator's counters for a server's allowlist."""
        if self.authenticator is None or self.domain is None:
            return None
        return self.authenticator.stats(self.domain)

    def secure(
        self,
        socket: zmq.Socket[Any],
        name: str,
        endpoints: list[Endpoint],
        on_lost: Callable[[str], None] | None = None,
    ) -> Guard:
        """Set CURVE options on a socket before it binds or connects.

        Args:
            socket: The socket, not yet bound or connected.
            name: Its owner, for the log.
            endpoints: Its endpoints (a client waits for one handshake per
                connect endpoint).
            on_lost: Called if the authenticator stops; it closes the owner.

        Returns:
            The socket's guard: handshake counters and ``wait_secure``.

        Raises:
            SecurityError: A server whose authenticator is not running, serves
                another context, or lacks the allowlist.
        """
        socket.setsockopt(zmq.CURVE_PUBLICKEY, self.keys.public)
        socket.setsockopt(zmq.CURVE_SECRETKEY, self.keys.secret)
        auth = self.authenticator
        if auth is None:
            assert self.server_key is not None
            socket.setsockopt(zmq.CURVE_SERVERKEY, self.server_key)
            connects = sum(1 for endpoint in endpoints if not endpoint.bind)
            return Guard(socket, name, server=False, expected=connects)

        assert self.domain is not None
        if not auth.running:
            raise SecurityError(
                f"{name}: the authenticator is not running; refusing to start a "
                "CURVE server (start it first)"
            )
        if auth.context.underlying != socket.context.underlying:
            raise SecurityError(
                f"{name}: the authenticator serves another ZeroMQ context"
            )
        if not auth.holds(self.domain):
            raise SecurityError(f"{name}: no allowlist loaded for {self.domain}")
        socket.setsockopt(zmq.CURVE_SERVER, 1)
        socket.setsockopt(zmq.ZAP_DOMAIN, self.domain.encode())
        # Without a ZAP handler, libzmq would accept any CURVE client.
        socket.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        guard = Guard(socket, name, server=True, authority=auth, on_lost=on_lost)
        auth._watch(guard)
        return guard


def require_guard(guard: Guard | None, owner: str) -> Guard:
    """The guard of a secured socket, or a SecurityError for a plain one."""
    if guard is None:
        raise SecurityError(f"{owner} is not secured; pass security=")
    return guard
