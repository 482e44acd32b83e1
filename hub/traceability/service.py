"""Capture of EPCIS 2.0 documents (validated, idempotent, bulk) and event queries."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub.db import new_id, utcnow
from hub.errors import NotFound, ValidationFailed
from hub.identity.principal import Principal
from hub.traceability.access import require_capture, visible_orgs
from hub.traceability.alerts import raise_alerts
from hub.traceability.epcis import (
    ParsedEvent,
    document_digest,
    document_events,
    parse_event,
    typed_events,
)
from hub.traceability.excursions import excursions_of_events
from hub.traceability.identifiers import cbv_short, parse_time
from hub.traceability.lots import chunks, lot_event_pks, lots_of_epcs
from hub.traceability.models import (
    TraceAlert,
    TraceCapture,
    TraceEpcLot,
    TraceEvent,
    TraceEventEpc,
    TraceReading,
)

SCHEMA = ("epcis-document", "2.0.0")
LOCK_CLASS = 7_310_301  # PostgreSQL advisory lock namespace for captures (per organization)
MAX_LENGTHS = {"eventID": 512, "epc": 512, "location": 512, "vocabulary": 512, "uom": 20}


@dataclass
class CaptureResult:
    """What one capture stored: the capture record, ids in document order, alerts raised."""

    capture: TraceCapture
    event_ids: list[str]
    stored_event_ids: list[str]
    alerts: list[TraceAlert]


def validate_document(doc: Any) -> Any:
    """Check against the registry's ``epcis-document/2.0.0`` (every field named); typed value."""
    from standards import registry

    report = registry.get(*SCHEMA).validate(doc)
    if not report.ok:
        errors = [{"pointer": v.pointer, "message": v.message, "type": v.type}
                  for v in report.errors]
        raise ValidationFailed(
            f"The document does not conform to {'/'.join(SCHEMA)}: {len(errors)} violation(s); "
            "nothing was stored", errors=errors)
    return report.value


def _length_errors(events: Sequence[ParsedEvent]) -> list[dict[str, str]]:
    errors = []
    for p in events:
        base = f"/epcisBody/eventList/{p.index}"
        checks = [("eventID", p.event_id, "/eventID"),
                  *[("epc", r.epc, "") for r in p.epcs],
                  ("location", p.read_point, "/readPoint/id"),
                  ("location", p.biz_location, "/bizLocation/id"),
                  ("vocabulary", p.biz_step, "/bizStep"),
                  ("vocabulary", p.disposition, "/disposition"),
                  *[("uom", r.uom, "") for r in p.epcs]]
        for kind, value, where in checks:
            if value is not None and len(value) > MAX_LENGTHS[kind]:
                errors.append({"pointer": base + where, "type": "too_long",
                               "message": f"{kind} longer than {MAX_LENGTHS[kind]} characters"})
    return errors


