"""Field types of declared definitions: declarations and values.

A declared field is read from a mapping (``{"type": "text", "max_length": 32}``)
into a :class:`FieldSpec`; a list of rows into a :class:`ListSpec`. Each spec
turns into a marshmallow field (:mod:`zcomet.core.schema_fields`), which is the
source of truth for what a value may be. The fast path in
:mod:`zcomet.core.compiled` builds msgspec types from the same specs and reuses
the small helpers here (:func:`to_utc`, :func:`to_timedelta`,
:func:`wire_seconds`), so both paths share one meaning.

Parsing of ISO 8601 date-time and duration strings, base64 file content and
file mappings is delegated to :func:`msgspec.convert` in both paths, so there
is one parser, not two that could drift apart.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Final

import marshmallow as ma
import msgspec

from zcomet.errors import DefinitionError

__all__ = [
    "ALIASES",
    "DURATION_LIMIT",
    "FLOAT_MAX",
    "INT_MAX",
    "INT_MIN",
    "TYPE_NAMES",
    "AwareDatetime",
    "DurationIn",
    "FieldSpec",
    "File",
    "ListSpec",
    "Reject",
    "full_pattern",
    "is_technical_name",
    "json_value",
    "parse_field",
    "parse_list",
    "to_timedelta",
    "to_utc",
    "wire_seconds",
]

UTC: Final = dt.UTC

#: Integers travel as msgpack int64; outside that range they are rejected.
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1

#: Largest finite float; numbers outside +-FLOAT_MAX (inf) and NaN are rejected.
FLOAT_MAX: Final = sys.float_info.max

#: Durations are limited to +-999,999,999 days, the range of ``timedelta``.
DURATION_LIMIT: Final = 999_999_999 * 86_400
_TD_LIMIT: Final = dt.timedelta(seconds=DURATION_LIMIT)

#: Type names a definitions file may use.
TYPE_NAMES: Final = (
    "boolean",
    "choice",
    "choice_set",
    "datetime",
    "duration",
    "file",
    "integer",
    "number",
    "rich_text",
    "text",
)

#: Other spellings of type names, mapped to the canonical one.
ALIASES: Final = {"yes_no": "boolean"}

_CONSTRAINTS: Final[dict[str, frozenset[str]]] = {
    "boolean": frozenset(),
    "choice": frozenset({"choices"}),
    "choice_set": frozenset({"choices", "min_length", "max_length"}),
    "datetime": frozenset(),
    "duration": frozenset({"min", "max"}),
    "file": frozenset({"min_length", "max_length"}),
    "integer": frozenset({"min", "max"}),
    "number": frozenset({"min", "max"}),
    "rich_text": frozenset({"min_length", "max_length"}),
    "text": frozenset({"min_length", "max_length", "pattern"}),
}
_COMMON_KEYS: Final = frozenset({"type", "required", "default", "description"})
_LIST_KEYS: Final = frozenset(
    {"fields", "required", "min_rows", "max_rows", "description"}
)
_TECHNICAL_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")

#: A timezone-aware date-time; strings are parsed as RFC 3339.
AwareDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]

#: What a duration may be given as: seconds, a timedelta or an ISO 8601 string.
DurationIn = (
    Annotated[float, msgspec.Meta(ge=-DURATION_LIMIT, le=DURATION_LIMIT)] | dt.timedelta
)


class File(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """The value of a ``file`` field: content with its name and media type.

    Senders may also give a mapping with the same three keys, ``content``
    being bytes-like or a base64 string.
    """

    name: str
    media_type: str
    content: bytes


class Reject(ValueError):
    """A value failed a check that both paths run in Python.

    Attributes:
        message: What is wrong, phrased for a person.
        key: The field's key (dotted for list fields), once known.
    """

    def __init__(self, message: str, key: str = "") -> None:
        self.message = message
        self.key = key
        super().__init__(f"{message} - at `$.{key}`" if key else message)


def is_technical_name(name: object) -> bool:
    """Tell whether ``name`` is a valid technical name (``[a-z][a-z0-9_]*``)."""
    return isinstance(name, str) and _TECHNICAL_NAME.fullmatch(name) is not None


def full_pattern(pattern: str) -> str:
    """Anchor ``pattern`` so that a search must match the whole string."""
    return rf"\A(?:{pattern})\Z"


def to_utc(value: dt.datetime) -> dt.datetime:
    """Return an aware date-time in UTC; raise :class:`Reject` on overflow."""
    if value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise Reject("Date-time is out of range in UTC.") from None


def to_timedelta(value: float | dt.timedelta) -> dt.timedelta:
    """Turn seconds (as converted by msgspec) or a timedelta into a timedelta."""
    if isinstance(value, dt.timedelta):
        if -_TD_LIMIT <= value <= _TD_LIMIT:
            return value
        raise Reject("Duration is out of range.")
    return dt.timedelta(0, value)  # positional: faster than seconds=value


def wire_seconds(value: dt.timedelta) -> int | float:
    """Seconds of a duration for the wire: an int when whole, else a float."""
    if value.microseconds:
        return value.total_seconds()
    return value.days * 86_400 + value.seconds


def _utf8(value: str) -> bool:
    """Tell whether a str can be encoded (no lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


# --- Declarations -----------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """A declared field.

    Attributes:
        name: The field's key in the message.
        type: Canonical type name (one of :data:`TYPE_NAMES`).
        required: Whether the key must be present and not null.
        default: Natural value used when an optional field is absent or null;
            ``None`` when the field has no default.
        description: Free text for people.
        min_length: Least length (code points, items or content bytes).
        max_length: Greatest length.
        pattern: Regular expression the whole text must match.
        min: Least value (seconds for durations).
        max: Greatest value.
        choices: Allowed values of a choice or choice set.
    """

    name: str
    type: str
    required: bool = True
    default: Any = None
    description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min: int | float | None = None
    max: int | float | None = None
    choices: tuple[str, ...] | None = None

    def default_factory(self) -> Callable[[], Any]:
        """A callable returning a fresh default (lists are copied)."""
        default = self.default
        if isinstance(default, list):
            return lambda: list(default)
        return lambda: default

    def to_dict(self) -> dict[str, Any]:
        """The canonical, JSON-able declaration."""
        out: dict[str, Any] = {"type": self.type, "required": self.required}
        for key in sorted(_CONSTRAINTS[self.type]):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if key == "choices" else value
        if self.default is not None:
            out["default"] = json_value(self.default)
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class ListSpec:
    """A declared list of rows.

    Attributes:
        name: The list's key in the message.
        fields: The fields of each row.
        required: Whether the key must be present (an absent or null optional
            list reads as ``[]``).
        min_rows: Least number of rows when the list is given.
        max_rows: Greatest number of rows.
        description: Free text for people.
    """

    name: str
    fields: tuple[FieldSpec, ...] = field(default=())
    required: bool = False
    min_rows: int | None = None
    max_rows: int | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The canonical, JSON-able declaration."""
        out: dict[str, Any] = {"required": self.required}
        if self.min_rows is not None:
            out["min_rows"] = self.min_rows
        if self.max_rows is not None:
            out["max_rows"] = self.max_rows
        if self.description:
            out["description"] = self.description
        out["fields"] = {spec.name: spec.to_dict() for spec in self.fields}
        return out


def json_value(value: Any) -> Any:
    """Render a natural field value in its canonical JSON-able form."""
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.timedelta):
        return wire_seconds(value)
    if isinstance(value, File):
        return {
            "name": value.name,
            "media_type": value.media_type,
            "content": base64.b64encode(value.content).decode("ascii"),
        }
    return value


