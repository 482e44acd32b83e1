"""API shapes for model versions, lifecycle changes and shadow comparisons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.registry.models import ModelStatus


class ModelPublic(BaseModel):
    """A model version with its lineage and final evaluation."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    task: str
    version: int
    status: ModelStatus
    status_reason: str | None
    run_id: str | None
    lineage: dict[str, Any]
    final_metrics: dict[str, Any]
    indicators: list[dict[str, Any]]
    passed: bool
    code_hash: str
    task_version: str
    artifact_sha256: str
    artifact_size: int
    created_at: datetime
    promoted_at: datetime | None
    promoted_by: str | None
    previous_production_id: str | None
    retired_at: datetime | None


class Reason(BaseModel):
    """Why a lifecycle change is made (recorded in the audit trail)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=2000)


class ShadowComparison(BaseModel):
    """A site's shadow report on this model (from the monitoring domain)."""

    model_config = ConfigDict(from_attributes=True)
    site_id: str
    report_id: str
    window_start: datetime
    window_end: datetime
    readings: int
    agreement: float
    current_scorer: str
    shadow_scorer: str
    current_alerts: int
    shadow_alerts: int
    only_current: int
    only_shadow: int


class ShadowSummary(BaseModel):
    """Shadow reports linked to a model and their totals."""

    model_id: str
    reports: list[ShadowComparison]
    readings: int
    mean_agreement: float | None
