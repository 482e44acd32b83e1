"""Standards defined by a published JSON Schema (validated with jsonschema, Draft 7)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from standards.base import Standard, parse_text
from standards.classification import KEY, Level
from standards.report import ValidationReport, Violation, escape_token, violations

if TYPE_CHECKING:  # jsonschema costs seconds to import (format checkers): load on first use
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import ValidationError as SchemaError

_UNION = ("anyOf", "oneOf")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _leaves(error: SchemaError) -> Iterator[SchemaError]:
    for sub in error.context or ():
        if sub.validator in _UNION and sub.context:
            yield from _leaves(sub)
        else:
            yield sub


def _sort_key(error: SchemaError) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, str(p)) for p in error.absolute_path)


def _pointer(parts: list[Any]) -> str:
    return "".join("/" + escape_token(p) for p in parts)


def convert(error: SchemaError, prefix: str = "") -> list[Violation]:
    """One jsonschema error → violations naming the offending field(s) by JSON pointer."""
    parts = list(error.absolute_path)
    kind = str(error.validator)
    message = error.message
    text = repr(error.instance)
    if len(text) > 60 and text in message:
        message = message.replace(text, _short(error.instance))
    if kind == "required" and isinstance(error.instance, Mapping):
        missing = [
            p for p in error.validator_value if p not in error.instance and repr(p) in error.message
        ]
        return [
            Violation(_pointer([*parts, p]), f"{prefix}{p!r} is a required property", kind)
            for p in missing[:1] or [""]
        ]
    if kind == "additionalProperties" and isinstance(error.instance, Mapping):
        declared = set(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in declared]
        return [
            Violation(_pointer([*parts, k]), f"{prefix}property {k!r} is not allowed here", kind)
            for k in extras
        ] or [Violation(_pointer(parts), prefix + message, kind)]
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        name = error.instance
        return [
            Violation(
                _pointer([*parts, name]),
                f"{prefix}property name {name!r} is neither a standard field nor a namespaced "
                "extension",
                "propertyNames",
            )
        ]
    if kind == "not":
        field = f"{parts[-1]!r}" if parts and isinstance(parts[-1], str) else "this value"
        message = f"{field} is not allowed here"
    return [Violation(_pointer(parts), prefix + message, kind)]


def schema_violations(validator: Draft7Validator, instance: Any) -> list[Violation]:
    """Every schema violation of `instance` (unions expanded to the fields that failed)."""
    out: list[Violation] = []
    seen: set[tuple[str, str]] = set()
    for error in sorted(validator.iter_errors(instance), key=_sort_key):
        if error.validator in _UNION and error.context:
            prefix = f"no allowed alternative matched at {_pointer(list(error.absolute_path))}: "
            found = [v for leaf in _leaves(error) for v in convert(leaf, prefix)]
        else:
            found = convert(error)
        for v in found:
            if (v.pointer, v.message) not in seen:
                seen.add((v.pointer, v.message))
                out.append(v)
    return out


def apply_overlay(
    schema: dict[str, Any], overlay: Mapping[str, Level | Mapping[str, str]]
) -> dict[str, Any]:
    """Copy of `schema` with classification keys set at the given schema-document pointers.

    A value is a level (sets `x-classification`) or a dict of keys to set, e.g.
    `{"x-classification-undeclared": "consortium"}`.
    """
    doc = copy.deepcopy(schema)
    for ptr, level in overlay.items():
        target: Any = doc
        for part in ptr.split("/")[1:]:
            key = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, list) and key.isdigit() and int(key) < len(target):
                target = target[int(key)]
            elif isinstance(target, dict) and key in target:
                target = target[key]
            else:
                raise KeyError(f"classification overlay: {ptr!r} is not in the schema")
        if isinstance(level, Mapping):
            target.update({k: Level(v).value for k, v in level.items()})
        else:
            target[KEY] = Level(level).value
    return doc


class JsonSchemaStandard(Standard):
    """A standard whose contract is a JSON Schema; a typed parser may add a model afterwards."""

    kind = "json-schema"

    def __init__(
        self,
        name: str,
        version: str,
        schema: dict[str, Any],
        *,
        overlay: Mapping[str, Level | Mapping[str, str]] | None = None,
        parse: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, version, **kwargs)
        self._source_schema = schema
        self._published = apply_overlay(schema, overlay or {})
        self._parse = parse

    @cached_property
    def _validator(self) -> Draft7Validator:
        from jsonschema import Draft7Validator

        Draft7Validator.check_schema(self._source_schema)
        return Draft7Validator(self._source_schema)

    def _raw_schema(self) -> dict[str, Any]:
        return self._published

    def validate(self, instance: Any) -> ValidationReport:
        """Validate against the JSON Schema (all errors); then parse the typed model."""
        data, errors = parse_text(instance)
        if errors:
            return ValidationReport(errors, None, self.id)
        errors = schema_violations(self._validator, data)
        if errors or self._parse is None:
            return ValidationReport(errors, None if errors else data, self.id)
        try:
            value = self._parse(data)
        except ValidationError as exc:
            return ValidationReport(violations(exc, data), None, self.id)
        return ValidationReport([], value, self.id)
