"""API shapes for monitoring: alerts, work orders, shadow reports, ingest results, views."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.monitoring.models import AlertStatus, WorkOrderStatus

IDENT = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
Measurement = Literal["temperature", "relative_humidity", "differential_pressure",
                      "dispensing_accuracy", "vibration"]


class Asset(BaseModel):
    """ISA-95 equipment path (as in the sensor-reading standard)."""

    model_config = ConfigDict(extra="forbid")
    enterprise: str = Field(pattern=IDENT)
    site: str = Field(pattern=IDENT)
    area: str = Field(pattern=IDENT)
    unit: str = Field(pattern=IDENT)
    equipment: str = Field(pattern=IDENT)

    def path(self) -> str:
        return "/".join((self.enterprise, self.site, self.area, self.unit, self.equipment))


class AlertIn(BaseModel):
    """A monitoring-alert/1.0.0 message from a site agent."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    alert_id: UUID
    site_id: str = Field(pattern=IDENT)
    asset: Asset
    measurement: Measurement
    detector: Literal["zscore", "stuck", "drift", "model"]
    severity: Literal["info", "warning", "critical"]
    score: float
    value: float | None = None
    expected: float | None = None
    unit: str | None = Field(default=None, max_length=32)
    message: str = Field(min_length=1, max_length=4000)
    raised_at: AwareDatetime
    reading_id: UUID
    scorer: str = Field(min_length=1, max_length=200)


class AlertPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    site_id: str
    organization_id: str
    source_alert_id: str
    asset: dict[str, Any]
    asset_path: str
    measurement: str
    detector: str
    severity: str
    score: float
    value: float | None
    expected: float | None
    unit: str | None
    message: str
    scorer: str
    reading_id: str
    raised_at: dt.datetime
    received_at: dt.datetime
    status: AlertStatus
    status_by: str | None
    status_at: dt.datetime | None
    status_reason: str | None


class WorkOrderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    site_id: str
    organization_id: str
    work_order_id: str
    schema_id: str
    asset_path: str
    predicted_failure_mode: str
    priority: str
    recommended_action: str
    due_date: dt.date
    source_alert_ids: list[str]
    document: dict[str, Any]
    created_at: dt.datetime
    received_at: dt.datetime
    status: WorkOrderStatus
    status_by: str | None
    status_at: dt.datetime | None
    status_reason: str | None


class Tally(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    alerts: int = Field(ge=0)
    flagged_readings: int = Field(ge=0)


class ShadowReportIn(BaseModel):
    """A shadow-report/1.0.0 message from a site agent."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    report_id: UUID
    site_id: str = Field(pattern=IDENT)
    window_start: AwareDatetime
    window_end: AwareDatetime
    readings: int = Field(ge=1)
    agreement: float = Field(ge=0.0, le=1.0)
    current: Tally
    shadow: Tally
    only_current: int = Field(ge=0)
    only_shadow: int = Field(ge=0)


class ShadowReportPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    site_id: str
    report_id: str
    window_start: dt.datetime
    window_end: dt.datetime
    readings: int
    agreement: float
    current_scorer: str
    current_alerts: int
    current_flagged: int
    shadow_scorer: str
    shadow_alerts: int
    shadow_flagged: int
    only_current: int
    only_shadow: int
    received_at: dt.datetime


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=2000, description="why (audit trail)")


class IngestResult(BaseModel):
    schema_id: str
    received: int
    stored: int
    duplicates: int


class SiteCounts(BaseModel):
    site_id: str
    site_name: str
    organization_id: str
    kind: str
    open_alerts: int
    acknowledged_alerts: int
    critical_open: int
    open_work_orders: int
    last_alert_at: dt.datetime | None


class ConsortiumCounts(BaseModel):
    """Totals across every site of the consortium (no site identities)."""

    sites_reporting: int
    open_alerts: int
    alerts_by_severity: dict[str, int]
    alerts_by_measurement: dict[str, int]
    open_work_orders: int
    work_orders_by_failure_mode: dict[str, int]


class MonitoringSummary(BaseModel):
    sites: list[SiteCounts]
    consortium: ConsortiumCounts
