"""The `Standard` contract (a named, versioned schema) and its pydantic-model implementation."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import cached_property
from importlib import resources
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from standards.classification import Level, SchemaIndex, field_levels, fill_marks
from standards.report import ValidationReport, Violation, batch_violations, violations

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
VERSION_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def parse_version(version: str) -> tuple[int, int, int]:
    """`"1.2.3"` → `(1, 2, 3)`; raises ValueError for anything but MAJOR.MINOR.PATCH."""
    m = VERSION_RE.match(version)
    if not m:
        raise ValueError(f"not a semantic version (MAJOR.MINOR.PATCH): {version!r}")
    return int(m[1]), int(m[2]), int(m[3])


class StandardModel(BaseModel):
    """Base of every schema model: unknown fields rejected, no NaN/inf, aliases on output."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, serialize_by_alias=True)


def fail_fields(model: BaseModel, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Raise one validation error per (loc inside `model`, message) so each field is named."""
    if not problems:
        return
    details: list[InitErrorDetails] = []
    for loc, message in problems:
        value: Any = model
        for part in loc:
            value = value[part] if isinstance(part, int) else getattr(value, part, None)
        details.append(
            InitErrorDetails(
                type=PydanticCustomError(
                    "consistency", message.replace("{", "(").replace("}", ")")
                ),
                loc=loc,
                input=value,
            )
        )
    raise ValidationError.from_exception_data(type(model).__name__, details)


class StandardInfo(BaseModel):
    """Catalog entry for one standard version."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    version: str
    title: str
    description: str
    deprecated: bool
    superseded_by: str | None
    classification: dict[str, int]
    restricted_fields: dict[str, str]


def load_json(package: str, resource: str) -> Any:
    """Read a JSON file shipped inside a package."""
    return json.loads(resources.files(package).joinpath(resource).read_text(encoding="utf-8"))


def parse_text(instance: Any) -> tuple[Any, list[Violation]]:
    """Decode JSON text/bytes to data; other values pass through unchanged."""
    if isinstance(instance, str | bytes | bytearray):
        try:
            return json.loads(instance), []
        except ValueError as exc:
            return None, [Violation("", f"invalid JSON: {exc}", "json_invalid")]
    return instance, []


class Standard(ABC):
    """A named, semantically versioned data-interface schema."""

    kind: ClassVar[str] = "abstract"

    def __init__(
        self,
        name: str,
        version: str,
        *,
        title: str,
        description: str,
        deprecated: bool = False,
        superseded_by: str | None = None,
        examples: list[dict[str, Any]] | None = None,
    ) -> None:
        if not NAME_RE.match(name):
            raise ValueError(f"standard names are lowercase-kebab-case: {name!r}")
        self.name = name
        self.version = version
        self.version_info = parse_version(version)
        self.title = title
        self.description = description
        self.deprecated = deprecated
        self.superseded_by = superseded_by
        self._examples = examples or []
        if deprecated and not superseded_by:
            raise ValueError(f"{self.id}: a deprecated standard names its successor")

    @property
    def id(self) -> str:
        """`name/version`, e.g. `sensor-reading/1.0.0`."""
        return f"{self.name}/{self.version}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}{' (deprecated)' if self.deprecated else ''}>"

    @abstractmethod
    def _raw_schema(self) -> dict[str, Any]:
        """The JSON Schema before classification marks are filled in."""

    @cached_property
    def _schema(self) -> dict[str, Any]:
        schema = fill_marks(self._raw_schema())
        schema.setdefault("$id", f"urn:fedhub:standard:{self.id}")
        schema["x-standard"] = {"name": self.name, "version": self.version}
        if self.deprecated:
            schema["deprecated"] = True
            schema["x-superseded-by"] = self.superseded_by
        return schema

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema (every property carries `x-classification`); a fresh copy."""
        return json.loads(json.dumps(self._schema))

    @cached_property
    def classification_index(self) -> SchemaIndex:
        """Classification lookups over this standard's JSON Schema."""
        return SchemaIndex(self._schema)

    def examples(self) -> list[dict[str, Any]]:
        """Valid example instances shipped with the standard (copies)."""
        return json.loads(json.dumps(self._examples))

    @abstractmethod
    def validate(self, instance: Any) -> ValidationReport:
        """Validate one instance (data, a model, or JSON text); collects every violation."""

    def validate_many(self, instances: Iterable[Any]) -> list[ValidationReport]:
        """Validate a batch; one report per instance, in order."""
        return [self.validate(i) for i in instances]

    def info(self) -> StandardInfo:
        """Catalog entry: metadata plus a classification summary."""
        levels = field_levels(self.classification_index)
        counts = {lvl.value: 0 for lvl in Level}
        for _, lvl in levels:
            counts[lvl.value] += 1
        restricted = {p: lvl.value for p, lvl in levels if lvl.rank > Level.consortium.rank}
        return StandardInfo(
            id=self.id,
            name=self.name,
            version=self.version,
            title=self.title,
            description=self.description,
            deprecated=self.deprecated,
            superseded_by=self.superseded_by,
            classification=counts,
            restricted_fields=restricted,
        )


class ModelStandard(Standard):
    """A standard defined by a pydantic model (validation = the model)."""

    kind = "pydantic"

    def __init__(self, model: type[BaseModel], name: str, version: str, **kwargs: Any) -> None:
        doc = (model.__doc__ or "").strip().splitlines()
        kwargs.setdefault("title", doc[0] if doc else model.__name__)
        kwargs.setdefault("description", " ".join(line.strip() for line in doc[1:]).strip())
        super().__init__(name, version, **kwargs)
        self.model = model
        self._adapter: TypeAdapter[list[Any]] = TypeAdapter(list[model])  # type: ignore[valid-type]

    def _raw_schema(self) -> dict[str, Any]:
        schema = self.model.model_json_schema(by_alias=True)
        schema["title"] = self.title
        if self._examples:
            schema["examples"] = self._examples[:1]
        return schema

    def validate(self, instance: Any) -> ValidationReport:
        """Validate one instance against the model; `.value` is the model on success."""
        data, errors = parse_text(instance)
        if errors:
            return ValidationReport(errors, None, self.id)
        try:
            value = self.model.model_validate(data)
        except ValidationError as exc:
            return ValidationReport(violations(exc, data), None, self.id)
        return ValidationReport([], value, self.id)

    def validate_many(self, instances: Iterable[Any]) -> list[ValidationReport]:
        """Whole batch in one pydantic call; on failure, per-record reports from the same errors."""
        records = instances if isinstance(instances, list) else list(instances)
        sid = self.id
        try:
            values = self._adapter.validate_python(records)
        except ValidationError as exc:
            return self._after_failure(records, exc)
        return [ValidationReport([], v, sid) for v in values]

    def validate_json_batch(self, data: bytes | str) -> list[ValidationReport]:
        """Validate a JSON array of records straight from bytes (the hub's ingest path)."""
        try:
            values = self._adapter.validate_json(data)
        except ValidationError:
            records, errors = parse_text(data)
            if errors:
                return [ValidationReport(errors, None, self.id)]
            if not isinstance(records, list):
                v = Violation("", "expected a JSON array of records", "list_type")
                return [ValidationReport([v], None, self.id)]
            return self.validate_many(records)
        return [ValidationReport([], v, self.id) for v in values]

    def _after_failure(self, records: list[Any], exc: ValidationError) -> list[ValidationReport]:
        by_index = batch_violations(exc, records)
        reports = [ValidationReport([], None, self.id) for _ in records]
        for idx, errs in by_index.items():
            if 0 <= idx < len(records):
                reports[idx].errors = errs
        good = [i for i, r in enumerate(reports) if r.ok]
        if good:
            try:
                values = self._adapter.validate_python([records[i] for i in good])
            except ValidationError:  # pragma: no cover - defensive: validate one by one
                return [self.validate(r) for r in records]
            for i, v in zip(good, values, strict=True):
                reports[i].value = v
        return reports
