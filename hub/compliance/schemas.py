"""API shapes for compliance reports, schedules, overdue periods and the access log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.audit.schemas import SignaturePublic
from hub.compliance.periods import Frequency


class ReportCreate(BaseModel):
    """Start a pre-filled draft for a site and period (default: the last period that ended)."""

    model_config = ConfigDict(extra="forbid")
    site_id: str = Field(min_length=1, max_length=36)
    period: str | None = Field(default=None, max_length=30,
                               description="2026-Q1, 2026-H1, 2026-03, 2026 or START/END")


class SectionUpdate(BaseModel):
    """Replace a section's items and/or mark it reviewed (drafts only; audited with the reason)."""

    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] | None = Field(default=None, max_length=5000)
    reviewed: bool | None = None
    note: str | None = Field(default=None, max_length=2000)
    reason: str = Field(default="draft completed by the site", min_length=3, max_length=2000)


class CorrectionCreate(BaseModel):
    """A new version of a signed report; the reason is part of what is signed."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=5, max_length=2000)
    refresh: bool = Field(default=False, description="pre-fill again instead of copying")


class ReportSign(BaseModel):
    """Electronic signature: password re-entry and an optional comment."""

    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=256)
    meaning: str | None = Field(default=None, description="fixed per step; checked if given")
    comment: str | None = Field(default=None, max_length=2000)


class ReportSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    organization_id: str
    organization_name: str | None = None
    site_id: str
    site_name: str | None = None
    period_start: date
    period_end: date
    period_label: str
    version: int
    supersedes_id: str | None
    correction_reason: str | None
    status: str
    created_at: datetime
    signed_at: datetime | None
    approved_at: datetime | None
    superseded_by_id: str | None
    content_hash: str | None


class ReportPublic(ReportSummary):
    content: dict[str, Any]
    sections: dict[str, Any]
    evidence_counts: dict[str, int]
    signatures: list[SignaturePublic]


class SchedulePublic(BaseModel):
    site_id: str
    organization_id: str
    frequency: Frequency
    anchor_month: int
    grace_days: int
    configured: bool
    current_period: str
    last_ended_period: str
    last_ended_due_on: date


class ScheduleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    frequency: Frequency = Frequency.quarterly
    anchor_month: int = Field(default=1, ge=1, le=12, description="first month of the cycle")
    grace_days: int = Field(default=30, ge=0, le=365, description="days after the period end")
    reason: str = Field(default="reporting schedule set", min_length=3, max_length=2000)


class OverduePublic(BaseModel):
    site_id: str
    site_name: str
    organization_id: str
    period_start: date
    period_end: date
    period_label: str
    due_on: date
    days_overdue: int
    latest_report_id: str | None
    latest_status: str | None


class AccessPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    ts: datetime
    organization_id: str
    actor_id: str
    actor_name: str
    actor_org_id: str | None
    actor_roles: list[str]
    action: str
    submission_ids: list[str]
    channel: str
    detail: dict[str, Any]
