"""The marshmallow fields each declared field type becomes.

:func:`make_field` turns a :class:`~zcomet.core.fields.FieldSpec` into one of
the fields here, and :func:`make_rows_field` a
:class:`~zcomet.core.fields.ListSpec` into :class:`Rows`. These fields are the
source of truth for what a value may be and for the error messages a sender
sees; the fast path in :mod:`zcomet.core.compiled` must agree with them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import marshmallow as ma
import msgspec

from zcomet.core.fields import (
    INT_MAX,
    INT_MIN,
    AwareDatetime,
    DurationIn,
    FieldSpec,
    File,
    ListSpec,
    Reject,
    _is_int,
    _is_number,
    _utf8,
    full_pattern,
    to_timedelta,
    to_utc,
)

__all__ = ["make_field", "make_rows_field"]


def _pattern_validator(pattern: str) -> Callable[[str], None]:
    search = re.compile(full_pattern(pattern)).search

    def check(value: str) -> None:
        if search(value) is None:
            raise ma.ValidationError(f"Does not match the pattern {pattern!r}.")

    return check


class _Field(ma.fields.Field[Any]):
    """Base of zcomet's fields: an optional field reads null like absent."""

    default_error_messages = {
        "invalid": "Not a valid value.",
        "encoding": "Not valid Unicode text (lone surrogates).",
    }

    def __init__(self, spec: FieldSpec, validate: list[Any]) -> None:
        self.spec = spec
        super().__init__(
            required=spec.required,
            allow_none=not spec.required,
            load_default=ma.missing if spec.required else spec.default_factory(),
            validate=validate,
        )

    def deserialize(  # type: ignore[override]
        self,
        value: Any,
        attr: str | None = None,
        data: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if value is None and not self.required:
            default = self.load_default
            return default() if callable(default) else default
        return super().deserialize(value, attr, data, **kwargs)


class Text(_Field):
    """``text`` and ``rich_text``: a str of code points."""

    default_error_messages = {"invalid": "Not a valid string."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if not _utf8(value):
            raise self.make_error("encoding")
        return value


class Number(_Field):
    """``number``: a finite float; ints are accepted, bools are not."""

    default_error_messages = {
        "invalid": "Not a valid number.",
        "too_large": "Number too large.",
        "special": "Special numeric values (nan or infinity) are not permitted.",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not _is_number(value):
            raise self.make_error("invalid")
        try:
            number = float(value)
        except OverflowError:
            raise self.make_error("too_large") from None
        if not math.isfinite(number):
            raise self.make_error("special")
        return number


class _Checked(_Field):
    """A field whose value passes as it is when ``accepts(value)`` holds."""

    @staticmethod
    def accepts(value: Any) -> bool:
        """Whether ``value`` is of this field's type."""
        raise NotImplementedError

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not self.accepts(value):
            raise self.make_error("invalid")
        return value


class Integer(_Checked):
    """``integer``: an int (not a bool, not a float) in the 64-bit range."""

    default_error_messages = {"invalid": "Not a valid integer."}
    accepts = staticmethod(_is_int)


class Boolean(_Checked):
    """``boolean`` (``yes_no``): exactly True or False."""

    default_error_messages = {"invalid": "Not a valid boolean."}

    @staticmethod
    def accepts(value: Any) -> bool:
        return isinstance(value, bool)


class DateTime(_Field):
    """``datetime``: aware datetime or RFC 3339 string; output in UTC."""

    default_error_messages = {
        "invalid": "Not a valid date-time.",
        "naive": "Not a timezone-aware date-time.",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        try:
            parsed = msgspec.convert(value, AwareDatetime)
        except (msgspec.ValidationError, ValueError) as exc:
            key = "naive" if "timezone" in str(exc) else "invalid"
            raise self.make_error(key) from None
        try:
            return to_utc(parsed)
        except Reject as exc:
            raise ma.ValidationError(exc.message) from None


class Duration(_Field):
    """``duration``: seconds, a timedelta or an ISO 8601 duration string."""

    default_error_messages = {"invalid": "Not a valid duration."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        try:
            return to_timedelta(msgspec.convert(value, DurationIn))
        except Reject as exc:
            raise ma.ValidationError(exc.message) from None
        except (msgspec.ValidationError, ValueError):
            raise self.make_error("invalid") from None


class FileField(_Field):
    """``file``: a :class:`File` or a mapping with name, media_type, content."""

    default_error_messages = {
        "invalid": "Not a valid file: needs name, media_type and content."
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        try:
            result = msgspec.convert(value, File)
        except (msgspec.ValidationError, ValueError):
            raise self.make_error("invalid") from None
        if not (_utf8(result.name) and _utf8(result.media_type)):
            raise self.make_error("encoding")
        return result


class Choice(_Checked):
    """``choice``: one of the declared strings (the choices are a validator)."""

    default_error_messages = {"invalid": "Not a valid string."}

    @staticmethod
    def accepts(value: Any) -> bool:
        return isinstance(value, str)


class ChoiceSet(_Field):
    """``choice_set``: distinct declared strings, as a list."""

    default_error_messages = {
        "invalid": "Not a valid list.",
        "distinct": "Values must be distinct.",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list | tuple | set | frozenset):
            raise self.make_error("invalid")
        items = list(value)
        choices = self.spec.choices or ()
        errors = {
            index: [f"Must be one of: {', '.join(choices)}."]
            for index, item in enumerate(items)
            if not isinstance(item, str) or item not in choices
        }
        if errors:
            raise ma.ValidationError(errors)  # type: ignore[arg-type]
        if len(set(items)) != len(items):
            raise self.make_error("distinct")
        return items


def _file_length(low: int | None, high: int | None) -> Callable[[File], None]:
    check = ma.validate.Length(min=low, max=high)

    def validate(value: File) -> None:
        try:
            check(value.content)
        except ma.ValidationError as exc:
            raise ma.ValidationError(f"Content: {exc.messages[0]}") from None

    return validate


def _range(low: Any, high: Any) -> ma.validate.Range | None:
    if low is None and high is None:
        return None
    return ma.validate.Range(min=low, max=high)


def make_field(spec: FieldSpec) -> ma.fields.Field[Any]:
    """Build the marshmallow field for a declared field."""
    validators: list[Any] = []
    kind: type[_Field]
    if spec.type in ("text", "rich_text"):
        kind = Text
        if spec.min_length is not None or spec.max_length is not None:
            validators.append(ma.validate.Length(spec.min_length, spec.max_length))
        if spec.pattern is not None:
            validators.append(_pattern_validator(spec.pattern))
    elif spec.type == "number":
        kind = Number
        validators.append(_range(spec.min, spec.max))
    elif spec.type == "integer":
        kind = Integer
        low = INT_MIN if spec.min is None else spec.min
        high = INT_MAX if spec.max is None else spec.max
        validators.append(_range(low, high))
    elif spec.type == "boolean":
        kind = Boolean
    elif spec.type == "datetime":
        kind = DateTime
    elif spec.type == "duration":
        kind = Duration
        validators.append(
            _range(
                None if spec.min is None else dt.timedelta(seconds=spec.min),
                None if spec.max is None else dt.timedelta(seconds=spec.max),
            )
        )
    elif spec.type == "file":
        kind = FileField
        if spec.min_length is not None or spec.max_length is not None:
            validators.append(_file_length(spec.min_length, spec.max_length))
    elif spec.type == "choice":
        kind = Choice
        validators.append(ma.validate.OneOf(spec.choices or ()))
    else:
        kind = ChoiceSet
        if spec.min_length is not None or spec.max_length is not None:
            validators.append(ma.validate.Length(spec.min_length, spec.max_length))
    return kind(spec, [v for v in validators if v is not None])


class Rows(ma.fields.Field[Any]):
    """A list of rows, each a dict checked by the row schema."""

    default_error_messages = {
        "invalid": "Not a valid list.",
        "row": "Invalid input type.",
    }

    def __init__(self, spec: ListSpec, row_schema: ma.Schema) -> None:
        self.spec = spec
        self.row_schema = row_schema
        validate = []
        if spec.min_rows is not None or spec.max_rows is not None:
            validate.append(ma.validate.Length(spec.min_rows, spec.max_rows))
        super().__init__(
            required=spec.required,
            allow_none=not spec.required,
            load_default=ma.missing if spec.required else list,
            validate=validate,
        )

    def deserialize(  # type: ignore[override]
        self,
        value: Any,
        attr: str | None = None,
        data: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if value is None and not self.required:
            return []
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list | tuple | set | frozenset):
            raise self.make_error("invalid")
        rows: list[Any] = []
        errors: dict[int, Any] = {}
        for index, row in enumerate(value):
            if not isinstance(row, dict):
                errors[index] = {"_schema": [self.error_messages["row"]]}
                continue
            try:
                rows.append(self.row_schema.load(row))
            except ma.ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ma.ValidationError(errors)  # type: ignore[arg-type]
        return rows


def make_rows_field(spec: ListSpec, schema_name: str) -> Rows:
    """Build the marshmallow field for a declared list."""
    row_schema = ma.Schema.from_dict(
        {item.name: make_field(item) for item in spec.fields}, name=schema_name
    )
    return Rows(spec, row_schema())
