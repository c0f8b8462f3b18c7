"""Definitions: names, declarations, fingerprints, schemas and bodies."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from types import MappingProxyType
from typing import Any

import marshmallow as ma
import msgpack
import pytest

from zcomet.core.definitions import Definition, derive_technical_name
from zcomet.core.fields import File
from zcomet.errors import DecodeError, DefinitionError, InvalidBody, ValidationError

UTC = dt.UTC

ESCALATION: dict[str, Any] = {
    "name": "Ticket escalation",
    "description": "A ticket raised to the duty officer",
    "fields": {
        "ticket_id": {"type": "text", "max_length": 32, "pattern": "T-[0-9]+"},
        "priority": {
            "type": "choice",
            "choices": ["low", "normal", "high", "critical"],
            "default": "normal",
        },
        "attempts": {"type": "integer", "min": 0},
        "score": {"type": "number", "min": 0, "max": 1},
        "urgent": {"type": "yes_no"},
        "raised_at": {"type": "datetime"},
        "wait": {"type": "duration", "max": 3600, "default": 60},
        "summary": {"type": "rich_text", "required": False},
        "labels": {"type": "choice_set", "choices": ["hw", "sw", "net"]},
        "attachment": {"type": "file", "required": False},
    },
    "lists": {
        "events": {
            "max_rows": 50,
            "fields": {
                "at": {"type": "datetime"},
                "note": {"type": "text", "max_length": 500},
            },
        }
    },
}

NATURAL: dict[str, Any] = {
    "ticket_id": "T-42",
    "priority": "high",
    "attempts": 2,
    "score": 0.5,
    "urgent": True,
    "raised_at": dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
    "wait": dt.timedelta(seconds=90),
    "summary": "<p>disk full</p>",
    "labels": ["hw", "net"],
    "attachment": File("log.txt", "text/plain", b"ERR 1\n"),
    "events": [
        {"at": dt.datetime(2024, 5, 1, 9, i, tzinfo=UTC), "note": f"step {i}"}
        for i in range(5)
    ],
}

JSON_LIKE: dict[str, Any] = {
    **NATURAL,
    "raised_at": "2024-05-01T11:30:00+02:00",
    "wait": "PT1M30S",
    "attachment": {
        "name": "log.txt",
        "media_type": "text/plain",
        "content": "RVJSIDEK",
    },
    "events": [
        {"at": f"2024-05-01T09:{i:02d}:00Z", "note": f"step {i}"} for i in range(5)
    ],
}


@pytest.fixture(scope="module")
def escalation() -> Definition:
    return Definition.from_dict(ESCALATION)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ticket escalation", "ticket_escalation"),
        ("  Disk  full!  ", "disk_full"),
        ("Café order", "cafe_order"),
        ("HTTP 500 error rate", "http_500_error_rate"),
    ],
)
def test_technical_names_are_derived_from_names(name: str, expected: str) -> None:
    assert derive_technical_name(name) == expected
    assert Definition(name).technical_name == expected


@pytest.mark.parametrize("name", ["2FA code", "!!!", "日本"])
def test_underivable_names_ask_for_a_technical_name(name: str) -> None:
    with pytest.raises(DefinitionError, match="technical_name"):
        Definition(name)
    assert Definition(name, technical_name="custom").technical_name == "custom"


def test_natural_values_validate_to_themselves(escalation: Definition) -> None:
    assert escalation.validate(NATURAL) == NATURAL


def test_json_like_values_validate_to_natural_values(escalation: Definition) -> None:
    assert escalation.validate(JSON_LIKE) == NATURAL


def test_any_mapping_is_accepted(escalation: Definition) -> None:
    assert escalation.validate(MappingProxyType(NATURAL)) == NATURAL


def test_a_non_mapping_is_a_validation_error(escalation: Definition) -> None:
    with pytest.raises(ValidationError):
        escalation.validate([("ticket_id", "T-1")])  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [NATURAL, JSON_LIKE], ids=["natural", "json-like"])
def test_a_body_round_trips_to_natural_values(
    escalation: Definition, data: dict[str, Any]
) -> None:
    body = escalation.encode_body(data)
    assert escalation.decode_body(body) == NATURAL


def test_the_body_uses_plain_msgpack_with_timestamps(escalation: Definition) -> None:
    wire = msgpack.unpackb(escalation.encode_body(NATURAL), timestamp=3)

    assert wire["raised_at"] == NATURAL["raised_at"]
    assert wire["wait"] == 90
    assert wire["attachment"] == {
        "name": "log.txt",
        "media_type": "text/plain",
        "content": b"ERR 1\n",
    }
    assert wire["labels"] == ["hw", "net"]


def test_a_peer_body_in_plain_msgpack_is_understood(escalation: Definition) -> None:
    wire = {
        "ticket_id": "T-1",
        "attempts": 0,
        "score": 1,
        "urgent": False,
        "raised_at": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "labels": [],
        "wait": 1.25,
    }
    body = msgpack.packb(wire, datetime=True)

    result = escalation.decode_body(body)

    assert result["score"] == 1.0
    assert result["wait"] == dt.timedelta(seconds=1.25)
    assert result["priority"] == "normal"
    assert result["summary"] is None
    assert result["events"] == []


def test_validation_errors_carry_per_field_messages(escalation: Definition) -> None:
    data = {**NATURAL, "attempts": -1, "events": [{"at": "soon", "note": "x"}]}

    with pytest.raises(ValidationError) as caught:
        escalation.encode_body(data)

    assert caught.value.definition == "ticket_escalation"
    assert set(caught.value.messages) == {"attempts", "events"}
    assert caught.value.messages["events"] == {0: {"at": ["Not a valid date-time."]}}


def test_unknown_keys_are_rejected(escalation: Definition) -> None:
    with pytest.raises(ValidationError) as caught:
        escalation.validate({**NATURAL, "priorty": "low"})
    assert caught.value.messages == {"priorty": ["Unknown field."]}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", DecodeError),
        (b"\xc1", DecodeError),
        (Definition.from_dict(ESCALATION).encode_body(NATURAL) + b"\x00", DecodeError),
        (msgpack.packb([1, 2]), InvalidBody),
        (msgpack.packb({"ticket_id": "T-1"}), InvalidBody),
        (msgpack.packb({**JSON_LIKE, "attempts": 1.5}), InvalidBody),
        (msgpack.packb({**JSON_LIKE, "extra": 1}), InvalidBody),
        (msgpack.packb({**JSON_LIKE, "labels": ["hw", "hw"]}), InvalidBody),
        (msgpack.packb({**JSON_LIKE, "wait": 7200}), InvalidBody),
    ],
)
def test_bad_bodies_raise_decode_errors(
    escalation: Definition, body: bytes, error: type[DecodeError]
) -> None:
    with pytest.raises(error) as caught:
        escalation.decode_body(body)
    assert isinstance(caught.value, DecodeError)
    if error is DecodeError:
        assert not isinstance(caught.value, InvalidBody)


def test_fingerprints_are_16_hex_digits(escalation: Definition) -> None:
    assert len(escalation.fingerprint) == 16
    int(escalation.fingerprint, 16)


def test_fingerprints_do_not_depend_on_key_order(escalation: Definition) -> None:
    shuffled = {
        key: dict(reversed(value.items())) if isinstance(value, dict) else value
        for key, value in reversed(ESCALATION.items())
    }
    assert Definition.from_dict(shuffled).fingerprint == escalation.fingerprint


def test_fingerprints_are_the_same_in_another_process(escalation: Definition) -> None:
    code = (
        "import json, sys\n"
        "from zcomet.core.definitions import Definition\n"
        "print(Definition.from_dict(json.loads(sys.stdin.read())).fingerprint)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(ESCALATION),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    assert result.stdout.strip() == escalation.fingerprint


@pytest.mark.parametrize(
    "change",
    [
        ("fields", "ticket_id", "max_length", 33),
        ("fields", "priority", "default", "low"),
        ("fields", "attempts", "required", False),
        ("fields", "urgent", "type", "boolean"),
    ],
)
def test_fingerprints_change_with_what_is_valid(
    escalation: Definition, change: tuple[str, str, str, Any]
) -> None:
    table, key, option, value = change
    changed = json.loads(json.dumps(ESCALATION))
    changed[table][key][option] = value
    fingerprint = Definition.from_dict(changed).fingerprint
    if (key, option) == ("urgent", "type"):
        assert fingerprint == escalation.fingerprint  # yes_no is boolean
    else:
        assert fingerprint != escalation.fingerprint


def test_fingerprints_ignore_names_and_descriptions(escalation: Definition) -> None:
    changed = json.loads(json.dumps(ESCALATION))
    changed["name"] = "Escalated ticket"
    changed["technical_name"] = "ticket_escalation"
    changed["description"] = "Reworded"
    changed["fields"]["urgent"]["description"] = "Wake someone up"
    assert Definition.from_dict(changed).fingerprint == escalation.fingerprint


def test_the_canonical_form_reads_back(escalation: Definition) -> None:
    form = escalation.to_dict()
    again = Definition.from_dict(json.loads(json.dumps(form)))
    assert again == escalation
    assert again.fingerprint == escalation.fingerprint
    assert form["fields"]["urgent"]["type"] == "boolean"
    assert form["fields"]["wait"] == {
        "type": "duration",
        "required": False,
        "max": 3600.0,
        "default": 60,
    }


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"a": {"type": "txt"}}, "a", "unknown type"),
        ({"a": {}}, "a", "type"),
        ({"a": {"type": "text", "colour": "red"}}, "a", "unknown key"),
        ({"a": {"type": "integer", "max_length": 3}}, "a", "unknown key"),
        ({"a": {"type": "text", "pattern": "("}}, "a", "regular expression"),
        ({"a": {"type": "integer", "min": 1.5}}, "a", "64-bit"),
        ({"a": {"type": "number", "min": 2, "max": 1}}, "a", "greater"),
        ({"a": {"type": "text", "max_length": -1}}, "a", "non-negative"),
        ({"a": {"type": "choice"}}, "a", "choices"),
        ({"a": {"type": "choice", "choices": ["x", "x"]}}, "a", "distinct"),
        ({"a": {"type": "choice", "choices": ["x"], "default": "y"}}, "a", "default"),
        ({"a": {"type": "integer", "default": "1"}}, "a", "default"),
        ({"a": {"type": "text", "default": "x", "required": True}}, "a", "required"),
        ({"a": {"type": "text", "required": "no"}}, "a", "required"),
        ({"Bad Name": {"type": "text"}}, "Bad Name", "must match"),
    ],
)
def test_bad_fields_name_the_definition_and_field(
    fields: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(DefinitionError, match=reason) as caught:
        Definition.from_dict({"name": "Bad one", "fields": fields}, source="x.toml")
    assert caught.value.source == "x.toml"
    assert caught.value.definition == "bad_one"
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("lists", "field", "reason"),
    [
        ({"rows": {"fields": {"a": {"type": "nope"}}}}, "rows.a", "unknown type"),
        ({"rows": {"fields": {}}}, "rows", "fields"),
        ({"rows": {"fields": {"a": {"type": "text"}}, "lists": {}}}, "rows", "unknown"),
        (
            {"rows": {"fields": {"a": {"type": "text"}}, "min_rows": 3, "max_rows": 1}},
            "rows",
            "greater",
        ),
    ],
)
def test_bad_lists_name_the_list_and_field(
    lists: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(DefinitionError, match=reason) as caught:
        Definition.from_dict({"name": "Bad one", "lists": lists})
    assert caught.value.field == field


def test_a_field_and_a_list_cannot_share_a_name() -> None:
    with pytest.raises(DefinitionError, match="share"):
        Definition(
            "Clash",
            fields={"a": {"type": "text"}},
            lists={"a": {"fields": {"b": {"type": "text"}}}},
        )


def test_unknown_definition_keys_are_rejected() -> None:
    with pytest.raises(DefinitionError, match="unknown key") as caught:
        Definition.from_dict({"name": "Odd", "feilds": {}})
    assert caught.value.definition == "Odd"


def test_field_names_may_be_python_keywords() -> None:
    definition = Definition("Keywords", fields={"class": {"type": "text"}})
    body = definition.encode_body({"class": "x"})
    assert definition.decode_body(body) == {"class": "x"}


@pytest.mark.parametrize(
    ("rows", "accepted"),
    [("absent", True), (None, True), ([], False), ([{"n": 1}], True)],
)
def test_optional_lists_read_as_empty_and_min_rows_applies_when_given(
    rows: Any, accepted: bool
) -> None:
    definition = Definition(
        "Rows",
        lists={"items": {"min_rows": 1, "fields": {"n": {"type": "integer"}}}},
    )
    data = {} if rows == "absent" else {"items": rows}
    if accepted:
        expected = {"items": rows if isinstance(rows, list) else []}
        assert definition.validate(data) == expected
        assert definition.schema.load(data) == expected
    else:
        with pytest.raises(ValidationError):
            definition.validate(data)


def test_required_lists_must_be_given() -> None:
    definition = Definition(
        "Rows",
        lists={"items": {"required": True, "fields": {"n": {"type": "integer"}}}},
    )
    with pytest.raises(ValidationError) as caught:
        definition.validate({})
    assert "items" in caught.value.messages


class TicketClosedSchema(ma.Schema):
    ticket_id = ma.fields.String(required=True, validate=ma.validate.Length(max=8))
    closed_at = ma.fields.AwareDateTime(required=True)
    note = ma.fields.String(load_default=None)


def test_definitions_are_made_from_a_users_schema() -> None:
    definition = Definition.from_schema(TicketClosedSchema)
    data = {"ticket_id": "T-1", "closed_at": "2024-01-01T00:00:00+00:00"}

    body = definition.encode_body(data)

    assert definition.name == "Ticket closed"
    assert definition.technical_name == "ticket_closed"
    assert definition.decode_body(body) == {
        "ticket_id": "T-1",
        "closed_at": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "note": None,
    }
    with pytest.raises(ValidationError) as caught:
        definition.validate({"ticket_id": "T-123456789"})
    assert set(caught.value.messages) == {"ticket_id", "closed_at"}


@pytest.mark.parametrize(
    "body",
    [b"\xc1", b"\x91" * 100_000 + b"\xc0", msgpack.packb([1]), msgpack.packb({"x": 1})],
)
def test_schema_definitions_raise_only_decode_errors(body: bytes) -> None:
    definition = Definition.from_schema(TicketClosedSchema)
    with pytest.raises(DecodeError):
        definition.decode_body(body)


def test_schema_fingerprints_are_stable_and_follow_the_schema() -> None:
    class Other(ma.Schema):
        ticket_id = ma.fields.String(required=True, validate=ma.validate.Length(max=9))
        closed_at = ma.fields.AwareDateTime(required=True)
        note = ma.fields.String(load_default=None)

    first = Definition.from_schema(TicketClosedSchema)
    second = Definition.from_schema(TicketClosedSchema, name="Closed")
    other = Definition.from_schema(Other, technical_name="ticket_closed")

    assert first.fingerprint == second.fingerprint
    assert first.fingerprint != other.fingerprint
    assert "schema" in first.to_dict()


def test_from_schema_wants_a_schema_class() -> None:
    with pytest.raises(DefinitionError):
        Definition.from_schema(TicketClosedSchema())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "wire"),
    [(dt.timedelta(seconds=90), 90), ("PT1.5S", 1.5), (2, 2), (None, None)],
)
def test_durations_travel_as_seconds_in_fields_and_rows(given: Any, wire: Any) -> None:
    definition = Definition(
        "Timings",
        fields={"total": {"type": "duration", "required": False}},
        lists={"laps": {"fields": {"lap": {"type": "duration", "required": False}}}},
    )
    data = {"total": given, "laps": [{"lap": given}, {}]}

    body = msgpack.unpackb(definition.encode_body(data))

    assert body.get("total") == wire
    assert body["laps"][0].get("lap") == wire
    assert type(body.get("total")) is type(wire)
