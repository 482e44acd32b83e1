"""Traceability API: EPCIS capture, event queries, custody, excursions, inventory, alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from hub.deps import CurrentPrincipal, Offset, SessionDep
from hub.traceability import access, alerts, products, service, views
from hub.traceability.custody import custody_chain
from hub.traceability.excursions import excursions_between, excursions_of_lot
from hub.traceability.inventory import inventory
from hub.traceability.models import TraceAlert, TraceEvent, TracePartner, TraceProduct
from hub.traceability.schemas import (
    Acknowledge,
    AlertPublic,
    CaptureReceipt,
    CustodyPublic,
    EventPublic,
    ExcursionPublic,
    InventoryPublic,
    PartnerPublic,
    PartnerPut,
    ProductPublic,
    ProductPut,
)

router = APIRouter(prefix="/traceability", tags=["traceability"])
Limit = Annotated[int, Query(ge=1, le=1000)]
# a PUT answers 201 when it creates the entry and 200 when it changes it
CREATED_OR_UPDATED: dict[int | str, dict[str, Any]] = {
    200: {"description": "Changed"}, 201: {"description": "Created", "model": ProductPublic}}
Gtin = Annotated[str | None, Query(description="GTIN-14, to tell lots of products apart")]


@router.post("/capture", response_model=CaptureReceipt, status_code=status.HTTP_201_CREATED)
def capture(doc: Annotated[dict[str, Any], Body(description="an EPCIS 2.0 JSON(-LD) document")],
            who: CurrentPrincipal, session: SessionDep) -> CaptureReceipt:
    """Capture an EPCIS 2.0 document; re-sent events are not stored twice."""
    return views.receipt(service.capture(session, who, doc))


@router.get("/events", response_model=list[EventPublic])
def list_events(
    who: CurrentPrincipal, session: SessionDep, epc: str | None = None,
    lot: str | None = None, gtin: Gtin = None, location: str | None = None,
    biz_step: str | None = None, since: datetime | None = None, until: datetime | None = None,
    limit: Limit = 100, offset: Offset = 0,
) -> list[TraceEvent]:
    """Events of your organization and of those that declared you a partner."""
    return list(service.list_events(session, who, epc=epc, lot=lot,
                                    gtin=products.gtin_or_error(gtin) if gtin else None,
                                    location=location, biz_step=biz_step, since=since,
                                    until=until, limit=limit, offset=offset))


@router.get("/events/{event_pk}", response_model=EventPublic)
def get_event(event_pk: str, who: CurrentPrincipal, session: SessionDep) -> TraceEvent:
    """One event by its hub id."""
    return service.get_event(session, who, event_pk)


@router.get("/lots/{lot}/custody", response_model=CustodyPublic)
def lot_custody(lot: str, who: CurrentPrincipal, session: SessionDep,
                gtin: Gtin = None) -> CustodyPublic:
    """The lot's custody chain: shipping → transport → receiving legs with durations."""
    key = products.gtin_or_error(gtin) if gtin else None
    return views.custody_public(custody_chain(session, who.org_id, lot, key))


@router.get("/lots/{lot}/excursions", response_model=list[ExcursionPublic])
def lot_excursions(lot: str, who: CurrentPrincipal, session: SessionDep,
                   gtin: Gtin = None) -> list[ExcursionPublic]:
    """Temperature excursions of the lot against its allowed range (default 2–8 °C)."""
    key = products.gtin_or_error(gtin) if gtin else None
    custody_chain(session, who.org_id, lot, key)  # 404 unless the lot is visible
    orgs = access.visible_orgs(session, who.org_id)
    return [views.excursion_public(e) for e in excursions_of_lot(session, orgs, lot, key)]


@router.get("/lots/{lot}/inventory", response_model=InventoryPublic)
def lot_inventory(lot: str, who: CurrentPrincipal, session: SessionDep,
                  gtin: Gtin = None) -> InventoryPublic:
    """Where the lot's identifiers and quantities are now."""
    key = products.gtin_or_error(gtin) if gtin else None
    custody_chain(session, who.org_id, lot, key)
    return views.inventory_public(inventory(session, who.org_id, lot=lot, gtin=key))


