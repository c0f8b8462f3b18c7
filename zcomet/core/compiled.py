"""The fast path: a declared definition compiled into msgspec types.

Each declared definition is compiled once into a msgspec ``Struct`` (one per
list's rows too) whose annotated types carry the constraints msgspec can
check in C: types, lengths, ranges, patterns, choices, unknown keys. A small
generated Python function then does what msgspec cannot: defaults, UTC
normalisation, seconds to ``timedelta``, duration ranges, distinct choice
sets and file content lengths, and builds the plain ``dict`` handed back.

The marshmallow schema built from :mod:`zcomet.core.schema_fields` stays the
source of truth: the sender falls back to it whenever this path rejects, to get
its per-field messages, and ``tests/test_compiled.py`` checks that both always
agree. The listener uses this path alone: a peer's bad body costs a msgspec
message, not a marshmallow run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec

from zcomet.core.fields import (
    FLOAT_MAX,
    INT_MAX,
    INT_MIN,
    AwareDatetime,
    DurationIn,
    FieldSpec,
    File,
    ListSpec,
    Reject,
    full_pattern,
    to_timedelta,
    to_utc,
    wire_seconds,
)
from zcomet.errors import DecodeError, InvalidBody

__all__ = ["Compiled", "Rejected"]

#: Errors of the fast path that mean "the data does not fit" on the sender.
Rejected = (msgspec.ValidationError, Reject, UnicodeEncodeError, OverflowError)

_STRUCT_OPTIONS: dict[str, Any] = {
    "kw_only": True,
    "forbid_unknown_fields": True,
    "omit_defaults": True,
    "gc": False,
}


def _meta(**constraints: Any) -> msgspec.Meta | None:
    given = {key: value for key, value in constraints.items() if value is not None}
    return msgspec.Meta(**given) if given else None


def _annotate(base: Any, meta: msgspec.Meta | None) -> Any:
    return base if meta is None else Annotated[base, meta]


def _field_type(spec: FieldSpec) -> Any:
    """The msgspec type of one declared field (without optionality)."""
    kind = spec.type
    if kind in ("text", "rich_text"):
        pattern = None if spec.pattern is None else full_pattern(spec.pattern)
        meta = _meta(
            min_length=spec.min_length, max_length=spec.max_length, pattern=pattern
        )
        return _annotate(str, meta)
    if kind == "number":
        low = -FLOAT_MAX if spec.min is None else spec.min
        high = FLOAT_MAX if spec.max is None else spec.max
        return Annotated[float, msgspec.Meta(ge=low, le=high)]
    if kind == "integer":
        low = INT_MIN if spec.min is None else spec.min
        high = INT_MAX if spec.max is None else spec.max
        return Annotated[int, msgspec.Meta(ge=low, le=high)]
    if kind == "boolean":
        return bool
    if kind == "datetime":
        return AwareDatetime
    if kind == "duration":
        return DurationIn
    if kind == "file":
        return File
    choice: Any = Literal[spec.choices]  # type: ignore[name-defined]
    if kind == "choice":
        return choice
    meta = _meta(min_length=spec.min_length, max_length=spec.max_length)
    return _annotate(list[choice], meta)


def _struct(name: str, specs: list[tuple[str, Any, bool]]) -> type[msgspec.Struct]:
    """Make a Struct with attributes f0, f1, ... renamed to the wire keys."""
    fields = []
    for index, (key, type_, required) in enumerate(specs):
        if required:
            fields.append((f"f{index}", type_, msgspec.field(name=key)))
        else:
            fields.append(
                (f"f{index}", type_ | None, msgspec.field(default=None, name=key))
            )
    return msgspec.defstruct(name, fields, **_STRUCT_OPTIONS)


def _post(spec: FieldSpec, key: str) -> Callable[[Any], Any] | None:
    """The Python step a field needs after msgspec, if any."""
    if spec.type == "datetime":

        def datetime_post(value: dt.datetime) -> dt.datetime:
            if value.tzinfo is dt.UTC:
                return value
            try:
                return to_utc(value)
            except Reject as exc:
                raise Reject(exc.message, key) from None

        return datetime_post

    if spec.type == "duration":
        low = None if spec.min is None else dt.timedelta(seconds=spec.min)
        high = None if spec.max is None else dt.timedelta(seconds=spec.max)

        def duration_post(value: float | dt.timedelta) -> dt.timedelta:
            try:
                result = to_timedelta(value)
            except Reject as exc:
                raise Reject(exc.message, key) from None
            if low is not None and result < low:
                raise Reject(f"Duration must be at least {spec.min} s.", key)
            if high is not None and result > high:
                raise Reject(f"Duration must be at most {spec.max} s.", key)
            return result

        return duration_post

    if spec.type == "choice_set":

        def choice_set_post(value: list[str]) -> list[str]:
            if len(set(value)) != len(value):
                raise Reject("Values must be distinct.", key)
            return value

        return choice_set_post

    if spec.type == "file" and (spec.min_length or spec.max_length is not None):
        low_len = spec.min_length or 0
        high_len = spec.max_length

        def file_post(value: File) -> File:
            size = len(value.content)
            if size < low_len or (high_len is not None and size > high_len):
                raise Reject("Content length is out of range.", key)
            return value

        return file_post

    return None


class _Names:
    """The namespace of generated code: constants and helpers it refers to."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"UTC": dt.UTC, "wire_seconds": wire_seconds}

    def bind(self, value: Any) -> str:
        name = f"_{len(self.namespace)}"
        self.namespace[name] = value
        return name


