"""The fast path and marshmallow agree: property tests with hypothesis.

Definitions are drawn at random (every field type, with and without each
constraint, required or optional, with defaults, and a list of rows), then
data is drawn that is valid or nearly so. For each draw:

* the sender's fast path and the marshmallow schema accept and reject the
  same data, and return the same natural values (same types too);
* what the sender encodes, the listener decodes to the same values;
* a body made by any msgpack library from the same data is accepted by the
  listener exactly when marshmallow accepts the msgpack-decoded data;
* random and mangled bytes only ever raise ``DecodeError``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import math
from typing import Any

import marshmallow as ma
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zcomet.core.compiled import Rejected
from zcomet.core.definitions import Definition
from zcomet.core.fields import DURATION_LIMIT, INT_MAX, INT_MIN, File
from zcomet.errors import DecodeError

UTC = dt.UTC
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PATTERNS = ["[a-z]+", "T-[0-9]{1,3}", "(ab|c)*", "x?", r"\w+ \d"]
CHOICES = ["low", "normal", "high", "ümlaut", ""]
DURATION_STRINGS = [
    "PT1H",
    "P1D",
    "-PT5S",
    "PT0.5S",
    "P1DT2H3M4.000005S",
    "P1Y",
    "P1W",
    "PT",
    "1s",
    "pt1m",
]

# --- Drawing definitions ------------------------------------------------------

lengths = st.none() | st.integers(0, 6)


@st.composite
def length_bounds(draw: st.DrawFn) -> dict[str, int]:
    low, high = draw(lengths), draw(lengths)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return {
        key: value
        for key, value in (("min_length", low), ("max_length", high))
        if value is not None
    }


@st.composite
def value_bounds(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    if kind == "integer":
        bound: st.SearchStrategy[Any] = st.none() | st.integers(-1000, 1000)
    elif kind == "number":
        bound = st.none() | st.integers(-1000, 1000) | st.floats(-1e6, 1e6)
    else:
        bound = st.none() | st.integers(-3600, 3600) | st.floats(-1e5, 1e5)
    low, high = draw(bound), draw(bound)
    # -0.0 sorts below 0.0 for hypothesis' float strategies: use 0.0.
    low = None if low is None else low + 0
    high = None if high is None else high + 0
    if low is not None and high is not None and low > high:
        low, high = high, low
    return {k: v for k, v in (("min", low), ("max", high)) if v is not None}


KINDS = [
    "text",
    "rich_text",
    "number",
    "integer",
    "boolean",
    "yes_no",
    "datetime",
    "duration",
    "file",
    "choice",
    "choice_set",
]


@st.composite
def field_decls(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    if kind is None:
        kind = draw(st.sampled_from(KINDS))
    decl: dict[str, Any] = {"type": kind}
    if kind in ("text", "rich_text", "file", "choice_set"):
        decl.update(draw(length_bounds()))
    if kind == "text" and draw(st.booleans()):
        decl["pattern"] = draw(st.sampled_from(PATTERNS))
    if kind in ("number", "integer", "duration"):
        decl.update(draw(value_bounds(kind)))
    if kind in ("choice", "choice_set"):
        decl["choices"] = draw(
            st.lists(st.sampled_from(CHOICES), min_size=1, unique=True)
        )
    presence = draw(st.sampled_from(["required", "optional", "default"]))
    if presence == "optional":
        decl["required"] = False
    elif presence == "default":
        # A default is kept only if the field accepts it.
        candidate = draw(values_for(decl))
        try:
            Definition("Probe", fields={"v": {**decl, "default": candidate}})
        except Exception:
            decl["required"] = False
        else:
            if candidate is not None:
                decl["default"] = candidate
            else:
                decl["required"] = False
    return decl


field_names = st.sampled_from(["a", "b", "class", "x_1", "note"])


@st.composite
def definitions(draw: st.DrawFn) -> Definition:
    fields = draw(st.dictionaries(field_names, field_decls(), max_size=4))
    lists: dict[str, Any] = {}
    if draw(st.booleans()):
        rows = draw(st.dictionaries(field_names, field_decls(), min_size=1, max_size=3))
        spec: dict[str, Any] = {"fields": rows, "required": draw(st.booleans())}
        low, high = (
            draw(st.none() | st.integers(0, 3)),
            draw(st.none() | st.integers(0, 4)),
        )
        if low is not None and high is not None and low > high:
            low, high = high, low
        if low is not None:
            spec["min_rows"] = low
        if high is not None:
            spec["max_rows"] = high
        lists["rows"] = spec
    return Definition("Drawn definition", fields=fields, lists=lists)


# --- Drawing values -------------------------------------------------------------

offsets = st.builds(
    dt.timezone,
    st.timedeltas(
        min_value=dt.timedelta(hours=-23, minutes=-59),
        max_value=dt.timedelta(hours=23, minutes=59),
    ),
)
zones: Any = st.none() | st.just(UTC) | offsets
datetimes = st.datetimes(min_value=dt.datetime(1, 1, 1), timezones=zones)
junk = st.one_of(
    st.sampled_from([None, True, False]),
    st.sampled_from([0, -1, 1.5, math.nan, math.inf, -math.inf, 2**64, 2**1100]),
    st.sampled_from(["", "x", "\ud800", "low", "PT1S", "2024-01-01T00:00:00Z"]),
    st.sampled_from([b"x", bytearray(b"x"), [], (), {}, ["low"], {"name": "x"}]),
    st.sampled_from([dt.date(2024, 1, 1), dt.timedelta(seconds=1), -(2**63) - 1]),
)


def around(decl: dict[str, Any]) -> st.SearchStrategy[int]:
    """Sizes at and next to the declared length bounds."""
    edges = [decl.get("min_length", 0), decl.get("max_length", 3)]
    return st.sampled_from(edges).flatmap(
        lambda edge: st.sampled_from([max(edge - 1, 0), edge, edge + 1])
    )


def texts(decl: dict[str, Any]) -> st.SearchStrategy[Any]:
    options = [
        st.text(max_size=8),
        st.text(alphabet="abcT-0123456789 \n", max_size=8),
        around(decl).flatmap(lambda n: st.text(min_size=n, max_size=n)),
    ]
    if "pattern" in decl:
        pattern = st.from_regex(decl["pattern"], fullmatch=True)
        options += [pattern, pattern.map(lambda s: s + "\n"), pattern.map("_".__add__)]
    return st.one_of(options)


def numbers(decl: dict[str, Any]) -> st.SearchStrategy[Any]:
    edges = [decl.get("min", 0), decl.get("max", 0)]
    near = st.sampled_from(edges).flatmap(
        lambda edge: st.sampled_from(
            [edge, edge - 1, edge + 1, float(edge), math.nextafter(edge, math.inf)]
        )
    )
    return st.one_of(
        near,
        st.booleans(),
        st.floats(),
        st.integers(),
        st.integers(INT_MIN - 2, INT_MIN + 2),
        st.integers(INT_MAX - 2, INT_MAX + 2),
        st.floats(-1e19, 1e19),
    )


def durations(decl: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.timedeltas(),
        st.timedeltas(
            min_value=dt.timedelta(hours=-2), max_value=dt.timedelta(hours=2)
        ),
        numbers(decl),
        st.sampled_from([DURATION_LIMIT, DURATION_LIMIT + 1, -DURATION_LIMIT]),
        st.sampled_from(DURATION_STRINGS),
        st.timedeltas(
            min_value=dt.timedelta(hours=-2), max_value=dt.timedelta(hours=2)
        ).map(lambda td: f"PT{td.total_seconds()}S"),
    )


def files(decl: dict[str, Any]) -> st.SearchStrategy[Any]:
    content = st.binary(max_size=8) | around(decl).flatmap(
        lambda n: st.binary(min_size=n, max_size=n)
    )
    contents = st.one_of(
        content,
        content.map(bytearray),
        content.map(lambda b: base64.b64encode(b).decode()),
        st.text(alphabet="AZaz09+/=!", max_size=6),
    )
    names = st.text(max_size=5) | junk
    mapping = st.fixed_dictionaries(
        {"name": names, "media_type": st.text(max_size=5), "content": contents},
        optional={"size": st.integers()},
    )
    partial = st.dictionaries(
        st.sampled_from(["name", "media_type", "content"]), content
    )
    return st.one_of(
        mapping,
        partial,
        st.builds(File, st.text(max_size=3), st.text(max_size=3), content),
    )


def choice_sets(decl: dict[str, Any]) -> st.SearchStrategy[Any]:
    item = st.sampled_from(decl["choices"]) | st.sampled_from(["other", "LOW", 1])
    valid = st.lists(st.sampled_from(decl["choices"]), min_size=1, unique=True)
    return st.one_of(
        valid.map(lambda items: items + items[:1]),
        st.lists(item, max_size=6),
        st.lists(st.sampled_from(decl["choices"]), unique=True).map(tuple),
        st.frozensets(st.sampled_from(decl["choices"])),
    )


def values_for(decl: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that fit the field, nearly fit, or are of another type."""
    kind = decl["type"]
    if kind in ("text", "rich_text"):
        typed = texts(decl)
    elif kind in ("number", "integer"):
        typed = numbers(decl)
    elif kind in ("boolean", "yes_no"):
        typed = st.booleans()
    elif kind == "datetime":
        typed = datetimes | datetimes.map(dt.datetime.isoformat)
    elif kind == "duration":
        typed = durations(decl)
    elif kind == "file":
        typed = files(decl)
    elif kind == "choice":
        typed = st.sampled_from(decl["choices"]) | st.text(max_size=3)
    else:
        typed = choice_sets(decl)
    return st.one_of(typed, typed, junk)


