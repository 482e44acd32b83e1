"""API shapes for the standards catalog and validation reports."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class StandardPublic(BaseModel):
    id: str
    name: str
    version: str
    title: str
    description: str
    deprecated: bool
    superseded_by: str | None
    classification: dict[str, int]
    restricted_fields: dict[str, str]


class ViolationPublic(BaseModel):
    pointer: str
    message: str
    type: str | None = None


class ValidationResult(BaseModel):
    standard: str
    valid: bool
    records: int
    invalid_records: int
    errors: list[ViolationPublic]
    shareable_projection: dict[str, Any] | list[dict[str, Any]] | None = None
