"""One endpoint notation for every socket zcomet opens.

An endpoint is a ZeroMQ address with an optional one-character prefix saying
what the socket does with it:

- ``@tcp://127.0.0.1:5555`` binds,
- ``>tcp://127.0.0.1:5555`` connects,
- ``tcp://127.0.0.1:5555`` does what its role does by default (a sender and a
  forwarder bind, a listener connects).

Several endpoints are given as a list or as one comma-separated string:
``"@ipc:///tmp/a.sock,>tcp://10.0.0.2:5555"``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import zmq

from zcomet.errors import ConfigError

__all__ = ["Endpoint", "attach", "parse_endpoints"]

log = logging.getLogger(__name__)

_TRANSPORTS = ("tcp://", "ipc://", "inproc://", "pgm://", "epgm://", "ws://")


@dataclass(frozen=True)
class Endpoint:
    """A ZeroMQ address and whether to bind or connect to it."""

    address: str
    bind: bool

    def __str__(self) -> str:
        return ("@" if self.bind else ">") + self.address


def parse_endpoints(
    spec: str | Endpoint | Iterable[str | Endpoint],
    default: Literal["bind", "connect"],
) -> list[Endpoint]:
    """Parse endpoints in zcomet's notation.

    Args:
        spec: One endpoint, a comma-separated string of them, or a list.
        default: What a bare address does.

    Raises:
        ConfigError: An address has no known transport, or none was given.
    """
    if isinstance(spec, Endpoint):
        return [spec]
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    endpoints: list[Endpoint] = []
    for item in items:
        if isinstance(item, Endpoint):
            endpoints.append(item)
            continue
        text = item.strip()
        bind = default == "bind"
        if text[:1] in ("@", ">"):
            bind = text[0] == "@"
            text = text[1:]
        if not text.startswith(_TRANSPORTS):
            raise ConfigError(
                f"endpoint {item!r} has no known transport; expected e.g. "
                "'@tcp://127.0.0.1:5555' (bind) or '>ipc:///tmp/zc.sock' (connect)"
            )
        endpoints.append(Endpoint(text, bind))
    if not endpoints:
        raise ConfigError("no endpoint given")
    return endpoints


def attach(socket: zmq.Socket[bytes], endpoints: Iterable[Endpoint]) -> list[str]:
    """Bind or connect a socket to each endpoint; return the addresses in use.

    A bind to ``tcp://host:*`` picks a free port; the returned address names it.

    Raises:
        ConfigError: ZeroMQ refused the address (in use, malformed...).
    """
    addresses: list[str] = []
    for endpoint in endpoints:
        try:
            if endpoint.bind:
                socket.bind(endpoint.address)
                address = socket.getsockopt_string(zmq.LAST_ENDPOINT)
                log.info("bound %s", address)
            else:
                socket.connect(endpoint.address)
                address = endpoint.address
                log.info("connecting to %s", address)
        except zmq.ZMQError as exc:
            verb = "bind to" if endpoint.bind else "connect to"
            raise ConfigError(f"cannot {verb} {endpoint.address}: {exc}") from exc
        addresses.append(address)
    return addresses