def valid_values(decl: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values meant to fit the field (a few may still miss a constraint)."""
    kind = decl["type"]
    low_len, high_len = decl.get("min_length", 0), decl.get("max_length", 6)
    low, high = decl.get("min"), decl.get("max")
    if kind in ("text", "rich_text"):
        if "pattern" in decl:
            return st.from_regex(decl["pattern"], fullmatch=True)
        return st.text(min_size=low_len, max_size=high_len)
    if kind == "number":
        floats = st.floats(low, high, allow_nan=False, allow_infinity=False)
        int_low = None if low is None else math.ceil(low)
        int_high = None if high is None else math.floor(high)
        if int_low is not None and int_high is not None and int_low > int_high:
            return floats
        return floats | st.integers(int_low, int_high)
    if kind == "integer":
        return st.integers(low, high)
    if kind in ("boolean", "yes_no"):
        return st.booleans()
    if kind == "datetime":
        aware = st.datetimes(
            min_value=dt.datetime(2, 1, 1), timezones=st.just(UTC) | offsets
        )
        return aware | aware.map(dt.datetime.isoformat)
    if kind == "duration":
        seconds = st.floats(
            -DURATION_LIMIT if low is None else low,
            DURATION_LIMIT if high is None else high,
        )
        return seconds | seconds.map(lambda x: dt.timedelta(seconds=x))
    if kind == "file":
        return st.fixed_dictionaries(
            {
                "name": st.text(max_size=5),
                "media_type": st.sampled_from(["text/plain", "image/png"]),
                "content": st.binary(min_size=low_len, max_size=high_len),
            }
        )
    if kind == "choice":
        return st.sampled_from(decl["choices"])
    return st.lists(
        st.sampled_from(decl["choices"]),
        unique=True,
        min_size=min(low_len, len(decl["choices"])),
        max_size=min(high_len, len(decl["choices"])),
    )


@st.composite
def payloads(draw: st.DrawFn, definition: Definition) -> dict[str, Any]:
    """Data for a definition: each field present, absent or null."""
    data: dict[str, Any] = {}
    clean = draw(st.booleans())
    values = valid_values if clean else values_for
    for spec in definition.fields:
        how = draw(st.sampled_from(["value", "value", "value", "absent", "null"]))
        if how == "value" or (clean and spec.required):
            data[spec.name] = draw(values(spec.to_dict()))
        elif how == "null":
            data[spec.name] = None
    for list_spec in definition.lists:
        how = draw(st.sampled_from(["rows", "rows", "absent", "null", "junk"]))
        if how == "rows" or (clean and list_spec.required):
            required = {
                spec.name: values(spec.to_dict())
                for spec in list_spec.fields
                if clean and spec.required
            }
            optional = {
                spec.name: values(spec.to_dict())
                for spec in list_spec.fields
                if spec.name not in required
            }
            row = st.fixed_dictionaries(required, optional=optional)
            rows = draw(st.lists(row if clean else row | junk, max_size=5))
            data[list_spec.name] = draw(st.sampled_from([rows, tuple(rows)]))
        elif how == "null":
            data[list_spec.name] = None
        elif how == "junk":
            data[list_spec.name] = draw(junk)
    if not clean and draw(st.integers(0, 4)) == 0:
        data["unknown_key"] = 1
    return data


# --- Comparing --------------------------------------------------------------------


def same(left: Any, right: Any) -> bool:
    """Equal values of equal types, all the way down; date-times in UTC."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(
            same(left[key], right[key]) for key in left
        )
    if isinstance(left, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dt.datetime):
        return left == right and left.tzinfo is right.tzinfo is UTC
    return bool(left == right)


