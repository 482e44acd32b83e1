"""Cold-chain pages: lots with their custody chain, excursions, inventory, partners, alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlmodel import Session, col

from hub.errors import ValidationFailed
from hub.identity import service as identity
from hub.traceability import access, alerts, products, views
from hub.traceability.custody import Leg, custody_chain
from hub.traceability.excursions import excursions_between, excursions_of_lot, lot_gtins
from hub.traceability.inventory import inventory
from hub.traceability.models import PartnerRole, TraceEventEpc, TraceReading
from hub.traceability.schemas import Acknowledge, PartnerPut
from hub.web import (
    FORM_ERRORS,
    Area,
    PageSession,
    Series,
    WebUser,
    fail,
    form_errors,
    line_chart,
    page_router,
    redirect,
    register_area,
    render,
    require_page_role,
)

pages = page_router("/web/traceability")
VIEW_ROLES = (*access.MANAGER_ROLES, "regulator")
Viewer = Annotated[WebUser, Depends(require_page_role(*VIEW_ROLES))]
Manager = Annotated[WebUser, Depends(require_page_role(*access.MANAGER_ROLES))]
LOTS_SHOWN = 200

register_area(Area("Cold chain", "/web/traceability",
                   "Lots and their custody chain, temperature excursions, inventory by location "
                   "and the partners who share traceability data.", roles=VIEW_ROLES, order=40))


# --------------------------------------------------------------------------- helpers

def known_lots(session: Session, orgs: list[str]) -> list[Any]:
    """(gtin, lot, first, last, identifiers) for each lot the organizations' events name."""
    e = TraceEventEpc
    stmt = (sa.select(col(e.gtin), col(e.lot), sa.func.min(col(e.event_time)),
                      sa.func.max(col(e.event_time)), sa.func.count(sa.distinct(col(e.epc))))
            .where(col(e.org_id).in_(orgs), col(e.lot).is_not(None))
            .group_by(col(e.gtin), col(e.lot))
            .order_by(sa.func.max(col(e.event_time)).desc()).limit(LOTS_SHOWN))
    return list(session.execute(stmt).all())


def _gtin(value: str) -> str | None:
    return products.gtin_or_error(value.strip()) if value.strip() else None


def _day(name: str, value: str, end: bool = False) -> datetime | None:
    """A date typed in a filter (YYYY-MM-DD) as the start (or end) of that UTC day."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationFailed(f"{value!r} is not a date like 2026-03-02", errors=[
            {"pointer": f"/{name}", "message": "a date like 2026-03-02"}]) from exc
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start + timedelta(days=1) - timedelta(microseconds=1) if end else start


def _leg_events(leg: Leg) -> list[str]:
    return [e.id for e in (leg.outbound, *leg.transport, leg.inbound) if e is not None]


def leg_chart(session: Session, leg: Leg, number: int, allowed: products.AllowedRange) -> Markup:
    """Temperatures the leg's events reported over hours since it started, with the range."""
    rows = session.execute(
        sa.select(col(TraceReading.observed_from), col(TraceReading.celsius_min),
                  col(TraceReading.celsius_max))
        .where(col(TraceReading.event_pk).in_(_leg_events(leg)),
               col(TraceReading.celsius_max).is_not(None))
        .order_by(col(TraceReading.observed_from))).all()
    title = f"Temperature during leg {number}"
    if not rows:
        return line_chart([], title=title)
    t0 = leg.shipped_at or rows[0][0]
    xs = [round((r[0] - t0).total_seconds() / 3600, 3) for r in rows]
    series = [Series("Highest °C", [r[2] for r in rows], xs)]
    if any(r[1] != r[2] for r in rows):
        series.append(Series("Lowest °C", [r[1] for r in rows], xs))
    ends = [min(xs), max(xs)]
    series += [Series(f"Allowed maximum {allowed.max_celsius:g} °C", [allowed.max_celsius] * 2,
                      ends),
               Series(f"Allowed minimum {allowed.min_celsius:g} °C", [allowed.min_celsius] * 2,
                      ends)]
    values = [v for r in rows for v in (r[1], r[2]) if v is not None]
    low = min(allowed.min_celsius, *values) - 1
    high = max(allowed.max_celsius, *values) + 1
    return line_chart(series, title=title, x_label="Hours since shipping", y_label="°C",
                      y_range=(low, high), integer_x=False)


