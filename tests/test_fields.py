"""Field types and constraints: what each accepts and rejects, on both paths."""

from __future__ import annotations

import base64
import datetime as dt
import math
from typing import Any

import marshmallow as ma
import pytest

from zcomet.core.definitions import Definition
from zcomet.core.fields import DURATION_LIMIT, INT_MAX, INT_MIN, File
from zcomet.errors import ValidationError

UTC = dt.UTC
PARIS = dt.timezone(dt.timedelta(hours=1))
REJECT = object()


def one_field(decl: dict[str, Any]) -> Definition:
    return Definition("Single field", fields={"value": decl})


def check(decl: dict[str, Any], value: Any) -> Any:
    """Validate ``{"value": value}`` on both paths; they must agree."""
    definition = one_field(decl)
    slow_messages = None
    try:
        slow = definition.schema.load({"value": value})["value"]
    except ma.ValidationError as exc:
        slow, slow_messages = REJECT, exc.messages
    try:
        fast = definition.validate({"value": value})["value"]
    except ValidationError as exc:
        assert exc.messages == slow_messages
        assert exc.definition == "single_field"
        fast = REJECT
    assert fast == slow
    return fast


TEXT = {"type": "text", "min_length": 2, "max_length": 4, "pattern": "[a-z]+"}
CASES: list[tuple[str, dict[str, Any], Any, Any]] = [
    ("text within bounds", TEXT, "abc", "abc"),
    ("text too short", TEXT, "a", REJECT),
    ("text too long", TEXT, "abcde", REJECT),
    ("text counts code points not bytes", TEXT, "éèà", REJECT),
    ("text pattern must match fully", TEXT, "ab1", REJECT),
    ("text pattern is not a prefix match", TEXT, "1ab", REJECT),
    ("text pattern is anchored at the end", TEXT, "ab\n", REJECT),
    ("text rejects bytes", TEXT, b"abc", REJECT),
    ("text rejects numbers", {"type": "text"}, 5, REJECT),
    ("text rejects lone surrogates", {"type": "text"}, "a\ud800", REJECT),
    ("text accepts the empty string", {"type": "text"}, "", ""),
    ("rich text has lengths", {"type": "rich_text", "max_length": 3}, "abcd", REJECT),
    ("rich text keeps markup", {"type": "rich_text"}, "<b>hi</b>", "<b>hi</b>"),
    ("number accepts floats", {"type": "number"}, 1.5, 1.5),
    ("number turns ints into floats", {"type": "number"}, 3, 3.0),
    ("number rejects bools", {"type": "number"}, True, REJECT),
    ("number rejects numeric strings", {"type": "number"}, "1.5", REJECT),
    ("number rejects nan", {"type": "number"}, math.nan, REJECT),
    ("number rejects infinity", {"type": "number"}, math.inf, REJECT),
    ("number rejects huge ints", {"type": "number"}, 2**1100, REJECT),
    ("number min is inclusive", {"type": "number", "min": 0}, 0, 0.0),
    ("number below min", {"type": "number", "min": 0}, -0.1, REJECT),
    ("number above max", {"type": "number", "max": 1.5}, 1.6, REJECT),
    ("integer accepts ints", {"type": "integer"}, 42, 42),
    ("integer rejects floats", {"type": "integer"}, 1.0, REJECT),
    ("integer rejects bools", {"type": "integer"}, False, REJECT),
    ("integer rejects strings", {"type": "integer"}, "1", REJECT),
    ("integer accepts the 64-bit edges", {"type": "integer"}, INT_MIN, INT_MIN),
    ("integer rejects past 64 bits", {"type": "integer"}, INT_MAX + 1, REJECT),
    ("integer range", {"type": "integer", "min": 1, "max": 3}, 4, REJECT),
    ("boolean accepts true", {"type": "boolean"}, True, True),
    ("yes_no is boolean", {"type": "yes_no"}, False, False),
    ("boolean rejects ints", {"type": "boolean"}, 1, REJECT),
    ("boolean rejects strings", {"type": "boolean"}, "true", REJECT),
    (
        "datetime keeps UTC",
        {"type": "datetime"},
        dt.datetime(2024, 5, 1, 12, tzinfo=UTC),
        dt.datetime(2024, 5, 1, 12, tzinfo=UTC),
    ),
    (
        "datetime normalises offsets to UTC",
        {"type": "datetime"},
        dt.datetime(2024, 5, 1, 12, tzinfo=PARIS),
        dt.datetime(2024, 5, 1, 11, tzinfo=UTC),
    ),
    (
        "datetime parses ISO 8601 strings",
        {"type": "datetime"},
        "2024-05-01T12:00:00+01:00",
        dt.datetime(2024, 5, 1, 11, tzinfo=UTC),
    ),
    (
        "datetime parses Z",
        {"type": "datetime"},
        "2024-05-01T12:00:00.5Z",
        dt.datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC),
    ),
    ("datetime rejects naive", {"type": "datetime"}, dt.datetime(2024, 5, 1), REJECT),
    (
        "datetime rejects naive strings",
        {"type": "datetime"},
        "2024-05-01T12:00",
        REJECT,
    ),
    ("datetime rejects dates", {"type": "datetime"}, dt.date(2024, 5, 1), REJECT),
    ("datetime rejects numbers", {"type": "datetime"}, 1700000000, REJECT),
    ("datetime rejects garbage", {"type": "datetime"}, "yesterday", REJECT),
    (
        "datetime rejects overflow in UTC",
        {"type": "datetime"},
        dt.datetime(1, 1, 1, tzinfo=PARIS),
        REJECT,
    ),
    (
        "duration accepts timedelta",
        {"type": "duration"},
        dt.timedelta(minutes=2),
        dt.timedelta(minutes=2),
    ),
    ("duration reads seconds", {"type": "duration"}, 90, dt.timedelta(seconds=90)),
    (
        "duration reads float seconds",
        {"type": "duration"},
        1.5,
        dt.timedelta(seconds=1.5),
    ),
    (
        "duration reads ISO 8601",
        {"type": "duration"},
        "PT1H30M",
        dt.timedelta(hours=1, minutes=30),
    ),
    ("duration rejects years", {"type": "duration"}, "P1Y", REJECT),
    ("duration rejects bools", {"type": "duration"}, True, REJECT),
    ("duration rejects nan", {"type": "duration"}, math.nan, REJECT),
    ("duration rejects infinity", {"type": "duration"}, -math.inf, REJECT),
    (
        "duration rejects past the limit",
        {"type": "duration"},
        DURATION_LIMIT + 1,
        REJECT,
    ),
    ("duration rejects timedelta.max", {"type": "duration"}, dt.timedelta.max, REJECT),
    ("duration min in seconds", {"type": "duration", "min": 10}, 9.5, REJECT),
    (
        "duration max in seconds",
        {"type": "duration", "max": 60},
        dt.timedelta(seconds=61),
        REJECT,
    ),
    (
        "file from a mapping",
        {"type": "file"},
        {"name": "a.txt", "media_type": "text/plain", "content": b"hi"},
        File("a.txt", "text/plain", b"hi"),
    ),
    (
        "file content as base64",
        {"type": "file"},
        {"name": "a.txt", "media_type": "text/plain", "content": "aGk="},
        File("a.txt", "text/plain", b"hi"),
    ),
    (
        "file as a File",
        {"type": "file"},
        File("a.txt", "text/plain", b"hi"),
        File("a.txt", "text/plain", b"hi"),
    ),
    (
        "file content as bytearray",
        {"type": "file"},
        {"name": "a", "media_type": "b", "content": bytearray(b"x")},
        File("a", "b", b"x"),
    ),
    (
        "file needs every key",
        {"type": "file"},
        {"name": "a.txt", "content": b"hi"},
        REJECT,
    ),
    (
        "file rejects other keys",
        {"type": "file"},
        {"name": "a", "media_type": "b", "content": b"", "size": 0},
        REJECT,
    ),
    (
        "file rejects bad base64",
        {"type": "file"},
        {"name": "a", "media_type": "b", "content": "!!"},
        REJECT,
    ),
    (
        "file content length",
        {"type": "file", "max_length": 1},
        {"name": "a", "media_type": "b", "content": b"xy"},
        REJECT,
    ),
    ("file rejects bytes alone", {"type": "file"}, b"hi", REJECT),
    ("choice accepts a choice", {"type": "choice", "choices": ["a", "b"]}, "b", "b"),
    ("choice rejects others", {"type": "choice", "choices": ["a", "b"]}, "c", REJECT),
    ("choice is case sensitive", {"type": "choice", "choices": ["a"]}, "A", REJECT),
    ("choice rejects non-strings", {"type": "choice", "choices": ["1"]}, 1, REJECT),
    (
        "choice set keeps order",
        {"type": "choice_set", "choices": ["a", "b", "c"]},
        ["c", "a"],
        ["c", "a"],
    ),
    (
        "choice set accepts tuples",
        {"type": "choice_set", "choices": ["a", "b"]},
        ("a",),
        ["a"],
    ),
    (
        "choice set rejects duplicates",
        {"type": "choice_set", "choices": ["a", "b"]},
        ["a", "a"],
        REJECT,
    ),
    (
        "choice set rejects unknown values",
        {"type": "choice_set", "choices": ["a", "b"]},
        ["a", "z"],
        REJECT,
    ),
    (
        "choice set counts items",
        {"type": "choice_set", "choices": ["a", "b"], "min_length": 1},
        [],
        REJECT,
    ),
    (
        "choice set rejects a bare string",
        {"type": "choice_set", "choices": ["a", "b"]},
        "a",
        REJECT,
    ),
]


