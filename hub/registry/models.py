"""Registry tables: model versions with lineage, and their artifacts (bytes kept apart)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow


class ModelStatus(StrEnum):
    candidate = "candidate"
    shadow = "shadow"
    production = "production"
    retired = "retired"


class ModelVersion(SQLModel, table=True):
    """A trained model of a task: lineage, final evaluation, lifecycle state."""

    __tablename__ = "registry_model_version"
    __table_args__ = (sa.UniqueConstraint("task", "version", name="uq_registry_task_version"),)
    __audit_entity__ = "model_version"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    task: str = Field(max_length=64, index=True)
    version: int
    status: ModelStatus = Field(default=ModelStatus.candidate, sa_type=sa.String(12),
                                index=True)
    status_reason: str | None = Field(default=None, max_length=2000)
    run_id: str | None = Field(default=None, max_length=36, index=True)
    lineage: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    final_metrics: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    indicators: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    passed: bool = False
    code_hash: str = Field(max_length=80)
    task_version: str = Field(max_length=40)
    artifact_sha256: str = Field(max_length=80)
    artifact_size: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    promoted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    promoted_by: str | None = Field(default=None, max_length=36)
    previous_production_id: str | None = Field(default=None, max_length=36)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ModelArtifact(SQLModel, table=True):
    """The serialized model bundle of a version (write-once)."""

    __tablename__ = "registry_model_artifact"

    model_id: str = Field(foreign_key="registry_model_version.id", primary_key=True,
                          max_length=36)
    data: bytes = Field(sa_type=sa.LargeBinary)