def _overview(request: Request, session: Session, who: WebUser,
              errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
              status: int = 200) -> HTMLResponse:
    orgs = access.visible_orgs(session, who.org_id)
    return render(request, "traceability/overview.html", {
        "lots": known_lots(session, orgs), "limit": LOTS_SHOWN,
        "alerts": alerts.list_alerts(session, who.principal, acknowledged=False, limit=10),
        "errors": errors or {}, "form": form or {}}, status)


# --------------------------------------------------------------------------- pages

@pages.get("")
def overview(request: Request, who: Viewer, session: PageSession) -> HTMLResponse:
    """Lots your organization and its partners recorded, and unacknowledged alerts."""
    return _overview(request, session, who)


@pages.get("/lots")
def find_lot(request: Request, who: Viewer, session: PageSession, lot: str = "",
             gtin: str = "") -> Response:
    """Go to a lot typed in the search form."""
    form = {"lot": lot.strip(), "gtin": gtin.strip()}
    try:
        if not form["lot"]:
            raise ValidationFailed("Enter a lot number", errors=[
                {"pointer": "/lot", "message": "enter a lot number"}])
        key = _gtin(gtin)
    except ValidationFailed as exc:
        return _overview(request, session, who, form_errors(exc), form, 422)
    suffix = f"?gtin={key}" if key else ""
    return redirect(request, f"/web/traceability/lots/{quote(form['lot'], safe='')}{suffix}")


@pages.get("/lots/{lot}")
def lot_page(lot: str, request: Request, who: Viewer, session: PageSession,
             gtin: str = "") -> HTMLResponse:
    """A lot: custody legs with a temperature chart each, excursions and where it is now."""
    key = _gtin(gtin)
    custody = custody_chain(session, who.org_id, lot, key)  # 404 unless visible
    orgs = access.visible_orgs(session, who.org_id)
    gtins = [key] if key else lot_gtins(session, orgs, lot)
    allowed = products.resolve_range(session, orgs, gtins[0] if gtins else None, lot)
    charts = [leg_chart(session, leg, i, allowed) for i, leg in enumerate(custody.legs, 1)]
    public = views.custody_public(custody)
    return render(request, "traceability/lot.html", {
        "lot": lot, "gtin": key, "gtins": gtins, "custody": public, "allowed": allowed,
        "legs": list(zip(public.legs, charts, strict=True)),
        "excursions": excursions_of_lot(session, orgs, lot, key),
        "stock": inventory(session, who.org_id, lot=lot, gtin=key),
        "alerts": alerts.list_alerts(session, who.principal, lot=lot, limit=20), "errors": {}})


@pages.get("/excursions")
def excursion_list(request: Request, who: Viewer, session: PageSession, since: str = "",
                   until: str = "") -> HTMLResponse:
    """Every visible temperature excursion in a date range."""
    form, errors, found, status = {"since": since, "until": until}, {}, [], 200
    try:
        start, end = _day("since", since), _day("until", until, end=True)
        found = excursions_between(session, access.visible_orgs(session, who.org_id), start,
                                   end)
    except ValidationFailed as exc:
        errors, status = form_errors(exc), 422
    return render(request, "traceability/excursions.html", {
        "excursions": sorted(found, key=lambda e: e.start, reverse=True), "form": form,
        "errors": errors}, status)


@pages.get("/inventory")
def inventory_page(request: Request, who: Viewer, session: PageSession, location: str = "",
                   lot: str = "", gtin: str = "") -> HTMLResponse:
    """Stock by location (last observed place of each identifier) and what is in transit."""
    form = {"location": location.strip(), "lot": lot.strip(), "gtin": gtin.strip()}
    errors: dict[str, str] = {}
    stock, status = None, 200
    try:
        stock = inventory(session, who.org_id, location=form["location"] or None,
                          lot=form["lot"] or None, gtin=_gtin(gtin))
    except ValidationFailed as exc:
        errors, status = form_errors(exc), 422
    return render(request, "traceability/inventory.html", {
        "stock": stock, "form": form, "errors": errors}, status)