@pytest.mark.parametrize(
    ("decl", "value", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_type_accepts_and_rejects_the_same_on_both_paths(
    decl: dict[str, Any], value: Any, expected: Any
) -> None:
    result = check(decl, value)
    if expected is REJECT:
        assert result is REJECT
    else:
        assert result == expected
        assert type(result) is type(expected)


def test_validated_datetimes_are_in_utc() -> None:
    result = check({"type": "datetime"}, "2024-05-01T12:00:00-05:00")
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("decl", "expected"),
    [
        ({"type": "text", "required": False}, None),
        ({"type": "text", "default": "hi"}, "hi"),
        ({"type": "integer", "default": 3}, 3),
        ({"type": "duration", "default": 30}, dt.timedelta(seconds=30)),
        ({"type": "duration", "default": "PT1M"}, dt.timedelta(minutes=1)),
        (
            {"type": "datetime", "default": "2024-01-01T00:00:00Z"},
            dt.datetime(2024, 1, 1, tzinfo=UTC),
        ),
        ({"type": "choice_set", "choices": ["a", "b"], "default": ["b"]}, ["b"]),
        (
            {
                "type": "file",
                "default": {"name": "a", "media_type": "b", "content": ""},
            },
            File("a", "b", b""),
        ),
    ],
)
@pytest.mark.parametrize("given", ["absent", "null"])
def test_absent_or_null_optional_fields_read_as_their_default_or_none(
    decl: dict[str, Any], expected: Any, given: str
) -> None:
    definition = one_field(decl)
    data: dict[str, Any] = {} if given == "absent" else {"value": None}

    fast = definition.validate(data)
    slow = definition.schema.load(data)
    decoded = definition.decode_body(definition.encode_body(data))

    assert fast == slow == decoded == {"value": expected}


def test_list_defaults_are_fresh_copies() -> None:
    definition = one_field(
        {"type": "choice_set", "choices": ["a", "b"], "default": ["a"]}
    )
    first = definition.validate({})
    first["value"].append("b")
    assert definition.validate({}) == {"value": ["a"]}
    assert definition.schema.load({}) == {"value": ["a"]}


@pytest.mark.parametrize("value", [None, "absent"])
def test_required_fields_reject_null_and_absence(value: Any) -> None:
    definition = one_field({"type": "text"})
    data = {} if value == "absent" else {"value": value}
    with pytest.raises(ValidationError) as caught:
        definition.validate(data)
    assert "value" in caught.value.messages


def test_base64_content_is_accepted_as_given_by_json_clients() -> None:
    content = bytes(range(256))
    encoded = base64.b64encode(content).decode()
    result = check(
        {"type": "file"}, {"name": "x.bin", "media_type": "app/x", "content": encoded}
    )
    assert result.content == content
