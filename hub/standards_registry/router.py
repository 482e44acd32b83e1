"""The standards catalog, JSON Schemas and a validation service that stores nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from hub.standards_registry import service
from hub.standards_registry.schemas import StandardPublic, ValidationResult, ViolationPublic
from standards import registry
from standards.classification import shareable_projection

router = APIRouter(prefix="/standards", tags=["standards"])


@router.get("", response_model=list[StandardPublic])
def catalog() -> list[StandardPublic]:
    """Every registered standard version with its classification summary."""
    return [StandardPublic.model_validate(i.model_dump()) for i in registry.catalog()]


@router.get("/{name}/{version}")
def json_schema(name: str, version: str, response: Response) -> dict[str, Any]:
    """The JSON Schema of one standard version (``x-classification`` on every field)."""
    std = service.lookup(name, version)
    service.deprecation_headers(std, response)
    return std.json_schema()


@router.post("/{name}/{version}/validate", response_model=ValidationResult)
def validate(name: str, version: str, response: Response,
             payload: Any = Body(..., description="one instance or a JSON array of instances"),
             ) -> ValidationResult:
    """Validate one instance or an array against a standard; report only, nothing stored."""
    std = service.lookup(name, version)
    service.deprecation_headers(std, response)
    batch = isinstance(payload, list) and name != "epcis-document"
    items = payload if batch else [payload]
    reports = std.validate_many(items)
    errors = service.report_errors(reports, indexed=batch)
    invalid = sum(not r.ok for r in reports)
    projection: Any = None
    if not invalid:
        shared = [shareable_projection(std.id, item) for item in items if isinstance(item, dict)]
        projection = shared if batch else (shared[0] if shared else None)
    return ValidationResult(standard=std.id, valid=not invalid, records=len(items),
                            invalid_records=invalid,
                            errors=[ViolationPublic.model_validate(e) for e in errors],
                            shareable_projection=projection)
