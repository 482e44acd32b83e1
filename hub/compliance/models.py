"""Compliance tables: reporting schedules, report versions (frozen once signed), access log."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow


class ReportStatus(StrEnum):
    draft = "draft"            # pre-filled, being completed and reviewed by the site admin
    signed = "signed"          # signed by the site admin ("responsible"): frozen
    approved = "approved"      # co-signed by QA ("approved"): submitted, visible to regulators
    superseded = "superseded"  # replaced by an approved correction (still readable)


class ComplianceSchedule(SQLModel, table=True):
    """How often a site reports (default quarterly, calendar-aligned) and the grace period."""

    __tablename__ = "compliance_schedule"
    __audit_entity__ = "compliance_schedule"
    __audit_ignore__ = frozenset({"updated_at"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    site_id: str = Field(foreign_key="site.id", unique=True, max_length=36)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    frequency: str = Field(default="quarterly", max_length=12)
    anchor_month: int = Field(default=1, ge=1, le=12)
    grace_days: int = Field(default=30, ge=0, le=365)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# columns a signature covers: the database refuses to change them once ``signed_at`` is set
FROZEN_COLUMNS = ("organization_id", "site_id", "period_start", "period_end", "version",
                  "supersedes_id", "correction_reason", "content", "sections", "evidence",
                  "created_by", "created_at", "content_hash", "signed_at", "signed_by")


class ComplianceReport(SQLModel, table=True):
    """One version of a site's compliance report for one period (``compliance-report/1.0.0``).

    A draft is edited freely (every change audited with its reason). Signing freezes it; a
    correction is a new version with ``supersedes_id`` and ``correction_reason``.
    """

    __tablename__ = "compliance_report"
    __audit_entity__ = "compliance_report"
    __audit_ignore__ = frozenset({"updated_at"})
    __table_args__ = (
        sa.UniqueConstraint("site_id", "period_start", "period_end", "version",
                            name="uq_compliance_report_version"),
        sa.Index("ix_compliance_report_site_period", "site_id", "period_start", "period_end"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    site_id: str = Field(foreign_key="site.id", max_length=36)
    period_start: date = Field(sa_type=sa.Date)
    period_end: date = Field(sa_type=sa.Date)  # exclusive
    version: int = Field(default=1, ge=1)
    supersedes_id: str | None = Field(default=None, foreign_key="compliance_report.id",
                                      max_length=36)
    correction_reason: str | None = Field(default=None, max_length=2000)
    status: str = Field(default=ReportStatus.draft.value, max_length=12, index=True)
    content: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    sections: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    content_hash: str | None = Field(default=None, max_length=64)
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    signed_by: str | None = Field(default=None, max_length=36)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    approved_by: str | None = Field(default=None, max_length=36)
    superseded_by_id: str | None = Field(default=None, max_length=36)


class AccessAction(StrEnum):
    list = "list"
    read = "read"
    download = "download"


class ComplianceAccess(SQLModel, table=True):
    """An access to an organization's submissions by someone outside it (append-only)."""

    __tablename__ = "compliance_access"
    __audit_entity__ = "compliance_access"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    ts: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    actor_id: str = Field(max_length=64)
    actor_name: str = Field(max_length=200)
    actor_org_id: str | None = Field(default=None, max_length=36)
    actor_roles: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    action: str = Field(max_length=12)
    submission_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    channel: str = Field(default="api", max_length=12)  # api | web
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


APPEND_ONLY_TABLES = ("compliance_access",)
