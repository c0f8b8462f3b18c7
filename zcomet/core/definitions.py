"""Message definitions: what a message of one kind holds, and its checks.

A :class:`Definition` is either declared (fields and lists of rows, read from
a mapping such as a TOML or JSON table) or built from a user's own
marshmallow ``Schema`` class. Both carry a marshmallow schema, the source of
truth for what is valid, and a fingerprint, a hash of the canonical form that
a listener compares with the sender's.

Declared definitions are also compiled into msgspec types
(:mod:`zcomet.core.compiled`) so that checking and encoding a message costs a
few microseconds; marshmallow only runs when the fast path rejects, to say
why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
import msgspec

from zcomet.core.compiled import Compiled, Rejected
from zcomet.core.fields import (
    FieldSpec,
    ListSpec,
    is_technical_name,
    parse_field,
    parse_list,
    wire_seconds,
)
from zcomet.core.schema_fields import make_field, make_rows_field
from zcomet.errors import DecodeError, DefinitionError, InvalidBody, ValidationError

__all__ = ["Definition", "derive_technical_name"]

_DEFINITION_KEYS = frozenset(
    {"name", "technical_name", "description", "fields", "lists"}
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

#: Nesting limit for bodies of definitions built from a user's schema.
_MAX_DEPTH = 32


def derive_technical_name(name: str) -> str:
    """Derive a technical name from a name: "Ticket escalation" -> "ticket_escalation".

    Accents are dropped, runs of other characters become one underscore.

    Raises:
        DefinitionError: No valid technical name can be derived.
    """
    ascii_name = (
        unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    )
    derived = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    if not is_technical_name(derived):
        raise DefinitionError(
            f"cannot derive a technical name from {name!r}; give technical_name",
            definition=name,
        )
    return derived


def _json_hash(form: Mapping[str, Any]) -> str:
    text = json.dumps(
        form, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _to_wire(value: Any) -> Any:
    """Natural values to msgpack-ready ones (durations become seconds)."""
    if isinstance(value, dt.timedelta):
        return wire_seconds(value)
    if isinstance(value, dict):
        return {key: _to_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_wire(item) for item in value]
    return value


def _depth_ok(value: Any, depth: int = 0) -> bool:
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_depth_ok(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return all(_depth_ok(item, depth + 1) for item in value)
    return True


class Definition:
    """One kind of message: its name, fields, lists, schema and fingerprint.

    Build one with :meth:`from_dict` (a declaration, as in a definitions file)
    or :meth:`from_schema` (a marshmallow ``Schema`` class), or call the
    constructor with the declaration's parts as keywords.

    Attributes:
        name: Name for people ("Ticket escalation").
        technical_name: Wire identifier ("ticket_escalation").
        description: Free text for people.
        fingerprint: 16 hex digits of SHA-256 over the canonical form, without
            names and descriptions; equal definitions have equal fingerprints
            on every machine.
        schema: The marshmallow schema instance, the source of truth.
        fields: Declared fields (empty for a schema-built definition).
        lists: Declared lists (empty for a schema-built definition).
    """

    name: str
    technical_name: str
    description: str
    fingerprint: str
    schema: ma.Schema
    fields: tuple[FieldSpec, ...]
    lists: tuple[ListSpec, ...]

    def __init__(
        self,
        name: str,
        *,
        technical_name: str | None = None,
        description: str = "",
        fields: Mapping[str, Any] | None = None,
        lists: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise DefinitionError("a definition needs a non-empty 'name'")
        if technical_name is None:
            technical_name = derive_technical_name(name)
        elif not is_technical_name(technical_name):
            raise DefinitionError(
                f"technical_name {technical_name!r} must match [a-z][a-z0-9_]*",
                definition=name,
            )
        if not isinstance(description, str):
            raise DefinitionError("description must be a string", definition=name)
        for what, table in (("fields", fields), ("lists", lists)):
            if table is not None and not isinstance(table, Mapping):
                raise DefinitionError(f"{what!r} must be a table", definition=name)

        try:
            field_specs = tuple(
                parse_field(key, decl) for key, decl in (fields or {}).items()
            )
            list_specs = tuple(
                parse_list(key, decl) for key, decl in (lists or {}).items()
            )
        except DefinitionError as exc:
            raise DefinitionError(
                exc.reason, definition=technical_name, field=exc.field
            ) from None
        clash = {spec.name for spec in field_specs} & {spec.name for spec in list_specs}
        if clash:
            raise DefinitionError(
                "a field and a list share the name",
                definition=technical_name,
                field=sorted(clash)[0],
            )

        self.name = name
        self.technical_name = technical_name
        self.description = description
        self.fields = field_specs
        self.lists = list_specs
        self._declared = {spec.name: make_field(spec) for spec in field_specs} | {
            spec.name: make_rows_field(spec, f"{technical_name}.{spec.name}")
            for spec in list_specs
        }
        self.schema = ma.Schema.from_dict(dict(self._declared), name=technical_name)()
        self._compiled: Compiled | None = Compiled(
            technical_name, field_specs, list_specs
        )
        self._canonical = self._declared_form()
        self.fingerprint = _json_hash(self._fingerprint_form())

    # --- Construction ---------------------------------------------------------

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str | None = None
    ) -> Definition:
        """Build a declared definition from its mapping form.

        Args:
            data: ``{"name", "technical_name"?, "description"?, "fields"?,
                "lists"?}``, as in a definitions file.
            source: The file it came from, for error messages.

        Raises:
            DefinitionError: The declaration is wrong; the error names the
                source, the definition and the field.
        """
        label = None
        if isinstance(data, Mapping):
            label = data.get("technical_name") or data.get("name")
        try:
            if not isinstance(data, Mapping):
                raise DefinitionError(f"a definition must be a table, not {data!r}")
            unknown = sorted(set(data) - _DEFINITION_KEYS, key=str)
            if unknown:
                raise DefinitionError(f"unknown key(s): {', '.join(map(str, unknown))}")
            return cls(
                data.get("name"),  # type: ignore[arg-type]
                technical_name=data.get("technical_name"),
                description=data.get("description", ""),
                fields=data.get("fields"),
                lists=data.get("lists"),
            )
        except DefinitionError as exc:
            raise DefinitionError(
                exc.reason,
                source=source,
                definition=exc.definition or (str(label) if label else None),
                field=exc.field,
            ) from None

    @classmethod
    def from_schema(
        cls,
        schema: type[ma.Schema],
        *,
        name: str | None = None,
        technical_name: str | None = None,
        description: str = "",
    ) -> Definition:
        """Build a definition from a user's own marshmallow ``Schema`` class.

        Such definitions validate with marshmallow alone (no fast path) and
        send the schema's ``dump`` form of the loaded data as the body.

        Args:
            schema: The Schema class (not an instance).
            name: Name for people; defaults to the class name in words.
            technical_name: Wire identifier; derived from the class name.
            description: Free text; defaults to nothing.

        Raises:
            DefinitionError: ``schema`` is not a Schema class, or no technical
                name can be derived.
        """
        if not (isinstance(schema, type) and issubclass(schema, ma.Schema)):
            raise DefinitionError(f"{schema!r} is not a marshmallow Schema class")
        base = schema.__name__.removesuffix("Schema") or schema.__name__
        words = _CAMEL.sub(" ", base).replace("_", " ").split()
        if name is None:
            name = " ".join(words).capitalize()
        if technical_name is None:
            technical_name = derive_technical_name("_".join(words))
        elif not is_technical_name(technical_name):
            raise DefinitionError(
                f"technical_name {technical_name!r} must match [a-z][a-z0-9_]*",
                definition=name,
            )

        self = cls.__new__(cls)
        self.name = name
        self.technical_name = technical_name
        self.description = description
        self.fields = ()
        self.lists = ()
        self.schema = schema()
        self._declared = {}
        self._compiled = None
        self._canonical = {
            "name": name,
            "technical_name": technical_name,
            "description": description,
            "schema": _describe_schema(self.schema),
        }
        self.fingerprint = _json_hash(self._fingerprint_form())
        return self

    # --- Canonical form -------------------------------------------------------

    def _declared_form(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "technical_name": self.technical_name,
            "description": self.description,
            "fields": {spec.name: spec.to_dict() for spec in self.fields},
            "lists": {spec.name: spec.to_dict() for spec in self.lists},
        }

    def _fingerprint_form(self) -> dict[str, Any]:
        """The canonical form without what only people read (names, descriptions)."""

        def plain(table: dict[str, Any]) -> dict[str, Any]:
            return {
                key: {k: v for k, v in decl.items() if k != "description"}
                for key, decl in table.items()
            }

        if "schema" in self._canonical:
            return {
                "technical_name": self.technical_name,
                "schema": self._canonical["schema"],
            }
        lists = {
            key: {k: v for k, v in decl.items() if k != "description"}
            | {"fields": plain(decl["fields"])}
            for key, decl in self._canonical["lists"].items()
        }
        return {
            "technical_name": self.technical_name,
            "fields": plain(self._canonical["fields"]),
            "lists": lists,
        }

    def to_dict(self) -> dict[str, Any]:
        """The canonical declared form, JSON-able; ``from_dict`` reads it back.

        For a schema-built definition the form describes the schema instead
        (under ``"schema"``) and cannot be read back.
        """
        return json.loads(json.dumps(self._canonical))  # type: ignore[no-any-return]

    # --- Messages -------------------------------------------------------------

    def _slow_validate(self, data: Any) -> dict[str, Any]:
        try:
            result = self.schema.load(data)
        except ma.ValidationError as exc:
            messages = exc.messages
            if not isinstance(messages, dict):
                messages = {"_schema": messages}
            raise ValidationError(messages, self.technical_name) from None
        return result  # type: ignore[no-any-return]

    def _prepare(self, data: Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(data, dict):
            return data
        if isinstance(data, Mapping):
            return dict(data)
        raise ValidationError({"_schema": ["Invalid input type."]}, self.technical_name)

    def validate(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Check data on the sender's side and return it as natural values.

        Accepts natural values (``datetime``, ``timedelta``, ``bytes``) and
        JSON-like ones (ISO 8601 strings, seconds, base64 file content).

        Raises:
            ValidationError: The data does not fit; ``messages`` holds
                marshmallow's per-field messages.
        """
        data = self._prepare(data)
        if self._compiled is not None:
            try:
                return self._compiled.validate(data)
            except Rejected:
                pass
        return self._slow_validate(data)

    def encode_body(self, data: Mapping[str, Any]) -> bytes:
        """Check data (as :meth:`validate`) and encode it as a msgpack body.

        Raises:
            ValidationError: The data does not fit, or cannot be encoded.
        """
        data = self._prepare(data)
        if self._compiled is not None:
            try:
                return self._compiled.encode_body(data)
            except Rejected:
                pass
        natural = self._slow_validate(data)
        wire = _to_wire(natural) if self._compiled else self.schema.dump(natural)
        try:
            return msgspec.msgpack.encode(wire)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValidationError(
                {"_schema": [f"Cannot be encoded: {exc}"]}, self.technical_name
            ) from None

    def decode_body(self, body: bytes) -> dict[str, Any]:
        """Decode and check a body received from the network.

        Safe for any input bytes: raises nothing but :class:`DecodeError`.

        Raises:
            InvalidBody: The body is msgpack but does not fit.
            DecodeError: The body is not msgpack.
        """
        if self._compiled is not None:
            return self._compiled.decode(body)
        try:
            data = msgspec.msgpack.decode(body)
        except (msgspec.DecodeError, TypeError, ValueError, RecursionError) as exc:
            raise DecodeError(f"malformed msgpack body: {exc}") from None
        if not _depth_ok(data):
            raise InvalidBody(self.technical_name, "nested too deeply")
        if not isinstance(data, dict):
            raise InvalidBody(self.technical_name, "body is not a map")
        try:
            return self._slow_validate(data)
        except ValidationError as exc:
            raise InvalidBody(self.technical_name, str(exc)) from None
        except Exception as exc:  # a user's schema may raise anything
            raise InvalidBody(
                self.technical_name, f"schema raised {type(exc).__name__}: {exc}"
            ) from None

    # --- Dunder ---------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Definition):
            return NotImplemented
        return self._canonical == other._canonical

    def __hash__(self) -> int:
        return hash((self.technical_name, self.fingerprint))

    def __repr__(self) -> str:
        return f"<Definition {self.technical_name!r} fingerprint={self.fingerprint}>"


