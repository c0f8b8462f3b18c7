"""``zcomet send``: validate JSON data from the shell and send it.

Every message is read and validated before the socket opens, so bad JSON or
invalid data sends nothing at all.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, TextIO

from zcomet.app.jsonio import error_lines, loads_object
from zcomet.app.keys import settings_from_args
from zcomet.core.catalog import Catalog
from zcomet.core.channels import check_channel
from zcomet.errors import (
    ChannelError,
    ConfigError,
    SecurityError,
    Timeout,
    ValidationError,
)
from zcomet.net.sender import Sender

__all__ = ["EXIT_DATA", "EXIT_USAGE", "read_messages", "run_send"]

log = logging.getLogger(__name__)

#: Exit code for bad input data (JSON or validation) and unmet waits.
EXIT_DATA = 1

#: Exit code for a wrong command line or configuration.
EXIT_USAGE = 2


def read_messages(text: str | None, stdin: TextIO, lines: bool) -> list[dict[str, Any]]:
    """The messages to send: the argument, or stdin (one per line with ``lines``).

    Raises:
        ValueError: Some input is not a JSON object; the message says where.
    """
    if text is not None and text != "-":
        return [loads_object(text)]
    source = stdin.read()
    if not lines:
        return [loads_object(source)]
    messages: list[dict[str, Any]] = []
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip():
            try:
                messages.append(loads_object(line))
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
    return messages


def _fail(message: str, code: int) -> int:
    print(f"zcomet send: error: {message}", file=sys.stderr)
    return code


def run_send(args: argparse.Namespace, catalog: Catalog) -> int:
    """Run ``zcomet send`` with parsed arguments; returns the exit code."""
    try:
        channel = check_channel(args.channel)
    except ChannelError as exc:
        return _fail(str(exc), EXIT_USAGE)
    definition = catalog.get(args.definition)
    if definition is None:
        known = ", ".join(d.technical_name for d in catalog) or "none"
        return _fail(
            f"no definition {args.definition!r} in {args.catalog} (it has: {known})",
            EXIT_USAGE,
        )

    # 1. Read and validate everything; nothing is sent if any of it is wrong.
    try:
        messages = read_messages(args.data, sys.stdin, args.lines)
    except ValueError as exc:
        return _fail(f"{exc}; nothing sent", EXIT_DATA)
    if not messages:
        return _fail("no message to send (empty input)", EXIT_DATA)
    validated: list[dict[str, Any]] = []
    for number, data in enumerate(messages, start=1):
        try:
            validated.append(definition.validate(data))
        except ValidationError as exc:
            where = f" (line {number})" if args.lines else ""
            details = "\n".join(f"  {line}" for line in error_lines(exc))
            return _fail(
                f"invalid {definition.technical_name!r} message{where}; "
                f"nothing sent:\n{details}",
                EXIT_DATA,
            )

    # 2. Open the socket, wait for listeners if asked, send, flush.
    auth = None
    try:
        security, auth = settings_from_args(args).build()
        sender = Sender(args.endpoint, catalog, security=security)
    except (ConfigError, SecurityError) as exc:
        if auth is not None:
            auth.stop()
        return _fail(str(exc), EXIT_USAGE)
    try:
        if security is not None and not security.is_server:
            # A wrong server key is a clear error here, not a silent hang.
            try:
                sender.wait_secure(args.timeout)
            except SecurityError as exc:
                return _fail(f"{exc}; nothing sent", EXIT_DATA)
        if args.wait_listeners > 0:
            try:
                sender.wait_for_listeners(channel, args.wait_listeners, args.timeout)
            except Timeout as exc:
                return _fail(f"{exc}; nothing sent", EXIT_DATA)
        for data in validated:
            sequence = sender.send(channel, definition, data)
            log.debug("sent #%d", sequence)
    finally:
        sender.close(linger=args.linger)
        if auth is not None:
            auth.stop()

    if not args.quiet:
        print(
            f"zcomet send: sent {len(validated)} {definition.technical_name} "
            f"message(s) on {channel}",
            file=sys.stderr,
        )
    return 0