def fast(definition: Definition, data: dict[str, Any]) -> Any:
    assert definition._compiled is not None
    try:
        return definition._compiled.validate(dict(data))
    except Rejected:
        return "REJECTED"


def slow(definition: Definition, data: Any) -> Any:
    try:
        return definition.schema.load(data)
    except ma.ValidationError:
        return "REJECTED"


@st.composite
def cases(draw: st.DrawFn) -> tuple[Definition, dict[str, Any]]:
    definition = draw(definitions())
    return definition, draw(payloads(definition))


@pytest.mark.parametrize("kind", KINDS)
@settings(SETTINGS, max_examples=60)
@given(data=st.data())
def test_each_field_type_is_checked_alike_on_both_paths(
    kind: str, data: st.DataObject
) -> None:
    decl = data.draw(field_decls(kind))
    definition = Definition("One field", fields={"v": decl})
    spec = definition.fields[0].to_dict()
    value = data.draw(st.one_of(values_for(spec), valid_values(spec)))
    payload = data.draw(st.sampled_from([{"v": value}, {}, {"v": None}]))

    expected = slow(definition, payload)

    assert same(fast(definition, payload), expected)
    if expected != "REJECTED":
        decoded = definition.decode_body(definition.encode_body(payload))
        if kind == "duration" and decoded["v"] is not None:
            # Exact below ~285 years; float seconds beyond (see the docs).
            error = abs(decoded["v"] - expected["v"])
            exact = abs(expected["v"]) < dt.timedelta(days=100_000)
            assert error == dt.timedelta(0) if exact else error <= dt.timedelta(1)
        else:
            assert same(decoded, expected)


