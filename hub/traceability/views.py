"""Domain results → API shapes (custody chain, excursions, inventory, capture receipt)."""

from __future__ import annotations

from hub.traceability.custody import Custody, Leg, leg_temperature
from hub.traceability.excursions import Excursion
from hub.traceability.inventory import Inventory, Observation
from hub.traceability.models import TraceEvent
from hub.traceability.schemas import (
    AllowedRangePublic,
    CapturePublic,
    CaptureReceipt,
    CustodyPublic,
    EventRef,
    ExcursionPublic,
    InventoryPublic,
    LegPublic,
    LocationStock,
    StockItem,
)
from hub.traceability.service import CaptureResult


def receipt(result: CaptureResult) -> CaptureReceipt:
    base = CapturePublic.model_validate(result.capture).model_dump()
    return CaptureReceipt(**base, event_ids=result.event_ids,
                          stored_event_ids=result.stored_event_ids,
                          alerts_raised=len(result.alerts))


def _ref(ev: TraceEvent, custody: Custody) -> EventRef:
    temp = custody.temperatures.get(ev.id)
    return EventRef(
        id=ev.id, event_id=ev.event_id, event_type=ev.event_type, event_time=ev.event_time,
        biz_step=ev.biz_step, disposition=ev.disposition,
        location=ev.biz_location or ev.read_point, org_id=ev.org_id,
        org_name=custody.org_names.get(ev.org_id), sources=ev.sources,
        destinations=ev.destinations, epcs=sorted(custody.epcs.get(ev.id, set())),
        min_celsius=temp[0] if temp else None, max_celsius=temp[1] if temp else None)


def _leg(leg: Leg, custody: Custody) -> LegPublic:
    out, inn = leg.outbound, leg.inbound
    declared_to = sorted(leg.destination_locations())
    temp = leg_temperature(leg, custody.temperatures)
    status = "delivered" if out and inn else ("in_transit" if out else "received")
    return LegPublic(
        status=status,
        from_location=(out.biz_location or out.read_point) if out else None,
        to_location=(inn.biz_location or inn.read_point) if inn
        else (declared_to[0] if declared_to else None),
        shipped_at=leg.shipped_at, received_at=leg.received_at,
        duration_seconds=leg.duration_seconds,
        shipped_by=custody.org_names.get(out.org_id) if out else None,
        received_by=custody.org_names.get(inn.org_id) if inn else None,
        source_parties=[s for s in (out.sources if out else []) if s.get("type") != "location"],
        destination_parties=[d for d in (out.destinations if out else [])
                             if d.get("type") != "location"],
        outbound=_ref(out, custody) if out else None,
        transport=[_ref(e, custody) for e in leg.transport],
        inbound=_ref(inn, custody) if inn else None,
        min_celsius=temp[0] if temp else None, max_celsius=temp[1] if temp else None)


def custody_public(custody: Custody) -> CustodyPublic:
    return CustodyPublic(lot=custody.lot, gtin=custody.gtin,
                         events=[_ref(e, custody) for e in custody.events],
                         legs=[_leg(leg, custody) for leg in custody.legs])


def excursion_public(exc: Excursion) -> ExcursionPublic:
    return ExcursionPublic(
        gtin=exc.gtin, lot=exc.lot, start=exc.start, end=exc.end,
        duration_seconds=exc.duration_seconds, direction=exc.direction,
        max_celsius=exc.max_celsius, min_celsius=exc.min_celsius,
        allowed=AllowedRangePublic(min_celsius=exc.allowed.min_celsius,
                                   max_celsius=exc.allowed.max_celsius,
                                   source=exc.allowed.source, org_id=exc.allowed.org_id),
        readings=exc.readings, event_ids=exc.event_ids, locations=exc.locations,
        message=exc.describe())


def _item(o: Observation) -> StockItem:
    return StockItem(epc=o.epc, is_class=o.is_class, quantity=o.quantity, uom=o.uom,
                     gtin=o.gtin, lot=o.lot, observed_at=o.observed_at, location=o.location,
                     biz_step=o.biz_step, disposition=o.disposition, event_id=o.event_id,
                     org_id=o.org_id, via_container=o.via_container)


def inventory_public(inv: Inventory) -> InventoryPublic:
    return InventoryPublic(
        locations=[LocationStock(location=place,
                                 items=[_item(o) for o in obs if not o.is_class],
                                 quantities=[_item(o) for o in obs if o.is_class])
                   for place, obs in inv.locations.items()],
        in_transit=[_item(o) for o in inv.in_transit])
