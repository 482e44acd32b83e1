"""API shapes of the traceability domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.traceability.models import PartnerRole


class CapturePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    org_id: str
    actor_name: str
    captured_at: datetime
    document_sha256: str
    schema_version: str
    received: int
    stored: int
    duplicates: int


class CaptureReceipt(CapturePublic):
    event_ids: list[str] = Field(description="EPCIS event ids in document order (computed "
                                             "hash ids for events without eventID)")
    stored_event_ids: list[str]
    alerts_raised: int


class EventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    event_id: str
    id_source: str
    org_id: str
    capture_id: str
    event_type: str
    action: str | None
    event_time: datetime
    tz_offset: str | None
    record_time: datetime
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    sources: list[dict[str, str]]
    destinations: list[dict[str, str]]
    event: dict[str, Any] = Field(validation_alias="body", description="the event as captured")


class ProductPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    min_celsius: float = Field(ge=-273.15, le=200)
    max_celsius: float = Field(ge=-273.15, le=200)
    reason: str | None = Field(default=None, min_length=3, max_length=2000,
                               description="why (required when changing an existing range)")


class ProductPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    org_id: str
    gtin: str
    lot: str | None
    name: str | None
    min_celsius: float
    max_celsius: float
    created_at: datetime
    updated_at: datetime


class PartnerPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: PartnerRole | None = Field(default=None, description="default from the partner's kind")
    reason: str | None = Field(default=None, min_length=3, max_length=2000)


class PartnerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    org_id: str
    partner_org_id: str
    role: PartnerRole
    created_at: datetime


class EventRef(BaseModel):
    id: str
    event_id: str
    event_type: str
    event_time: datetime
    biz_step: str | None
    disposition: str | None
    location: str | None
    org_id: str
    org_name: str | None = None
    sources: list[dict[str, str]] = []
    destinations: list[dict[str, str]] = []
    epcs: list[str] = []
    min_celsius: float | None = None
    max_celsius: float | None = None


class LegPublic(BaseModel):
    status: str = Field(description="delivered | in_transit | received (no visible shipment)")
    from_location: str | None
    to_location: str | None
    shipped_at: datetime | None
    received_at: datetime | None
    duration_seconds: float | None
    shipped_by: str | None
    received_by: str | None
    source_parties: list[dict[str, str]]
    destination_parties: list[dict[str, str]]
    outbound: EventRef | None
    transport: list[EventRef]
    inbound: EventRef | None
    min_celsius: float | None
    max_celsius: float | None


class CustodyPublic(BaseModel):
    lot: str
    gtin: str | None
    events: list[EventRef]
    legs: list[LegPublic]


class AllowedRangePublic(BaseModel):
    min_celsius: float
    max_celsius: float
    source: str
    org_id: str | None


class ExcursionPublic(BaseModel):
    gtin: str | None
    lot: str | None
    start: datetime
    end: datetime
    duration_seconds: float
    direction: str
    max_celsius: float
    min_celsius: float
    allowed: AllowedRangePublic
    readings: int
    event_ids: list[str]
    locations: list[str]
    message: str


class StockItem(BaseModel):
    epc: str
    is_class: bool
    quantity: float | None
    uom: str | None
    gtin: str | None
    lot: str | None
    observed_at: datetime
    location: str | None
    biz_step: str | None
    disposition: str | None
    event_id: str
    org_id: str
    via_container: str | None


class LocationStock(BaseModel):
    location: str
    items: list[StockItem]
    quantities: list[StockItem]


class InventoryPublic(BaseModel):
    locations: list[LocationStock]
    in_transit: list[StockItem]


class AlertPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    org_id: str
    owner_org_id: str
    kind: str
    gtin: str
    lot: str
    window_start: datetime
    window_end: datetime
    max_celsius: float
    min_celsius: float
    allowed_min: float
    allowed_max: float
    event_ids: list[str]
    message: str
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_comment: str | None


class Acknowledge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=3, max_length=2000, description="what was done (audited)")