@router.get("/excursions", response_model=list[ExcursionPublic])
def list_excursions(who: CurrentPrincipal, session: SessionDep, since: datetime | None = None,
                    until: datetime | None = None) -> list[ExcursionPublic]:
    """Every visible temperature excursion overlapping the time window."""
    orgs = access.visible_orgs(session, who.org_id)
    return [views.excursion_public(e) for e in excursions_between(session, orgs, since, until)]


@router.get("/inventory", response_model=InventoryPublic)
def current_inventory(who: CurrentPrincipal, session: SessionDep, location: str | None = None,
                      lot: str | None = None, gtin: Gtin = None) -> InventoryPublic:
    """Current stock by location (last observed location and disposition per identifier)."""
    key = products.gtin_or_error(gtin) if gtin else None
    return views.inventory_public(inventory(session, who.org_id, location=location, lot=lot,
                                            gtin=key))


@router.get("/products", response_model=list[ProductPublic])
def list_products(who: CurrentPrincipal, session: SessionDep) -> list[TraceProduct]:
    """Your organization's product table (allowed temperature ranges)."""
    return list(products.list_products(session, who))


@router.put("/products/{gtin}", response_model=ProductPublic, responses=CREATED_OR_UPDATED)
def put_product(gtin: str, data: ProductPut, who: CurrentPrincipal, session: SessionDep,
                response: Response) -> TraceProduct:
    """Set a product's allowed range in °C (a change needs a reason)."""
    row, created = products.put_product(session, who, gtin, min_celsius=data.min_celsius,
                                        max_celsius=data.max_celsius, name=data.name,
                                        reason=data.reason)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return row


@router.put("/products/{gtin}/lots/{lot}", response_model=ProductPublic,
            responses=CREATED_OR_UPDATED)
def put_lot(gtin: str, lot: str, data: ProductPut, who: CurrentPrincipal, session: SessionDep,
            response: Response) -> TraceProduct:
    """Set one lot's allowed range in °C, overriding the product's."""
    row, created = products.put_product(session, who, gtin, lot=lot,
                                        min_celsius=data.min_celsius,
                                        max_celsius=data.max_celsius, name=data.name,
                                        reason=data.reason)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return row


@router.get("/products/{gtin}", response_model=ProductPublic)
def get_product(gtin: str, who: CurrentPrincipal, session: SessionDep) -> TraceProduct:
    """One product of your product table."""
    return products.get_product(session, who, gtin)


@router.get("/partners", response_model=list[PartnerPublic])
def list_partners(who: CurrentPrincipal, session: SessionDep) -> list[TracePartner]:
    """Organizations you declared as partners (they can read your events)."""
    return list(access.partners_of(session, who.org_id))


@router.put("/partners/{partner_org_id}", response_model=PartnerPublic)
def put_partner(partner_org_id: str, data: PartnerPut, who: CurrentPrincipal,
                session: SessionDep) -> TracePartner:
    """Declare a partner organization, or change its role (with a reason)."""
    return access.declare_partner(session, who, partner_org_id, data.role, data.reason)


@router.delete("/partners/{partner_org_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_partner(partner_org_id: str, who: CurrentPrincipal, session: SessionDep,
                   reason: Annotated[str, Query(min_length=3, max_length=2000)]) -> None:
    """Withdraw a partner's access to your events (reason recorded)."""
    access.remove_partner(session, who, partner_org_id, reason)


@router.get("/alerts", response_model=list[AlertPublic])
def list_alerts(who: CurrentPrincipal, session: SessionDep, acknowledged: bool | None = None,
                lot: str | None = None, limit: Limit = 100) -> list[TraceAlert]:
    """Excursion alerts addressed to your organization, newest first."""
    return list(alerts.list_alerts(session, who, acknowledged=acknowledged, lot=lot,
                                   limit=limit))


@router.get("/alerts/{alert_id}", response_model=AlertPublic)
def get_alert(alert_id: str, who: CurrentPrincipal, session: SessionDep) -> TraceAlert:
    """One alert addressed to your organization."""
    return alerts.get_alert(session, who, alert_id)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge_alert(alert_id: str, data: Acknowledge, who: CurrentPrincipal,
                      session: SessionDep) -> TraceAlert:
    """Acknowledge an alert with what was done about it (audited)."""
    return alerts.acknowledge(session, who, alert_id, data.comment)
