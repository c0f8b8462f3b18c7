"""A catalog: the set of definitions a sender or listener knows, by technical name.

Catalogs are built in Python or loaded from a TOML or JSON file::

    [[definitions]]
    name = "Ticket escalation"
    [definitions.fields]
    ticket_id = { type = "text", max_length = 32 }
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from zcomet.core.definitions import Definition
from zcomet.errors import DefinitionError

__all__ = ["Catalog"]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook: a key given twice is an error, as in TOML."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DefinitionError(f"duplicate key {key!r}")
        out[key] = value
    return out


class Catalog:
    """A set of definitions, looked up by technical name.

    Iterating yields the definitions in the order they were added.

    Args:
        definitions: Definitions to add, as by :meth:`add`.
    """

    def __init__(self, definitions: Iterable[Definition] = ()) -> None:
        self._by_name: dict[str, Definition] = {}
        for definition in definitions:
            self.add(definition)

    def add(self, definition: Definition) -> None:
        """Add a definition.

        Raises:
            DefinitionError: Another definition has the same technical name.
        """
        if definition.technical_name in self._by_name:
            raise DefinitionError(
                "duplicate technical name", definition=definition.technical_name
            )
        self._by_name[definition.technical_name] = definition

    def __getitem__(self, technical_name: str) -> Definition:
        return self._by_name[technical_name]

    def get(self, technical_name: str) -> Definition | None:
        """The definition with this technical name, or None."""
        return self._by_name.get(technical_name)

    def __contains__(self, technical_name: object) -> bool:
        return technical_name in self._by_name

    def __iter__(self) -> Iterator[Definition]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"<Catalog {sorted(self._by_name)}>"

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str | None = None
    ) -> Catalog:
        """Build a catalog from ``{"definitions": [ {...}, ... ]}``.

        Raises:
            DefinitionError: The data is wrong; the error names the source,
                the definition (technical name, name or ``#index``) and field.
        """
        if not isinstance(data, Mapping):
            raise DefinitionError("the top level must be a table", source=source)
        unknown = sorted(set(data) - {"definitions"}, key=str)
        if unknown:
            raise DefinitionError(
                f"unknown top-level key(s): {', '.join(map(str, unknown))}",
                source=source,
            )
        entries = data.get("definitions", [])
        if not isinstance(entries, list):
            raise DefinitionError("'definitions' must be an array", source=source)

        catalog = cls()
        for index, entry in enumerate(entries):
            try:
                definition = Definition.from_dict(entry, source=source)
            except DefinitionError as exc:
                if exc.definition is not None:
                    raise
                raise DefinitionError(
                    exc.reason, source=source, definition=f"#{index}", field=exc.field
                ) from None
            try:
                catalog.add(definition)
            except DefinitionError as exc:
                raise DefinitionError(
                    exc.reason, source=source, definition=exc.definition
                ) from None
        return catalog

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Catalog:
        """Load a catalog from a ``.toml`` or ``.json`` file.

        Raises:
            DefinitionError: The file cannot be read or parsed, or holds a wrong
                definition; the error names the file, definition and field.
        """
        path = Path(path)
        source = str(path)
        suffix = path.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise DefinitionError(
                f"unsupported file type {path.suffix!r}; use .toml or .json",
                source=source,
            )
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DefinitionError(
                f"cannot read: {exc.strerror}", source=source
            ) from exc
        try:
            if suffix == ".toml":
                data = tomllib.loads(raw.decode("utf-8"))
            else:
                data = json.loads(raw, object_pairs_hook=_no_duplicates)
        except DefinitionError as exc:
            raise DefinitionError(exc.reason, source=source) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise DefinitionError(f"cannot parse: {exc}", source=source) from exc
        return cls.from_dict(data, source=source)