def _alerts_page(request: Request, session: Session, who: WebUser, show: str,
                 errors: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    acknowledged = {"open": False, "acknowledged": True}.get(show)
    return render(request, "traceability/alerts.html", {
        "alerts": alerts.list_alerts(session, who.principal, acknowledged=acknowledged,
                                     limit=200),
        "show": show if show in ("open", "acknowledged") else "all", "errors": errors or {},
    }, status)


@pages.get("/alerts")
def alert_list(request: Request, who: Viewer, session: PageSession,
               show: str = "open") -> HTMLResponse:
    """Excursion alerts addressed to your organization."""
    return _alerts_page(request, session, who, show)


@pages.post("/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: str, request: Request, who: Manager, session: PageSession,
                comment: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Acknowledge an excursion alert with what was done (audited)."""
    try:
        text = Acknowledge.model_validate({"comment": comment.strip()}).comment
        alert = alerts.acknowledge(session, who.principal, alert_id, text)
    except FORM_ERRORS as exc:
        fail(session, exc)
        found = form_errors(exc)
        msg = found.get("comment") or "; ".join(found.values())
        return _alerts_page(request, session, who, "open", {f"comment-{alert_id}": msg},
                            422 if "comment" in found else 409)
    return redirect(request, "/web/traceability/alerts",
                    flash=f"Alert for lot {alert.lot or '—'} acknowledged.")


def _partners_page(request: Request, session: Session, who: WebUser,
                   errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
                   status: int = 200) -> HTMLResponse:
    orgs = identity.list_organizations(session)
    links = access.partners_of(session, who.org_id)
    return render(request, "traceability/partners.html", {
        "partners": links, "org_names": {o.id: o.name for o in orgs},
        "sharing": access.visible_orgs(session, who.org_id)[1:],
        "candidates": [o for o in orgs if o.id != who.org_id],
        "roles": [r.value for r in PartnerRole], "errors": errors or {}, "form": form or {},
        "can_manage": who.has(*access.MANAGER_ROLES),
    }, status)


@pages.get("/partners")
def partners(request: Request, who: Viewer, session: PageSession) -> HTMLResponse:
    """Organizations that may read your traceability events, and those sharing theirs."""
    return _partners_page(request, session, who)


@pages.post("/partners")
def declare(request: Request, who: Manager, session: PageSession,
            partner_org_id: Annotated[str, Form(max_length=36)] = "",
            role: Annotated[str, Form(max_length=20)] = "",
            reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Let another organization read your events, or change its role (with a reason)."""
    form = {"partner_org_id": partner_org_id, "role": role, "reason": reason.strip()}
    try:
        if not partner_org_id:
            raise ValidationFailed("Choose the partner organization", errors=[
                {"pointer": "/partner_org_id", "message": "choose an organization"}])
        data = PartnerPut.model_validate({"role": role or None, "reason": form["reason"] or None})
        existing = {p.partner_org_id: p for p in access.partners_of(session, who.org_id)}
        old = existing.get(partner_org_id)
        if old is not None and data.role not in (None, old.role) and not data.reason:
            raise ValidationFailed("Changing a partner's role needs a reason", errors=[
                {"pointer": "/reason", "message": "say why the role changes"}])
        link = access.declare_partner(session, who.principal, partner_org_id, data.role,
                                      data.reason)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _partners_page(request, session, who, form_errors(exc), form, 422)
    name = identity.get_organization(session, link.partner_org_id).name
    return redirect(request, "/web/traceability/partners",
                    flash=f"{name} is a partner ({link.role}).")


@pages.post("/partners/{partner_org_id}/remove")
def remove(partner_org_id: str, request: Request, who: Manager, session: PageSession,
           reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Withdraw a partner's access to your events (reason recorded)."""
    try:
        if len(reason.strip()) < 3:
            raise ValidationFailed("Give a reason for withdrawing access", errors=[
                {"pointer": "/reason", "message": "at least 3 characters"}])
        access.remove_partner(session, who.principal, partner_org_id, reason.strip())
    except ValidationFailed as exc:
        fail(session, exc)
        return _partners_page(request, session, who,
                              {f"reason-{partner_org_id}": form_errors(exc)["reason"]},
                              status=422)
    return redirect(request, "/web/traceability/partners", flash="Partner access withdrawn.")