def _describe_schema(schema: ma.Schema) -> dict[str, Any]:
    """A stable, JSON-able description of a schema's fields for the fingerprint."""

    def name_of(thing: Any) -> str:
        kind = thing if isinstance(thing, type) else type(thing)
        return f"{kind.__module__}.{kind.__qualname__}"

    def describe_value(value: Any) -> Any:
        if value is ma.missing:
            return None
        if callable(value):
            return (
                name_of(value)
                if not hasattr(value, "__qualname__")
                else (f"{getattr(value, '__module__', '')}.{value.__qualname__}")
            )
        return repr(value)

    def describe_field(item: ma.fields.Field[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": name_of(item),
            "required": item.required,
            "allow_none": item.allow_none,
            "data_key": item.data_key,
            "load_default": describe_value(item.load_default),
            "validators": [
                repr(v) if isinstance(v, ma.validate.Validator) else describe_value(v)
                for v in item.validators
            ],
        }
        if isinstance(item, ma.fields.Nested):
            out["nested"] = _describe_schema(item.schema)
        if isinstance(item, ma.fields.List):
            out["inner"] = describe_field(item.inner)
        return out

    return {
        "class": name_of(schema),
        "unknown": schema.unknown,
        "fields": {
            key: describe_field(item)
            for key, item in sorted(schema.fields.items())
            if not item.dump_only
        },
    }