def _fail(reason: str, name: str) -> DefinitionError:
    return DefinitionError(reason, field=name)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _length(decl: Mapping[str, Any], key: str, name: str) -> int | None:
    value = decl.get(key)
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        raise _fail(f"{key} must be a non-negative integer, not {value!r}", name)
    return int(value)


def _bound(
    decl: Mapping[str, Any], key: str, type_: str, name: str
) -> int | float | None:
    value = decl.get(key)
    if value is None:
        return None
    if type_ == "integer":
        if not _is_int(value) or not INT_MIN <= value <= INT_MAX:
            raise _fail(f"{key} must be a 64-bit integer, not {value!r}", name)
        return int(value)
    if not _is_number(value) or not math.isfinite(value):
        raise _fail(f"{key} must be a finite number, not {value!r}", name)
    if type_ == "duration" and abs(value) > DURATION_LIMIT:
        raise _fail(f"{key} is out of the duration range", name)
    return float(value)


def _choices(decl: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = decl.get("choices")
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(item, str) and _utf8(item) for item in value)
    ):
        raise _fail("choices must be a non-empty list of strings", name)
    if len(set(value)) != len(value):
        raise _fail("choices must be distinct", name)
    return tuple(value)


def _pattern(decl: Mapping[str, Any], name: str) -> str | None:
    value = decl.get("pattern")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(f"pattern must be a string, not {value!r}", name)
    try:
        re.compile(full_pattern(value))
    except re.error as exc:
        reason = f"pattern {value!r} is not a valid regular expression: {exc}"
        raise _fail(reason, name) from None
    return value


