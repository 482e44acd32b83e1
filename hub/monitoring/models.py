"""Monitoring tables: alerts and work orders from site agents, shadow reports, readings."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow


class AlertStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class WorkOrderStatus(StrEnum):
    proposed = "proposed"
    acknowledged = "acknowledged"
    resolved = "resolved"


class Alert(SQLModel, table=True):
    """An anomaly raised by a site's edge scorer."""

    __tablename__ = "monitoring_alert"
    __table_args__ = (sa.UniqueConstraint("site_id", "source_alert_id",
                                          name="uq_monitoring_alert_source"),)
    __audit_entity__ = "alert"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    site_id: str = Field(foreign_key="site.id", index=True, max_length=36)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    source_alert_id: str = Field(max_length=36)
    asset: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    asset_path: str = Field(max_length=700, index=True)
    measurement: str = Field(max_length=40)
    detector: str = Field(max_length=20)
    severity: str = Field(max_length=10, index=True)
    score: float
    value: float | None = None
    expected: float | None = None
    unit: str | None = Field(default=None, max_length=32)
    message: str = Field(max_length=4000)
    scorer: str = Field(max_length=200)
    reading_id: str = Field(max_length=36)
    raised_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: AlertStatus = Field(default=AlertStatus.open, sa_type=sa.String(12), index=True)
    status_by: str | None = Field(default=None, max_length=36)
    status_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    status_reason: str | None = Field(default=None, max_length=2000)


class WorkOrder(SQLModel, table=True):
    """A maintenance work order a site agent proposed (standard maintenance-work-order)."""

    __tablename__ = "monitoring_work_order"
    __table_args__ = (sa.UniqueConstraint("site_id", "work_order_id",
                                          name="uq_monitoring_work_order_source"),)
    __audit_entity__ = "work_order"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    site_id: str = Field(foreign_key="site.id", index=True, max_length=36)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    work_order_id: str = Field(max_length=128)
    schema_id: str = Field(max_length=100)
    asset_path: str = Field(max_length=700)
    predicted_failure_mode: str = Field(max_length=40, index=True)
    priority: str = Field(max_length=10)
    recommended_action: str = Field(max_length=4000)
    due_date: str = Field(max_length=10)  # ISO date (audit JSON has no date type)
    source_alert_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    document: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: WorkOrderStatus = Field(default=WorkOrderStatus.proposed, sa_type=sa.String(12),
                                    index=True)
    status_by: str | None = Field(default=None, max_length=36)
    status_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    status_reason: str | None = Field(default=None, max_length=2000)


class ShadowReport(SQLModel, table=True):
    """How a shadow scorer compared with the acting one over a window of readings."""

    __tablename__ = "monitoring_shadow_report"
    __table_args__ = (sa.UniqueConstraint("site_id", "report_id",
                                          name="uq_monitoring_shadow_report_source"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    site_id: str = Field(foreign_key="site.id", index=True, max_length=36)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    report_id: str = Field(max_length=36)
    window_start: dt.datetime = Field(sa_type=UTCDateTime)
    window_end: dt.datetime = Field(sa_type=UTCDateTime)
    readings: int
    agreement: float
    current_scorer: str = Field(max_length=200)
    current_alerts: int
    current_flagged: int
    shadow_scorer: str = Field(max_length=200)
    shadow_alerts: int
    shadow_flagged: int
    only_current: int
    only_shadow: int
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Reading(SQLModel, table=True):
    """A sensor reading a site chose to share (shareable projection of sensor-reading)."""

    __tablename__ = "monitoring_reading"
    __table_args__ = (sa.UniqueConstraint("site_id", "reading_id",
                                          name="uq_monitoring_reading_source"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=36)
    reading_id: str = Field(max_length=36)
    asset_path: str = Field(max_length=700)
    ts: dt.datetime = Field(sa_type=UTCDateTime)
    measurements: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    schema_id: str = Field(max_length=100)
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


sa.Index("ix_monitoring_reading_site_ts", Reading.__table__.c.site_id,  # type: ignore[attr-defined]
         Reading.__table__.c.ts)  # type: ignore[attr-defined]