@SETTINGS
@given(cases())
def test_the_fast_path_accepts_and_rejects_exactly_what_marshmallow_does(
    case: tuple[Definition, dict[str, Any]],
) -> None:
    definition, data = case
    expected = slow(definition, data)
    assert same(fast(definition, data), expected)


@SETTINGS
@given(cases())
def test_what_the_sender_encodes_the_listener_decodes_unchanged(
    case: tuple[Definition, dict[str, Any]],
) -> None:
    definition, data = case
    try:
        body = definition.encode_body(data)
    except ValueError:
        return
    decoded = definition.decode_body(body)
    natural = definition.validate(data)
    for key, value in natural.items():
        if isinstance(value, dt.timedelta) and abs(value) > dt.timedelta(days=10**5):
            # Far durations travel as float seconds: exact to the microsecond
            # only below about 285 years.
            assert abs(decoded[key] - value) <= dt.timedelta(milliseconds=10)
            decoded[key] = value
    assert same(decoded, natural)


def to_wire(value: Any) -> Any:
    """What a peer using plain msgpack might send for a drawn value."""
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_wire(item) for item in value]
    if isinstance(value, File):
        return to_wire(
            {
                "name": value.name,
                "media_type": value.media_type,
                "content": value.content,
            }
        )
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.isoformat()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, int) and not INT_MIN <= value < 2**64:
        return str(value)
    return value


