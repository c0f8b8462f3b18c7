"""The command line's side of CURVE security: keygen and the key options.

One socket's settings come from options, else from environment variables:

- ``--keys FILE`` / ``ZCOMET_KEYS``: this socket's ``NAME.key_secret``;
- ``--server-key FILE|Z85`` / ``ZCOMET_SERVER_KEY``: makes it a client of
  the server with that public key;
- ``--allowlist DIR`` / ``ZCOMET_ALLOWLIST``: makes it a server accepting the
  public keys in DIR.

The forwarder secures each side on its own: ``--frontend-keys``,
``--frontend-allowlist`` (``ZCOMET_FRONTEND_KEYS``, ``ZCOMET_FRONTEND_ALLOWLIST``)
and the same for ``backend``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from zcomet.errors import SecurityError
from zcomet.net.security import Authenticator, Security, generate_keys

__all__ = [
    "KeySettings",
    "add_key_options",
    "add_keygen_options",
    "run_keygen",
    "settings_from_args",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeySettings:
    """Where one socket's keys are; all None means no CURVE.

    Attributes:
        keys: This socket's ``.key_secret`` file.
        server_key: The server's public key file or Z85 text (client role).
        allowlist: A directory of allowed public keys (server role).
    """

    keys: str | None = None
    server_key: str | None = None
    allowlist: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether any key setting is given."""
        return any((self.keys, self.server_key, self.allowlist))

    def build(
        self, context: zmq.Context[Any] | None = None
    ) -> tuple[Security | None, Authenticator | None]:
        """The socket's ``Security``, and the authenticator a server started.

        Raises:
            SecurityError: Keys missing, both roles given, or a bad allowlist.
        """
        if not self.enabled:
            return None, None
        if self.keys is None:
            raise SecurityError("CURVE needs this socket's own keys (--keys)")
        if self.server_key and self.allowlist:
            raise SecurityError(
                "give --server-key (client) or --allowlist (server), not both"
            )
        if self.server_key:
            return Security.client(self.keys, self.server_key), None
        if not self.allowlist:
            raise SecurityError(
                "CURVE needs --server-key (client) or --allowlist (server)"
            )
        auth = Authenticator(context)
        try:
            security = Security.server(self.keys, self.allowlist, auth)
            auth.start()
        except BaseException:
            auth.stop()
            raise
        return security, auth


def add_keygen_options(parser: argparse.ArgumentParser) -> None:
    """``zcomet keygen NAME [--dir DIR]``."""
    parser.add_argument("name", metavar="NAME", help="writes NAME.key, NAME.key_secret")
    parser.add_argument(
        "--dir", default=".", metavar="DIR", help="where to write (default: here)"
    )


def run_keygen(args: argparse.Namespace) -> int:
    """Write a key pair; print the files and the public key."""
    try:
        public, secret = generate_keys(args.dir, args.name)
    except SecurityError as exc:
        print(f"zcomet keygen: {exc}", file=sys.stderr)
        return 2
    key = public.read_text().split('public-key = "', 1)[1].split('"', 1)[0]
    print(f"public key  {public}  ({key})")
    print(f"secret key  {secret}  (keep it private)")
    return 0


def add_key_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Add ``--[PREFIX-]keys``, ``--[PREFIX-]server-key``, ``--[PREFIX-]allowlist``."""
    dash = f"{prefix}-" if prefix else ""
    env = f"ZCOMET_{prefix.upper()}_" if prefix else "ZCOMET_"
    group = parser.add_argument_group(
        f"CURVE security{' (' + prefix + ')' if prefix else ''}"
    )
    group.add_argument(
        f"--{dash}keys",
        metavar="FILE",
        help=f"this socket's NAME.key_secret (env {env}KEYS)",
    )
    group.add_argument(
        f"--{dash}server-key",
        metavar="KEY",
        help=f"client: the server's NAME.key or Z85 key (env {env}SERVER_KEY)",
    )
    group.add_argument(
        f"--{dash}allowlist",
        metavar="DIR",
        help=f"server: directory of allowed public keys (env {env}ALLOWLIST)",
    )


def settings_from_args(args: argparse.Namespace, prefix: str = "") -> KeySettings:
    """The settings given by options, else by environment variables."""
    attr = f"{prefix}_" if prefix else ""
    env = f"ZCOMET_{prefix.upper()}_" if prefix else "ZCOMET_"

    def pick(name: str) -> str | None:
        value = getattr(args, f"{attr}{name}", None)
        return value or os.environ.get(f"{env}{name.upper()}") or None

    return KeySettings(pick("keys"), pick("server_key"), pick("allowlist"))


def describe(path: str | None) -> str:
    """A path for the log, or a dash."""
    return str(Path(path)) if path else "-"