def _expression(spec: FieldSpec, source: str, key: str, names: _Names) -> str:
    """Python source for a field's natural value, read from ``source``."""
    value = source
    post = _post(spec, key)
    if post is not None:
        call = f"{names.bind(post)}({source})"
        if spec.type == "datetime":
            # Values decoded from the wire are already in UTC: skip the call.
            value = f"({source} if {source}.tzinfo is UTC else {call})"
        elif spec.type == "choice_set":
            # Check inline; call only to raise.
            value = f"({source} if len(set({source})) == len({source}) else {call})"
        else:
            value = call
    if spec.required:
        return value
    if spec.default is None:
        default = "None"
    elif isinstance(spec.default, list):
        default = f"{names.bind(spec.default_factory())}()"
    else:
        default = names.bind(spec.default)
    if default == "None" and value == source:
        return source
    return f"({default} if {source} is None else {value})"


def _codegen(
    fields: tuple[FieldSpec, ...], lists: tuple[ListSpec, ...]
) -> Callable[[Any], dict[str, Any]]:
    """Generate ``natural(struct) -> dict`` for a compiled definition.

    Rows are built by comprehensions inside one function: calling a function
    per row or per field would cost more than the checks themselves.
    """
    names = _Names()
    items = [
        f"{spec.name!r}: {_expression(spec, f's.f{index}', spec.name, names)}"
        for index, spec in enumerate(fields)
    ]
    for index, list_spec in enumerate(lists, start=len(fields)):
        row = ", ".join(
            f"{spec.name!r}: "
            + _expression(
                spec, f"x.f{column}", f"{list_spec.name}[].{spec.name}", names
            )
            for column, spec in enumerate(list_spec.fields)
        )
        rows = f"[{{{row}}} for x in s.f{index}]"
        if not list_spec.required:
            rows = f"([] if s.f{index} is None else {rows})"
        items.append(f"{list_spec.name!r}: {rows}")

    lines = ["def natural(s):", f"    out = {{{', '.join(items)}}}"]
    lines.append("    return out")

    # The source holds only technical names ([a-z][a-z0-9_]*, checked when the
    # definition was read), indices and generated names: it is safe to run.
    exec("\n".join(lines), names.namespace)
    function: Callable[[Any], dict[str, Any]] = names.namespace["natural"]
    return function


def _check_line(spec: FieldSpec, source: str, key: str, names: _Names) -> list[str]:
    """Source lines that check one field of a Struct about to be encoded.

    The same ``_post`` steps as :func:`_expression` run, so the same data is
    refused with the same reason; but no natural value is built: encoding
    needs none. An aware datetime encodes to the same instant whatever its
    zone, so only one that is not already UTC is checked (it may overflow).
    """
    post = _post(spec, key)
    if post is None:
        return []
    call = names.bind(post)
    if spec.type == "datetime":
        test = f"{source}.tzinfo is not UTC"
        action = f"{call}({source})"
    elif spec.type == "duration":
        return [
            f"if {source} is not None:",
            f"    {source} = wire_seconds({call}({source}))",
        ]
    elif spec.type == "choice_set":
        test = f"len(set({source})) != len({source})"
        action = f"{call}({source})"
    else:
        test = "True"
        action = f"{call}({source})"
    return [f"if {source} is not None and {test}:", f"    {action}"]