def _check_keys(decl: Mapping[str, Any], allowed: Iterable[str], name: str) -> None:
    unknown = sorted(set(decl) - set(allowed), key=str)
    if unknown:
        raise _fail(f"unknown key(s): {', '.join(map(str, unknown))}", name)


def _check_name(name: object, what: str) -> str:
    if not is_technical_name(name):
        raise DefinitionError(
            f"{what} name {name!r} must match [a-z][a-z0-9_]*",
            field=name if isinstance(name, str) else None,
        )
    assert isinstance(name, str)
    return name


def parse_field(name: str, decl: object) -> FieldSpec:
    """Read one field declaration.

    Args:
        name: The field's key (dotted ``list.field`` is not allowed here).
        decl: The declaration mapping, e.g. ``{"type": "integer", "min": 0}``.

    Returns:
        The spec, with its default converted to a natural value.

    Raises:
        DefinitionError: The declaration is wrong; ``field`` names the field.
    """
    _check_name(name, "field")
    if not isinstance(decl, Mapping):
        raise _fail(f"declaration must be a table/object, not {decl!r}", name)
    type_ = decl.get("type")
    if not isinstance(type_, str):
        raise _fail("missing or non-string 'type'", name)
    type_ = ALIASES.get(type_, type_)
    if type_ not in _CONSTRAINTS:
        raise _fail(
            f"unknown type {decl['type']!r}; expected one of "
            f"{', '.join(TYPE_NAMES + tuple(ALIASES))}",
            name,
        )
    _check_keys(decl, _COMMON_KEYS | _CONSTRAINTS[type_], name)

    description = decl.get("description", "")
    if not isinstance(description, str):
        raise _fail("description must be a string", name)
    has_default = decl.get("default") is not None
    required = decl.get("required", not has_default)
    if not isinstance(required, bool):
        raise _fail(f"required must be true or false, not {required!r}", name)
    if required and has_default:
        raise _fail("a required field cannot have a default", name)

    allowed = _CONSTRAINTS[type_]
    spec = FieldSpec(
        name=name,
        type=type_,
        required=required,
        description=description,
        min_length=_length(decl, "min_length", name),
        max_length=_length(decl, "max_length", name),
        pattern=_pattern(decl, name),
        min=_bound(decl, "min", type_, name),
        max=_bound(decl, "max", type_, name),
        choices=_choices(decl, name) if "choices" in allowed else None,
    )
    for low, high in (("min_length", "max_length"), ("min", "max")):
        lo, hi = getattr(spec, low), getattr(spec, high)
        if lo is not None and hi is not None and lo > hi:
            raise _fail(f"{low} {lo!r} is greater than {high} {hi!r}", name)

    if not has_default:
        return spec
    # Imported here: schema_fields builds on the declarations of this module.
    from zcomet.core.schema_fields import make_field

    try:
        default = make_field(spec).deserialize(decl["default"])
    except ma.ValidationError as exc:
        raise _fail(f"bad default {decl['default']!r}: {exc.messages}", name) from None
    return replace(spec, default=default)


def parse_list(name: str, decl: object) -> ListSpec:
    """Read one list declaration (its row fields, rows and requirement).

    Raises:
        DefinitionError: The declaration is wrong; ``field`` names the list or
            ``list.field``.
    """
    _check_name(name, "list")
    if not isinstance(decl, Mapping):
        raise _fail(f"declaration must be a table/object, not {decl!r}", name)
    _check_keys(decl, _LIST_KEYS, name)
    required = decl.get("required", False)
    if not isinstance(required, bool):
        raise _fail(f"required must be true or false, not {required!r}", name)
    description = decl.get("description", "")
    if not isinstance(description, str):
        raise _fail("description must be a string", name)
    min_rows = _length(decl, "min_rows", name)
    max_rows = _length(decl, "max_rows", name)
    if min_rows is not None and max_rows is not None and min_rows > max_rows:
        raise _fail(f"min_rows {min_rows} is greater than max_rows {max_rows}", name)
    decls = decl.get("fields")
    if not isinstance(decls, Mapping) or not decls:
        raise _fail("a list needs a non-empty 'fields' table", name)

    specs = []
    for key, value in decls.items():
        try:
            specs.append(parse_field(key, value))
        except DefinitionError as exc:
            raise DefinitionError(exc.reason, field=f"{name}.{exc.field}") from None
    return ListSpec(
        name=name,
        fields=tuple(specs),
        required=required,
        min_rows=min_rows,
        max_rows=max_rows,
        description=description,
    )