def base64_to_bin(data: Any) -> Any:
    """On the wire file content is bin; valid base64 text is sent as bin."""
    if isinstance(data, dict):
        out = {key: base64_to_bin(item) for key, item in data.items()}
        if set(out) >= {"content"} and isinstance(out["content"], str):
            with contextlib.suppress(binascii.Error, ValueError):
                out["content"] = base64.b64decode(out["content"], validate=True)
        return out
    if isinstance(data, list):
        return [base64_to_bin(item) for item in data]
    return data


@SETTINGS
@given(cases())
def test_the_listener_accepts_exactly_what_marshmallow_accepts_from_the_wire(
    case: tuple[Definition, dict[str, Any]],
) -> None:
    definition, data = case
    wire = base64_to_bin(to_wire(data))
    try:
        body = msgpack.packb(wire, datetime=True)
    except (ValueError, OverflowError):
        return  # a date-time msgpack cannot represent as a timestamp

    decoded: Any
    try:
        decoded = definition.decode_body(body)
    except DecodeError:
        decoded = "REJECTED"

    expected = slow(definition, msgpack.unpackb(body, timestamp=3))
    assert same(decoded, expected)


# --- Hostile bytes ----------------------------------------------------------------

HOSTILE = Definition(
    "Hostile",
    fields={
        "t": {"type": "text", "pattern": "[a-z]*"},
        "n": {"type": "number", "required": False},
        "i": {"type": "integer", "default": 1},
        "d": {"type": "datetime", "required": False},
        "w": {"type": "duration", "required": False},
        "f": {"type": "file", "required": False},
        "s": {"type": "choice_set", "choices": ["a", "b"], "required": False},
    },
    lists={"r": {"fields": {"d": {"type": "datetime"}, "x": {"type": "text"}}}},
)
VALID_BODY = HOSTILE.encode_body(
    {
        "t": "abc",
        "n": 1.5,
        "d": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "w": 2.5,
        "f": {"name": "a", "media_type": "b", "content": b"xyz"},
        "s": ["a"],
        "r": [{"d": dt.datetime(2024, 1, 1, tzinfo=UTC), "x": "y"}] * 3,
    }
)


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    body = bytearray(VALID_BODY)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, max(len(body) - 1, 0)))
        if action == "flip" and body:
            body[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del body[at : at + draw(st.integers(1, 8))]
        else:
            body[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(body)


ADVERSARIAL = [
    b"\xdd\xff\xff\xff\xff",  # array of 4 billion items, no items
    b"\xdf\xff\xff\xff\xff",  # map of 4 billion pairs
    b"\xc6\xff\xff\xff\xff",  # bin of 4 GiB
    b"\x91" * 100_000 + b"\xc0",  # deep nesting
    b"\x81\xa1r" + b"\x91" * 100_000,
    b"\xc7\x0c\xff" + b"\x7f" * 12,  # timestamp out of range
    b"\xd6\xff\xff\xff\xff\xff",
]


@pytest.mark.parametrize("body", ADVERSARIAL)
def test_adversarial_bodies_raise_decode_errors(body: bytes) -> None:
    with pytest.raises(DecodeError):
        HOSTILE.decode_body(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | mangled())
def test_any_bytes_raise_nothing_but_decode_errors(body: bytes) -> None:
    try:
        result = HOSTILE.decode_body(body)
    except DecodeError:
        return
    assert set(result) == {"t", "n", "i", "d", "w", "f", "s", "r"}


def test_only_technical_names_reach_the_generated_source() -> None:
    # Keys come from checked technical names only, so the generated source
    # cannot be steered by a definitions file.
    for bad in ["a'b", "a b", "A", "1a", "a-b", "ä"]:
        with pytest.raises(ValueError):
            Definition("Names", fields={bad: {"type": "text"}})
