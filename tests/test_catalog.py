"""Catalogs: building, look-up, and loading TOML and JSON files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zcomet.core.catalog import Catalog
from zcomet.core.definitions import Definition
from zcomet.errors import DefinitionError

TOML = """
[[definitions]]
name = "Ticket escalation"
technical_name = "ticket_escalation"
description = "A ticket raised to the duty officer"

[definitions.fields]
ticket_id = { type = "text", max_length = 32, pattern = "T-[0-9]+" }
[definitions.fields.priority]
type = "choice"
choices = ["low", "normal", "high", "critical"]
default = "normal"

[definitions.lists.events]
max_rows = 50
[definitions.lists.events.fields]
at = { type = "datetime" }
note = { type = "text", max_length = 500 }

[[definitions]]
name = "Disk full"
[definitions.fields]
host = { type = "text" }
"""

TOML_REORDERED = """
[[definitions]]
name = "Disk full"
fields = { host = { type = "text" } }

[[definitions]]
technical_name = "ticket_escalation"
name = "Ticket escalation"
description = "A ticket raised to the duty officer"

[definitions.lists.events.fields]
note = { max_length = 500, type = "text" }
at = { type = "datetime" }
[definitions.lists.events]
max_rows = 50

[definitions.fields]
priority = { default = "normal", type = "choice", choices = [
    "low", "normal", "high", "critical"] }
ticket_id = { pattern = "T-[0-9]+", type = "text", max_length = 32 }
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_toml_file_loads_into_a_catalog(tmp_path: Path) -> None:
    catalog = Catalog.load(write(tmp_path, "defs.toml", TOML))

    assert len(catalog) == 2
    assert "ticket_escalation" in catalog and "disk_full" in catalog
    assert [d.technical_name for d in catalog] == ["ticket_escalation", "disk_full"]
    assert catalog["disk_full"].name == "Disk full"
    assert catalog.get("nope") is None
    with pytest.raises(KeyError):
        catalog["nope"]


def test_the_same_catalog_as_json_has_the_same_fingerprints(tmp_path: Path) -> None:
    from_toml = Catalog.load(write(tmp_path, "defs.toml", TOML))
    data = {"definitions": [d.to_dict() for d in from_toml]}
    from_json = Catalog.load(write(tmp_path, "defs.json", json.dumps(data)))

    for definition in from_toml:
        assert from_json[definition.technical_name] == definition
        assert (
            from_json[definition.technical_name].fingerprint == definition.fingerprint
        )


def test_fingerprints_do_not_depend_on_order_in_the_file(tmp_path: Path) -> None:
    first = Catalog.load(write(tmp_path, "a.toml", TOML))
    second = Catalog.load(write(tmp_path, "b.toml", TOML_REORDERED))
    for definition in first:
        assert second[definition.technical_name].fingerprint == definition.fingerprint


def test_a_catalog_is_built_in_python() -> None:
    alert = Definition("Alert", fields={"level": {"type": "integer"}})
    catalog = Catalog([alert])
    catalog.add(Definition("Heartbeat"))

    assert catalog["alert"] is alert
    assert len(catalog) == 2


def test_duplicate_technical_names_are_rejected() -> None:
    catalog = Catalog([Definition("Alert")])
    with pytest.raises(DefinitionError, match="duplicate") as caught:
        catalog.add(Definition("Other", technical_name="alert"))
    assert caught.value.definition == "alert"


def test_duplicate_technical_names_in_a_file_name_the_file(tmp_path: Path) -> None:
    text = '[[definitions]]\nname = "Alert"\n[[definitions]]\nname = "alert"\n'
    path = write(tmp_path, "dup.toml", text)
    with pytest.raises(DefinitionError, match="duplicate") as caught:
        Catalog.load(path)
    assert caught.value.source == str(path)
    assert caught.value.definition == "alert"


@pytest.mark.parametrize(
    ("text", "definition", "field", "reason"),
    [
        (
            '[[definitions]]\nname = "Alert"\n[definitions.fields]\n'
            'level = { type = "int" }\n',
            "alert",
            "level",
            "unknown type",
        ),
        (
            '[[definitions]]\nname = "Alert"\n[definitions.fields]\n'
            'level = { type = "integer", pattern = "x" }\n',
            "alert",
            "level",
            "unknown key",
        ),
        (
            '[[definitions]]\nname = "Alert"\n[definitions.fields]\n'
            'level = { type = "integer", default = "high" }\n',
            "alert",
            "level",
            "default",
        ),
        (
            '[[definitions]]\nname = "Alert"\n[definitions.lists.rows.fields]\n'
            'at = { type = "datetime", default = 2024-01-01T00:00:00 }\n',
            "alert",
            "rows.at",
            "default",
        ),
        ('[[definitions]]\ndescription = "no name"\n', "#0", None, "name"),
        ('[[definitions]]\nname = "Alert"\ncolour = 1\n', "Alert", None, "unknown"),
    ],
)
def test_bad_files_name_the_file_definition_and_field(
    tmp_path: Path, text: str, definition: str, field: str | None, reason: str
) -> None:
    path = write(tmp_path, "bad.toml", text)

    with pytest.raises(DefinitionError, match=reason) as caught:
        Catalog.load(path)

    assert caught.value.source == str(path)
    assert caught.value.definition == definition
    assert caught.value.field == field
    assert str(path) in str(caught.value)


def test_a_toml_datetime_default_is_accepted(tmp_path: Path) -> None:
    text = (
        '[[definitions]]\nname = "Alert"\n[definitions.fields]\n'
        'since = { type = "datetime", default = 2024-01-01T00:00:00Z }\n'
    )
    catalog = Catalog.load(write(tmp_path, "ok.toml", text))
    assert catalog["alert"].validate({})["since"].year == 2024


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("bad.toml", "[[definitions]\n", "cannot parse"),
        ("bad.json", "{", "cannot parse"),
        ("dup.json", '{"definitions": [], "definitions": []}', "duplicate key"),
        ("top.json", '{"defs": []}', "unknown top-level"),
        ("list.json", '{"definitions": {}}', "array"),
        ("defs.yaml", "definitions: []", "unsupported"),
    ],
)
def test_unreadable_files_name_the_file(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(DefinitionError, match=reason) as caught:
        Catalog.load(path)
    assert caught.value.source == str(path)


def test_a_missing_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="cannot read"):
        Catalog.load(tmp_path / "missing.toml")


def test_an_empty_file_is_an_empty_catalog(tmp_path: Path) -> None:
    assert len(Catalog.load(write(tmp_path, "empty.toml", ""))) == 0
