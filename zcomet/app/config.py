"""The listener daemon's configuration file (TOML).

Example ``listeners.toml``::

    endpoints = ">tcp://127.0.0.1:5556"   # zcomet endpoint notation
    catalog = "definitions.toml"          # relative to this file
    log_level = "INFO"                    # optional
    python_path = ["."]                   # optional, relative to this file

    [[subscriptions]]
    channel = "escalation"                # a channel or wildcard pattern
    definition = "ticket_escalation"      # optional: only this definition
    handler = "pager:page_duty_officer"   # package.module:function
    concurrency = 1                       # optional: >1 runs a worker pool

    [security]                            # optional: CURVE, paths relative here
    keys = "keys/pager.key_secret"        # this listener's key pair
    server_key = "keys/forwarder.key"     # client of this server...
    # allowlist = "keys/senders"          # ...or a server accepting these keys

Every fault raises :class:`~zcomet.errors.ConfigError` naming the file and
the key (``subscriptions[0].handler``).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zcomet.app.keys import KeySettings
from zcomet.app.logs import level_from_name
from zcomet.core.catalog import Catalog
from zcomet.core.channels import Pattern
from zcomet.errors import ChannelError, ConfigError, DefinitionError
from zcomet.net.endpoints import Endpoint, parse_endpoints

__all__ = ["DaemonConfig", "SubscriptionConfig", "import_handler", "load_config"]

log = logging.getLogger(__name__)

_TOP_KEYS = {
    "catalog",
    "drain_timeout",
    "endpoints",
    "linger",
    "log_level",
    "max_body",
    "python_path",
    "security",
    "subscriptions",
}
_SECURITY_KEYS = {"allowlist", "keys", "server_key"}
_SUBSCRIPTION_KEYS = {"channel", "concurrency", "definition", "handler"}


@dataclass(frozen=True)
class SubscriptionConfig:
    """One ``[[subscriptions]]`` entry, checked.

    Attributes:
        channel: The channel or wildcard pattern.
        handler: The imported handler (sync or ``async def``).
        handler_path: The handler as written (``package.module:function``).
        definition: Only messages of this definition, if set.
        concurrency: Handler calls that may run at once (1: in order).
        key: Where it is in the file (``subscriptions[0]``), for messages.
    """

    channel: str
    handler: Callable[..., Any]
    handler_path: str
    definition: str | None = None
    concurrency: int = 1
    key: str = ""


@dataclass(frozen=True)
class DaemonConfig:
    """The whole configuration, checked, with the catalog loaded.

    Attributes:
        source: The configuration file.
        endpoints: Where the listener connects or binds.
        catalog: The definitions messages are validated against.
        subscriptions: What to listen to and which handler acts.
        log_level: A level name, if the file sets one.
        max_body: Largest body accepted, in bytes.
        linger: Seconds ``close`` may wait at exit.
        drain_timeout: Seconds to wait at exit for handlers still running.
        security: CURVE key settings from the ``[security]`` table.
    """

    source: Path
    endpoints: list[Endpoint]
    catalog: Catalog
    subscriptions: list[SubscriptionConfig]
    log_level: str | None = None
    max_body: int = 1024 * 1024
    linger: float = 1.0
    drain_timeout: float = 10.0
    extra_paths: list[str] = field(default_factory=list)
    security: KeySettings = field(default_factory=KeySettings)


def import_handler(path: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (the function may be dotted).

    Raises:
        ValueError: The path is malformed, the import fails or the object is
            not callable; the message says which.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected 'package.module:function', got {path!r}")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ValueError(
            f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no {attribute!r}") from None
    if not callable(target):
        raise ValueError(f"{path!r} is not callable")
    handler: Callable[..., Any] = target
    return handler


def _read(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=source) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", source=source) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from exc


def _get(
    table: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    source: str,
    where: str,
    default: Any = None,
    required: bool = False,
) -> Any:
    if key not in table:
        if required:
            raise ConfigError("required key is missing", source=source, key=where)
        return default
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = (
            " or ".join(k.__name__ for k in kind)
            if isinstance(kind, tuple)
            else kind.__name__
        )
        raise ConfigError(
            f"expected {names}, got {type(value).__name__}", source=source, key=where
        )
    return value


def _unknown(table: Mapping[str, Any], known: set[str], source: str, at: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise ConfigError(
            f"unknown key; expected one of {', '.join(sorted(known))}",
            source=source,
            key=f"{at}{extra[0]}",
        )


def load_config(path: str | Path, *, endpoints: str | None = None) -> DaemonConfig:
    """Read, check and resolve a daemon configuration file.

    The catalog path and ``python_path`` entries are relative to the file.
    ``python_path`` and the working directory are put on ``sys.path`` before
    handlers are imported.

    Args:
        path: The TOML file.
        endpoints: Endpoints to use instead of the file's (``--endpoint``).

    Raises:
        ConfigError: Anything wrong; the error names the file and the key.
    """
    path = Path(path)
    source = str(path)
    data = _read(path)
    _unknown(data, _TOP_KEYS, source, "")
    base = path.resolve().parent

    # Endpoints: the flag wins over the file.
    if endpoints is not None:
        spec: Any = endpoints
        key = "--endpoint"
    else:
        spec = _get(data, "endpoints", (str, list), source, "endpoints", required=True)
        key = "endpoints"
    try:
        parsed = parse_endpoints(spec, default="connect")
    except ConfigError as exc:
        raise ConfigError(exc.reason, source=source, key=key) from None

    # The catalog, relative to this file.
    catalog_path = base / _get(data, "catalog", str, source, "catalog", required=True)
    try:
        catalog = Catalog.load(catalog_path)
    except DefinitionError as exc:
        raise ConfigError(
            f"cannot load catalog: {exc}", source=source, key="catalog"
        ) from exc

    log_level = _get(data, "log_level", str, source, "log_level")
    if log_level is not None:
        try:
            level_from_name(log_level)
        except ValueError as exc:
            raise ConfigError(str(exc), source=source, key="log_level") from None
    max_body = _get(data, "max_body", int, source, "max_body", 1024 * 1024)
    linger = float(_get(data, "linger", (int, float), source, "linger", 1.0))
    drain = float(
        _get(data, "drain_timeout", (int, float), source, "drain_timeout", 10.0)
    )
    for key, number in (("max_body", max_body), ("linger", linger)):
        if number < 0:
            raise ConfigError("must not be negative", source=source, key=key)

    # Handlers import relative to python_path and the working directory.
    extra = _get(data, "python_path", list, source, "python_path", [])
    paths: list[str] = []
    for index, entry in enumerate(extra):
        if not isinstance(entry, str):
            raise ConfigError(
                "expected str", source=source, key=f"python_path[{index}]"
            )
        paths.append(str((base / entry).resolve()))
    for entry in [*reversed(paths), str(Path.cwd())]:
        if entry not in sys.path:
            sys.path.insert(0, entry)

    subscriptions = _subscriptions(data, catalog, source)
    security = _security(data, base, source)
    return DaemonConfig(
        source=path,
        endpoints=parsed,
        catalog=catalog,
        subscriptions=subscriptions,
        log_level=log_level,
        max_body=max_body,
        linger=linger,
        drain_timeout=drain,
        extra_paths=paths,
        security=security,
    )


def _security(data: Mapping[str, Any], base: Path, source: str) -> KeySettings:
    """The ``[security]`` table: key paths, relative to the config file."""
    table = _get(data, "security", dict, source, "security", {})
    unknown = set(table) - _SECURITY_KEYS
    if unknown:
        raise ConfigError(
            f"unknown key; expected one of {', '.join(sorted(_SECURITY_KEYS))}",
            source=source,
            key=f"security.{sorted(unknown)[0]}",
        )
    values: dict[str, str | None] = {}
    for key in sorted(_SECURITY_KEYS):
        value = _get(table, key, str, source, f"security.{key}")
        if value is not None and not (key == "server_key" and len(value) == 40):
            value = str(base / value)
        values[key] = value
    return KeySettings(**values)


def _subscriptions(
    data: Mapping[str, Any], catalog: Catalog, source: str
) -> list[SubscriptionConfig]:
    tables = _get(data, "subscriptions", list, source, "subscriptions", required=True)
    if not tables:
        raise ConfigError("at least one is needed", source=source, key="subscriptions")

    result: list[SubscriptionConfig] = []
    for index, table in enumerate(tables):
        at = f"subscriptions[{index}]"
        if not isinstance(table, dict):
            raise ConfigError("expected a table", source=source, key=at)
        _unknown(table, _SUBSCRIPTION_KEYS, source, f"{at}.")

        channel = _get(table, "channel", str, source, f"{at}.channel", required=True)
        try:
            Pattern(channel)
        except ChannelError as exc:
            raise ConfigError(str(exc), source=source, key=f"{at}.channel") from None

        definition = _get(table, "definition", str, source, f"{at}.definition")
        if definition is not None and definition not in catalog:
            raise ConfigError(
                f"definition {definition!r} is not in the catalog",
                source=source,
                key=f"{at}.definition",
            )

        concurrency = _get(table, "concurrency", int, source, f"{at}.concurrency", 1)
        if concurrency < 1:
            raise ConfigError(
                "must be 1 or more", source=source, key=f"{at}.concurrency"
            )

        handler_path = _get(
            table, "handler", str, source, f"{at}.handler", required=True
        )
        try:
            handler = import_handler(handler_path)
        except ValueError as exc:
            raise ConfigError(str(exc), source=source, key=f"{at}.handler") from None
        if inspect.isclass(handler):
            raise ConfigError(
                "expected a function, got a class", source=source, key=f"{at}.handler"
            )

        result.append(
            SubscriptionConfig(
                channel=channel,
                handler=handler,
                handler_path=handler_path,
                definition=definition,
                concurrency=concurrency,
                key=at,
            )
        )
    return result
