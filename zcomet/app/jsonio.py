"""Natural Python values to JSON and back, for the command line.

``zcomet spy`` prints message data as JSON and ``zcomet send`` reads it. Both
use the JSON-like forms a sender accepts, so what spy prints can be sent
again: date-times as ISO 8601 strings, durations as seconds, bytes as base64.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from zcomet.errors import ValidationError

__all__ = ["dumps", "error_lines", "loads_object", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """``value`` with every natural value replaced by its JSON-like form."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(item) for item in value), key=repr)
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    return str(value)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON text (UTF-8 kept, not escaped)."""
    separators = None if indent else (",", ":")
    return json.dumps(
        to_jsonable(value), ensure_ascii=False, indent=indent, separators=separators
    )


def loads_object(text: str) -> dict[str, Any]:
    """Parse one JSON object.

    Raises:
        ValueError: The text is not JSON, or not a JSON object; the message
            says where.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def error_lines(error: ValidationError) -> list[str]:
    """Per-field messages as ``path: message`` lines (``events.0.at: ...``)."""
    lines: list[str] = []

    def walk(messages: Any, path: str) -> None:
        if isinstance(messages, Mapping):
            for key, item in messages.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(messages, list | tuple):
            for item in messages:
                walk(item, path)
        else:
            lines.append(f"{path or '_schema'}: {messages}")

    walk(error.messages, "")
    return lines or [str(error)]