def _lock(session: Session, org_id: str) -> None:
    """Serialise captures of one organization on PostgreSQL (SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(org_id.encode()) - 2**31
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"),
                        {"a": LOCK_CLASS, "b": key})


def _known_ids(session: Session, org_id: str, ids: set[str]) -> set[str]:
    known: set[str] = set()
    for part in chunks(sorted(ids)):
        known.update(session.exec(select(TraceEvent.event_id).where(
            TraceEvent.org_id == org_id, col(TraceEvent.event_id).in_(part))).all())
    return known


def _bulk(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for part in chunks(rows, 1000):
        session.execute(sa.insert(model), list(part))


def _insert_events(session: Session, cap: TraceCapture,
                   fresh: list[ParsedEvent]) -> dict[str, str]:
    now, pks = utcnow(), {p.event_id: new_id() for p in fresh}
    events: list[dict[str, Any]] = []
    epcs: list[dict[str, Any]] = []
    readings: list[dict[str, Any]] = []
    for p in fresh:
        pk = pks[p.event_id]
        events.append({
            "id": pk, "org_id": cap.org_id, "capture_id": cap.id, "event_id": p.event_id,
            "id_source": p.id_source, "event_type": p.event_type, "action": p.action,
            "event_time": p.event_time, "tz_offset": p.tz_offset, "record_time": now,
            "biz_step": p.biz_step, "disposition": p.disposition, "read_point": p.read_point,
            "biz_location": p.biz_location, "sources": p.sources,
            "destinations": p.destinations, "body": p.body})
        epcs.extend({
            "id": new_id(), "event_pk": pk, "org_id": cap.org_id, "epc": r.epc,
            "role": r.role, "is_class": r.is_class, "quantity": r.quantity, "uom": r.uom,
            "gtin": r.gtin, "lot": r.lot, "event_time": p.event_time, "location": p.location,
        } for r in p.epcs)
        readings.extend({
            "id": new_id(), "event_pk": pk, "org_id": cap.org_id, "type": r.type[:80],
            "observed_from": r.observed_from, "observed_to": r.observed_to, "value": r.value,
            "min_value": r.min_value, "max_value": r.max_value, "mean_value": r.mean_value,
            "uom": (r.uom or "")[:20] or None, "device_id": (r.device_id or "")[:512] or None,
            "celsius_min": r.celsius_min, "celsius_max": r.celsius_max,
        } for r in p.readings)
    _bulk(session, TraceEvent, events)
    _bulk(session, TraceEventEpc, epcs)
    _bulk(session, TraceReading, readings)
    return pks


def _update_lot_map(session: Session, org_id: str, fresh: list[ParsedEvent],
                    pks: dict[str, str]) -> None:
    """Record lots learnt from ILMD, and what containers hold from aggregation events."""
    pending: dict[tuple[str, str, str], tuple[str, str]] = {}
    for p in fresh:
        for r in p.epcs:
            if p.ilmd_lot and r.lot == p.ilmd_lot and r.gtin and not r.is_class:
                pending[(r.epc, r.gtin, r.lot)] = ("ilmd", pks[p.event_id])
    packs = sorted((p for p in fresh if p.event_type == "AggregationEvent"
                    and p.action in ("ADD", "OBSERVE")), key=lambda p: (p.event_time, p.index))
    if packs:
        children = [r.epc for p in packs for r in p.epcs if r.role == "child"]
        known = lots_of_epcs(session, visible_orgs(session, org_id), children)
        for epc, gtin, lot in pending:
            known[epc].add((gtin, lot))
        for p in packs:
            parent = next((r.epc for r in p.epcs if r.role == "parent"), None)
            if parent is None:
                continue
            held = {(r.gtin, r.lot) for r in p.epcs
                    if r.role in ("child", "child_quantity") and r.gtin and r.lot}
            for r in p.epcs:
                if r.role == "child":
                    held |= known.get(r.epc, set())
            for gtin, lot in held:
                assert gtin is not None and lot is not None
                known[parent].add((gtin, lot))
                pending.setdefault((parent, gtin, lot), ("aggregation", pks[p.event_id]))
    existing: set[tuple[str, str, str]] = set()
    for part in chunks(sorted({k[0] for k in pending})):
        existing.update(session.exec(select(TraceEpcLot.epc, TraceEpcLot.gtin, TraceEpcLot.lot)
                                     .where(TraceEpcLot.org_id == org_id,
                                            col(TraceEpcLot.epc).in_(part))).all())
    _bulk(session, TraceEpcLot, [
        {"id": new_id(), "org_id": org_id, "epc": epc, "gtin": gtin, "lot": lot,
         "source": source, "event_pk": pk}
        for (epc, gtin, lot), (source, pk) in pending.items() if (epc, gtin, lot) not in existing])


def capture(session: Session, who: Principal, doc: Any) -> CaptureResult:
    """Validate and store an EPCIS document for the caller's organization.

    Events already stored for the organization (same eventID, or same event hash when the
    event has no eventID) are not stored again. Excursions raise alerts.
    """
    require_capture(who)
    typed = typed_events(validate_document(doc))
    parsed = [parse_event(i, t, raw)
              for i, (t, raw) in enumerate(zip(typed, document_events(doc), strict=True))]
    too_long = _length_errors(parsed)
    if too_long:
        raise ValidationFailed("Identifiers exceed what the hub stores; nothing was stored",
                               errors=too_long)
    _lock(session, who.org_id)
    seen = _known_ids(session, who.org_id, {p.event_id for p in parsed})
    fresh: list[ParsedEvent] = []
    for p in parsed:
        if p.event_id not in seen:
            fresh.append(p)
            seen.add(p.event_id)
    actor = who.actor()
    cap = TraceCapture(
        org_id=who.org_id, actor_id=actor.id, actor_name=actor.name, site_id=who.site_id,
        document_sha256=document_digest(doc), schema_version=str(doc.get("schemaVersion", "")),
        creation_date=parse_time(doc.get("creationDate")), received=len(parsed),
        stored=len(fresh), duplicates=len(parsed) - len(fresh))
    session.add(cap)
    session.flush()
    pks = _insert_events(session, cap, fresh)
    _update_lot_map(session, who.org_id, fresh, pks)
    hot = [pks[p.event_id] for p in fresh if any(r.celsius_max is not None for r in p.readings)]
    alerts: list[TraceAlert] = []
    if hot:
        orgs = visible_orgs(session, who.org_id)
        found = excursions_of_events(session, orgs, hot, only_if_outside=True)
        alerts = raise_alerts(session, who.org_id, found, {p.event_id for p in fresh})
    return CaptureResult(cap, [p.event_id for p in parsed], [p.event_id for p in fresh], alerts)


def list_events(session: Session, who: Principal, *, epc: str | None = None,
                lot: str | None = None, gtin: str | None = None, location: str | None = None,
                biz_step: str | None = None, since: datetime | None = None,
                until: datetime | None = None, limit: int = 100,
                offset: int = 0) -> Sequence[TraceEvent]:
    """Visible events matching every given filter, in event-time order."""
    orgs = visible_orgs(session, who.org_id)
    stmt = select(TraceEvent).where(col(TraceEvent.org_id).in_(orgs))
    if epc:
        stmt = stmt.where(col(TraceEvent.id).in_(select(TraceEventEpc.event_pk).where(
            TraceEventEpc.epc == epc, col(TraceEventEpc.org_id).in_(orgs))))
    if lot:
        stmt = stmt.where(col(TraceEvent.id).in_(lot_event_pks(orgs, lot, gtin)))
    elif gtin:
        stmt = stmt.where(col(TraceEvent.id).in_(select(TraceEventEpc.event_pk).where(
            TraceEventEpc.gtin == gtin, col(TraceEventEpc.org_id).in_(orgs))))
    if location:
        stmt = stmt.where(sa.or_(col(TraceEvent.biz_location) == location,
                                 col(TraceEvent.read_point) == location))
    if biz_step:
        stmt = stmt.where(TraceEvent.biz_step == cbv_short(biz_step))
    if since:
        stmt = stmt.where(col(TraceEvent.event_time) >= since)
    if until:
        stmt = stmt.where(col(TraceEvent.event_time) <= until)
    stmt = stmt.order_by(col(TraceEvent.event_time), col(TraceEvent.id))
    return session.exec(stmt.offset(offset).limit(limit)).all()


def get_event(session: Session, who: Principal, pk: str) -> TraceEvent:
    """One visible event by its hub id (404 for events of organizations you are not partner of)."""
    event = session.get(TraceEvent, pk)
    if event is None or event.org_id not in visible_orgs(session, who.org_id):
        raise NotFound(f"Event {pk} not found")
    return event
