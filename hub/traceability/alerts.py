"""Excursion alerts for the owning organization and its logistics partners."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.db import utcnow
from hub.errors import Conflict, NotFound
from hub.identity.principal import Principal
from hub.traceability.access import partners_of, require_manager
from hub.traceability.excursions import Excursion
from hub.traceability.models import PartnerRole, TraceAlert

KIND = "temperature_excursion"


def recipients(session: Session, owner_org_id: str) -> list[str]:
    """The owner first, then each partner it declared with the logistics role."""
    out = [owner_org_id]
    for link in partners_of(session, owner_org_id, PartnerRole.logistics):
        if link.partner_org_id not in out:
            out.append(link.partner_org_id)
    return out


def raise_alerts(session: Session, capturer_org_id: str, excursions: Sequence[Excursion],
                 new_event_ids: set[str]) -> list[TraceAlert]:
    """Create (or extend) one alert per recipient for excursions involving new events."""
    touched: list[TraceAlert] = []
    for exc in excursions:
        if not new_event_ids.intersection(exc.event_ids):
            continue
        owner = exc.allowed.org_id or capturer_org_id
        for org_id in recipients(session, owner):
            alert = session.exec(select(TraceAlert).where(
                TraceAlert.org_id == org_id, TraceAlert.kind == KIND,
                TraceAlert.gtin == (exc.gtin or ""), TraceAlert.lot == (exc.lot or ""),
                TraceAlert.window_start == exc.start)).first()
            if alert is None:
                alert = TraceAlert(org_id=org_id, owner_org_id=owner, kind=KIND,
                                   gtin=exc.gtin or "", lot=exc.lot or "",
                                   window_start=exc.start, window_end=exc.end,
                                   max_celsius=exc.max_celsius, min_celsius=exc.min_celsius,
                                   allowed_min=exc.allowed.min_celsius,
                                   allowed_max=exc.allowed.max_celsius,
                                   event_ids=list(exc.event_ids), message=exc.describe()[:1000])
            else:
                alert.window_end = max(alert.window_end, exc.end)
                alert.max_celsius = max(alert.max_celsius, exc.max_celsius)
                alert.min_celsius = min(alert.min_celsius, exc.min_celsius)
                alert.event_ids = sorted(set(alert.event_ids) | set(exc.event_ids))
                alert.message = exc.describe()[:1000]
                alert.updated_at = utcnow()
            session.add(alert)
            touched.append(alert)
    session.flush()
    return touched


def list_alerts(session: Session, who: Principal, *, acknowledged: bool | None = None,
                lot: str | None = None, limit: int = 100) -> Sequence[TraceAlert]:
    """Alerts addressed to the caller's organization, newest first."""
    stmt = select(TraceAlert).where(TraceAlert.org_id == who.org_id)
    if acknowledged is not None:
        is_null = col(TraceAlert.acknowledged_at).is_(None)
        stmt = stmt.where(~is_null if acknowledged else is_null)
    if lot is not None:
        stmt = stmt.where(TraceAlert.lot == lot)
    return session.exec(stmt.order_by(col(TraceAlert.window_start).desc()).limit(limit)).all()


def get_alert(session: Session, who: Principal, alert_id: str) -> TraceAlert:
    alert = session.get(TraceAlert, alert_id)
    if alert is None or alert.org_id != who.org_id:
        raise NotFound(f"Alert {alert_id} not found")
    return alert


def acknowledge(session: Session, who: Principal, alert_id: str, comment: str) -> TraceAlert:
    """Record that the organization has handled the alert (audited with the comment)."""
    require_manager(who)
    alert = get_alert(session, who, alert_id)
    if alert.acknowledged_at is not None:
        raise Conflict("The alert is already acknowledged")
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = who.id
    alert.acknowledge_comment = comment
    session.add(alert)
    audit.append(session, entity_type="trace_alert", entity_id=alert.id, action="acknowledge",
                 new={"lot": alert.lot, "gtin": alert.gtin, "window_start": alert.window_start,
                      "max_celsius": alert.max_celsius}, reason_text=comment)
    session.flush()
    return alert
