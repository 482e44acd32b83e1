"""Monitoring pages: per-site and consortium views of alerts and work orders, triage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from hub.errors import NotFound, ValidationFailed
from hub.monitoring import service
from hub.monitoring.models import Alert, AlertStatus, WorkOrder, WorkOrderStatus
from hub.monitoring.schemas import Transition
from hub.sites import service as sites
from hub.web import (
    FORM_ERRORS,
    Area,
    PageSession,
    Series,
    WebUser,
    bar_chart,
    fail,
    form_errors,
    page_router,
    redirect,
    register_area,
    render,
    require_page_role,
)
from hub.web.routing import safe_next

pages = page_router("/web/monitoring")
Viewer = Annotated[WebUser, Depends(require_page_role(*service.TRIAGE_ROLES))]
PAGE = 50
SEVERITIES = ("critical", "warning", "info")
TRANSITIONS = {"acknowledge": "acknowledged", "resolve": "resolved"}

register_area(Area("Alerts & work orders", "/web/monitoring",
                   "Your sites' anomaly alerts and proposed maintenance, with consortium totals.",
                   roles=service.TRIAGE_ROLES, order=35))


def _choice(name: str, value: str, allowed: tuple[str, ...] | list[str]) -> str | None:
    """An optional filter value from a form; unknown values name the field."""
    if not value:
        return None
    if value not in allowed:
        raise ValidationFailed(f"Unknown {name.replace('_', ' ')} {value!r}", errors=[
            {"pointer": f"/{name}", "message": "not one of the choices"}])
    return value


def _site_names(session: Session, who: WebUser) -> dict[str, str]:
    return {s.id: s.name for s in sites.list_sites(session, who.principal)}


@pages.get("")
def overview(request: Request, who: Viewer, session: PageSession) -> HTMLResponse:
    """Open alerts and work orders across your sites, with anonymous consortium totals."""
    rows, consortium = service.summary(session, who.principal)
    chart = None
    if rows and any(r.open_alerts or r.acknowledged_alerts for r in rows):
        chart = bar_chart([r.site_name for r in rows], [
            Series("Open", [r.open_alerts for r in rows]),
            Series("Open critical", [r.critical_open for r in rows]),
            Series("Acknowledged", [r.acknowledged_alerts for r in rows])],
            title="Alerts per site", y_label="Alerts")
    names = {r.site_id: r.site_name for r in rows}
    return render(request, "monitoring/overview.html", {
        "rows": rows, "consortium": consortium, "chart": chart, "site_names": names,
        "alerts": service.list_alerts(session, who.principal, status=AlertStatus.open, limit=10),
        "orders": service.list_work_orders(session, who.principal,
                                           status=WorkOrderStatus.proposed, limit=10),
        "errors": {},
    })


def _list(request: Request, session: Session, who: WebUser, kind: str, site_id: str,
          status: str, severity: str, offset: int, errors: dict[str, str] | None = None,
          status_code: int = 200) -> HTMLResponse:
    names = _site_names(session, who)
    filters: dict[str, Any] = {"site_id": site_id, "status": status, "severity": severity}
    try:
        if kind == "alerts":
            st = _choice("status", status, [s.value for s in AlertStatus])
            sev = _choice("severity", severity, SEVERITIES)
            rows: Any = service.list_alerts(session, who.principal, site_id or None,
                                            AlertStatus(st) if st else None, sev, PAGE + 1,
                                            offset)
        else:
            st = _choice("status", status, [s.value for s in WorkOrderStatus])
            rows = service.list_work_orders(session, who.principal, site_id or None,
                                            WorkOrderStatus(st) if st else None, PAGE + 1,
                                            offset)
    except ValidationFailed as exc:
        errors, status_code, rows = form_errors(exc), 422, []
    here = f"/web/monitoring/{kind}?site_id={site_id}&status={status}&severity={severity}"
    return render(request, f"monitoring/{kind}.html", {
        "rows": rows[:PAGE], "more": len(rows) > PAGE, "offset": offset, "page": PAGE,
        "site_names": names, "filters": filters, "errors": errors or {},
        "back": here + (f"&offset={offset}" if offset else ""), "here": here,
        "statuses": [s.value for s in (AlertStatus if kind == "alerts" else WorkOrderStatus)],
        "severities": SEVERITIES,
    }, status_code)


@pages.get("/alerts")
def alerts(request: Request, who: Viewer, session: PageSession, site_id: str = "",
           status: str = "", severity: str = "", offset: int = 0) -> HTMLResponse:
    """Alerts of your sites, newest first, filtered by site, status and severity."""
    return _list(request, session, who, "alerts", site_id, status, severity, max(offset, 0))


@pages.get("/work-orders")
def work_orders(request: Request, who: Viewer, session: PageSession, site_id: str = "",
                status: str = "", offset: int = 0) -> HTMLResponse:
    """Proposed maintenance work orders of your sites, soonest due first."""
    return _list(request, session, who, "work-orders", site_id, status, "", max(offset, 0))


def _detail(request: Request, session: Session, who: WebUser, kind: str, row_id: str,
            errors: dict[str, str] | None = None, back: str = "",
            status_code: int = 200) -> HTMLResponse:
    row: Alert | WorkOrder = (service.get_alert(session, who.principal, row_id)
                              if kind == "alerts"
                              else service.get_work_order(session, who.principal, row_id))
    site = sites.get_site_for(session, who.principal, row.site_id)
    return render(request, "monitoring/detail.html", {
        "kind": kind, "row": row, "site": site, "site_names": {site.id: site.name},
        "errors": errors or {}, "back": back or f"/web/monitoring/{kind}/{row.id}",
    }, status_code)


@pages.get("/alerts/{row_id}")
def alert(row_id: str, request: Request, who: Viewer, session: PageSession) -> HTMLResponse:
    """One alert: equipment, reading against expectation, triage history."""
    return _detail(request, session, who, "alerts", row_id)


@pages.get("/work-orders/{row_id}")
def work_order(row_id: str, request: Request, who: Viewer,
               session: PageSession) -> HTMLResponse:
    """One work order with its standard document."""
    return _detail(request, session, who, "work-orders", row_id)


@pages.post("/{kind}/{row_id}/{action}")
def triage(kind: str, row_id: str, action: str, request: Request, who: Viewer,
           session: PageSession, reason: Annotated[str, Form(max_length=2000)] = "",
           next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Acknowledge or resolve an alert or work order; the reason goes to the audit trail."""
    if kind not in ("alerts", "work-orders") or action not in TRANSITIONS:
        raise NotFound("No such page")
    back = safe_next(next, f"/web/monitoring/{kind}/{row_id}")
    try:
        why = Transition.model_validate({"reason": reason.strip()}).reason
        if kind == "alerts":
            service.transition(session, who.principal, Alert, row_id, TRANSITIONS[action], why)
        else:
            service.transition(session, who.principal, WorkOrder, row_id, TRANSITIONS[action],
                               why)
    except FORM_ERRORS as exc:
        fail(session, exc)
        found = form_errors(exc)
        return _detail(request, session, who, kind, row_id,
                       {f"reason-{row_id}": found.get("reason") or "; ".join(found.values())},
                       back, 422 if "reason" in found else 409)
    what = "Alert" if kind == "alerts" else "Work order"
    return redirect(request, back, flash=f"{what} {TRANSITIONS[action]}: {why}")
