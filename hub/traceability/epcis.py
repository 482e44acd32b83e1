"""EPCIS 2.0 events flattened into what the hub stores: identifiers, places, parties, readings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.traceability.eventhash import event_hash
from hub.traceability.identifiers import cbv_short, local_name, product_key, to_celsius
from standards.epcis.models import EventBase, QuantityElement, SensorElement

# where an identifier appears in an event -> the role the hub records for it
EPC_LISTS = {"epcList": "epc", "childEPCs": "child", "inputEPCList": "input",
             "outputEPCList": "output"}
QUANTITY_LISTS = {"quantityList": "quantity", "childQuantityList": "child_quantity",
                  "inputQuantityList": "input_quantity", "outputQuantityList": "output_quantity"}
NUMERIC_REPORT_FIELDS = ("value", "minValue", "maxValue", "meanValue")


@dataclass
class EpcRef:
    """One identifier of an event: an instance EPC or a class with a quantity."""

    epc: str
    role: str
    is_class: bool = False
    quantity: float | None = None
    uom: str | None = None
    gtin: str | None = None
    lot: str | None = None


@dataclass
class Reading:
    """One numeric sensor report with its effective observation window."""

    type: str
    observed_from: datetime
    observed_to: datetime
    value: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    mean_value: float | None = None
    uom: str | None = None
    device_id: str | None = None
    celsius_min: float | None = None
    celsius_max: float | None = None


@dataclass
class ParsedEvent:
    """The fields of one event that the hub indexes, plus the event as received."""

    index: int
    event_id: str
    id_source: str  # "declared" | "hash"
    event_type: str
    action: str | None
    event_time: datetime
    tz_offset: str | None
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    sources: list[dict[str, str]]
    destinations: list[dict[str, str]]
    epcs: list[EpcRef] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    ilmd_lot: str | None = None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def location(self) -> str | None:
        """Where the event happened: the business location, else the read point."""
        return self.biz_location or self.read_point


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC (a timestamp without offset is taken as UTC)."""
    if value is None:
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(UTC)


def _ilmd_lot(ilmd: dict[str, Any] | None) -> str | None:
    for key, value in (ilmd or {}).items():
        if local_name(key) == "lotNumber" and isinstance(value, str | int):
            return str(value)
    return None


def _epc_refs(event: EventBase, lot_from_ilmd: str | None) -> list[EpcRef]:
    refs: list[EpcRef] = []
    parent = getattr(event, "parentID", None)
    if isinstance(parent, str) and parent:
        key = product_key(parent)
        refs.append(EpcRef(parent, "parent", gtin=key.gtin, lot=key.lot))
    for list_name, role in EPC_LISTS.items():
        for epc in getattr(event, list_name, None) or []:
            if isinstance(epc, str):
                key = product_key(epc)
                # ILMD describes what an event creates: the listed objects or the outputs
                lot = key.lot or (lot_from_ilmd if key.gtin and role in ("epc", "output")
                                  else None)
                refs.append(EpcRef(epc, role, gtin=key.gtin, lot=lot))
    for list_name, role in QUANTITY_LISTS.items():
        items: Sequence[QuantityElement] = getattr(event, list_name, None) or []
        for q in items:
            key = product_key(q.epcClass)
            refs.append(EpcRef(q.epcClass, role, True, q.quantity, q.uom, key.gtin, key.lot))
    return refs


def _readings(elements: Sequence[SensorElement], event_time: datetime) -> list[Reading]:
    out: list[Reading] = []
    for element in elements:
        meta = element.sensorMetadata
        for report in element.sensorReport:
            nums = [report.value, report.minValue, report.maxValue, report.meanValue]
            if all(v is None for v in nums):
                continue
            point = _utc(report.time or (meta.time if meta else None))
            start = point or _utc(meta.startTime if meta else None) or event_time
            end = point or _utc(meta.endTime if meta else None) or start
            kind, uom = local_name(report.type), report.uom
            low = next((v for v in (report.minValue, report.value, report.meanValue)
                        if v is not None), None)
            high = next((v for v in (report.maxValue, report.value, report.meanValue)
                         if v is not None), None)
            temp = kind == "Temperature"
            out.append(Reading(
                type=kind, observed_from=start, observed_to=max(start, end),
                value=report.value, min_value=report.minValue, max_value=report.maxValue,
                mean_value=report.meanValue, uom=uom,
                device_id=report.deviceID or (meta.deviceID if meta else None),
                celsius_min=to_celsius(low, uom) if temp else None,
                celsius_max=to_celsius(high, uom) if temp else None,
            ))
    return out


def _parties(items: Sequence[Any], attr: str) -> list[dict[str, str]]:
    return [{"type": cbv_short(i.type) or "", "id": getattr(i, attr)} for i in items]


def parse_event(index: int, event: EventBase, raw: dict[str, Any]) -> ParsedEvent:
    """Flatten one schema-valid event (typed view + the JSON as received, which is stored)."""
    declared = event.eventID or (event.model_extra or {}).get("id")
    event_time = _utc(event.eventTime)
    assert event_time is not None
    lot = _ilmd_lot(event.ilmd)
    return ParsedEvent(
        index=index,
        event_id=str(declared) if declared else event_hash(raw),
        id_source="declared" if declared else "hash",
        event_type=event.type,
        action=event.action,
        event_time=event_time,
        tz_offset=event.eventTimeZoneOffset,
        biz_step=cbv_short(event.bizStep),
        disposition=cbv_short(event.disposition),
        read_point=event.readPoint.id if event.readPoint else None,
        biz_location=event.bizLocation.id if event.bizLocation else None,
        sources=_parties(event.sourceList, "source"),
        destinations=_parties(event.destinationList, "destination"),
        epcs=_epc_refs(event, lot),
        readings=_readings(event.sensorElementList, event_time),
        ilmd_lot=lot,
        body=raw,
    )


def document_events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The event list of an EPCIS document (or of a query document's result body)."""
    if doc.get("type") not in ("EPCISDocument", "EPCISQueryDocument"):
        return [doc]  # a single event
    body = doc.get("epcisBody") or {}
    events = body.get("eventList")
    if events is None:
        events = ((body.get("queryResults") or {}).get("resultsBody") or {}).get("eventList")
    return [e for e in events or [] if isinstance(e, dict)]


def typed_events(value: Any) -> list[EventBase]:
    """The typed events of a validated document (or the one typed event given)."""
    return list(value.events) if hasattr(value, "events") else [value]


def document_digest(doc: dict[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON (records what was captured)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
