"""Traceability tables: captured EPCIS events and their index, products, partners, alerts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow

ID = 36
URI = 512


class PartnerRole(StrEnum):
    logistics = "logistics"  # carries the goods: receives excursion alerts with the owner
    distributor = "distributor"
    customer = "customer"
    regulator = "regulator"
    other = "other"


class TracePartner(SQLModel, table=True):
    """A declared partner: it may read the declaring organization's traceability events."""

    __tablename__ = "trace_partner"
    __audit_entity__ = "trace_partner"
    __table_args__ = (sa.UniqueConstraint("org_id", "partner_org_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=ID)
    partner_org_id: str = Field(foreign_key="organization.id", index=True, max_length=ID)
    role: PartnerRole = Field(sa_type=sa.String(20))
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TraceProduct(SQLModel, table=True):
    """The allowed storage temperature of a product (GTIN) or of one of its lots."""

    __tablename__ = "trace_product"
    __audit_entity__ = "trace_product"
    __table_args__ = (sa.UniqueConstraint("org_id", "gtin", "lot"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=ID)
    gtin: str = Field(index=True, max_length=14)
    lot: str = Field(default="", max_length=80)  # "" = every lot of the GTIN
    name: str | None = Field(default=None, max_length=200)
    min_celsius: float
    max_celsius: float
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TraceCapture(SQLModel, table=True):
    """One accepted EPCIS document: who sent it, its digest and what was stored."""

    __tablename__ = "trace_capture"
    __audit_entity__ = "trace_capture"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=ID)
    actor_id: str = Field(max_length=64)
    actor_name: str = Field(max_length=200)
    site_id: str | None = Field(default=None, max_length=ID)
    captured_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    document_sha256: str = Field(max_length=64)
    schema_version: str = Field(max_length=20)
    creation_date: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received: int
    stored: int
    duplicates: int


class TraceEvent(SQLModel, table=True):
    """A captured EPCIS event (append-only), unique per organization by its event id."""

    __tablename__ = "trace_event"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "event_id"),
        sa.Index("ix_trace_event_org_time", "org_id", "event_time"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    org_id: str = Field(foreign_key="organization.id", max_length=ID)
    capture_id: str = Field(foreign_key="trace_capture.id", index=True, max_length=ID)
    event_id: str = Field(max_length=URI)
    id_source: str = Field(max_length=10)  # declared | hash
    event_type: str = Field(max_length=40)
    action: str | None = Field(default=None, max_length=10)
    event_time: datetime = Field(sa_type=UTCDateTime)
    tz_offset: str | None = Field(default=None, max_length=10)
    record_time: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    biz_step: str | None = Field(default=None, max_length=URI)
    disposition: str | None = Field(default=None, max_length=URI)
    read_point: str | None = Field(default=None, index=True, max_length=URI)
    biz_location: str | None = Field(default=None, index=True, max_length=URI)
    sources: list[dict[str, str]] = Field(default_factory=list, sa_type=sa.JSON)
    destinations: list[dict[str, str]] = Field(default_factory=list, sa_type=sa.JSON)
    body: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class TraceEventEpc(SQLModel, table=True):
    """One identifier of an event (append-only), with the event's time and place copied."""

    __tablename__ = "trace_event_epc"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    event_pk: str = Field(foreign_key="trace_event.id", index=True, max_length=ID)
    org_id: str = Field(max_length=ID, index=True)
    epc: str = Field(index=True, max_length=URI)
    role: str = Field(max_length=20)
    is_class: bool = False
    quantity: float | None = None
    uom: str | None = Field(default=None, max_length=20)
    gtin: str | None = Field(default=None, max_length=14)
    lot: str | None = Field(default=None, index=True, max_length=80)
    event_time: datetime = Field(sa_type=UTCDateTime)
    location: str | None = Field(default=None, max_length=URI)


class TraceEpcLot(SQLModel, table=True):
    """Which lot an instance identifier or a container holds (from ILMD and aggregation)."""

    __tablename__ = "trace_epc_lot"
    __table_args__ = (sa.UniqueConstraint("org_id", "epc", "gtin", "lot"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    org_id: str = Field(foreign_key="organization.id", max_length=ID)
    epc: str = Field(index=True, max_length=URI)
    gtin: str = Field(max_length=14)
    lot: str = Field(index=True, max_length=80)
    source: str = Field(max_length=20)  # ilmd | aggregation
    event_pk: str = Field(foreign_key="trace_event.id", max_length=ID)


class TraceReading(SQLModel, table=True):
    """A numeric sensor report of an event (append-only); temperatures also in °C."""

    __tablename__ = "trace_reading"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    event_pk: str = Field(foreign_key="trace_event.id", index=True, max_length=ID)
    org_id: str = Field(max_length=ID, index=True)
    type: str = Field(max_length=80)
    observed_from: datetime = Field(sa_type=UTCDateTime)
    observed_to: datetime = Field(sa_type=UTCDateTime)
    value: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    mean_value: float | None = None
    uom: str | None = Field(default=None, max_length=20)
    device_id: str | None = Field(default=None, max_length=URI)
    celsius_min: float | None = None
    celsius_max: float | None = None


class TraceAlert(SQLModel, table=True):
    """A temperature excursion alert addressed to one organization."""

    __tablename__ = "trace_alert"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "kind", "gtin", "lot", "window_start"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=ID)
    owner_org_id: str = Field(foreign_key="organization.id", max_length=ID)
    kind: str = Field(default="temperature_excursion", max_length=40)
    gtin: str = Field(default="", max_length=14)
    lot: str = Field(default="", max_length=80)
    window_start: datetime = Field(sa_type=UTCDateTime)
    window_end: datetime = Field(sa_type=UTCDateTime)
    max_celsius: float
    min_celsius: float
    allowed_min: float
    allowed_max: float
    event_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    message: str = Field(max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=64)
    acknowledge_comment: str | None = Field(default=None, max_length=2000)


APPEND_ONLY_TABLES = ("trace_event", "trace_event_epc", "trace_reading")