def _codegen_check(
    fields: tuple[FieldSpec, ...], lists: tuple[ListSpec, ...]
) -> Callable[[Any], None]:
    """Generate ``check(struct)``: the sender's checks, durations to seconds.

    The sender only needs the body's bytes, so this does the checks that
    msgspec cannot and turns durations into wire seconds in place, without
    building the dict of natural values that :func:`_codegen` makes.
    """
    names = _Names()
    lines = ["def check(s):"]
    for index, spec in enumerate(fields):
        lines += [
            "    " + line for line in _check_line(spec, f"s.f{index}", spec.name, names)
        ]
    for index, list_spec in enumerate(lists, start=len(fields)):
        body: list[str] = []
        for column, spec in enumerate(list_spec.fields):
            key = f"{list_spec.name}[].{spec.name}"
            body += _check_line(spec, f"x.f{column}", key, names)
        if body:
            lines.append(f"    for x in s.f{index} or ():")
            lines += ["        " + line for line in body]
    lines.append("    return None")

    # As in _codegen: only technical names, indices and generated names.
    exec("\n".join(lines), names.namespace)
    function: Callable[[Any], None] = names.namespace["check"]
    return function


class Compiled:
    """The msgspec form of one declared definition.

    Args:
        technical_name: The definition's technical name (for error messages).
        fields: The top-level fields.
        lists: The lists of rows.
    """

    def __init__(
        self,
        technical_name: str,
        fields: tuple[FieldSpec, ...],
        lists: tuple[ListSpec, ...],
    ) -> None:
        self.technical_name = technical_name
        layout: list[tuple[str, Any, bool]] = [
            (spec.name, _field_type(spec), spec.required) for spec in fields
        ]
        for list_spec in lists:
            row: Any = _struct(
                f"{technical_name}__{list_spec.name}",
                [
                    (spec.name, _field_type(spec), spec.required)
                    for spec in list_spec.fields
                ],
            )
            meta = _meta(min_length=list_spec.min_rows, max_length=list_spec.max_rows)
            layout.append(
                (list_spec.name, _annotate(list[row], meta), list_spec.required)
            )
        self.struct = _struct(technical_name, layout)
        self._natural = _codegen(fields, lists)
        self._check_wire = _codegen_check(fields, lists)
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(self.struct)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """Check sender data; return natural values.

        Raises:
            msgspec.ValidationError, Reject, UnicodeEncodeError: The data does
                not fit (see :data:`Rejected`); the caller asks marshmallow why.
        """
        struct = msgspec.convert(data, self.struct)
        natural = self._natural(struct)
        # Encoding also rejects lone surrogates, which msgspec.convert lets by.
        self._encoder.encode(struct)
        return natural

    def encode_body(self, data: dict[str, Any]) -> bytes:
        """Check sender data and return only the msgpack body (the hot path).

        Raises:
            msgspec.ValidationError, Reject, UnicodeEncodeError: As
                :meth:`validate`.
        """
        struct = msgspec.convert(data, self.struct)
        self._check_wire(struct)
        return self._encoder.encode(struct)

    def decode(self, body: bytes) -> dict[str, Any]:
        """Decode and check a body from the network; return natural values.

        Raises:
            InvalidBody: The body is msgpack but does not fit.
            DecodeError: The body is not msgpack.
        """
        try:
            struct = self._decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise InvalidBody(self.technical_name, str(exc)) from None
        except (msgspec.DecodeError, TypeError, ValueError, RecursionError) as exc:
            raise DecodeError(f"malformed msgpack body: {exc}") from None
        try:
            return self._natural(struct)
        except Reject as exc:
            raise InvalidBody(self.technical_name, str(exc)) from None
