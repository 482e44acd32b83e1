"""Monitoring at the hub: receive site messages, per-site and consortium views, triage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, func, select

from hub.audit import service as audit
from hub.db import utcnow
from hub.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from hub.identity.principal import Principal
from hub.monitoring.models import (
    Alert,
    AlertStatus,
    Reading,
    ShadowReport,
    WorkOrder,
    WorkOrderStatus,
)
from hub.monitoring.schemas import AlertIn, ConsortiumCounts, ShadowReportIn, SiteCounts
from hub.sites import service as sites
from hub.sites.models import Site
from standards import registry
from standards.base import Standard
from standards.classification import Level, iter_sensitive

WORK_ORDER_SCHEMA = "maintenance-work-order/1.0.0"
READING_FAMILY = "sensor-reading"
TRIAGE_ROLES = ("site_admin", "qa", "hub_admin")
MAX_ERRORS = 1000


def _site_code_errors(site: Site, items: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Messages must carry the site's own ISA-95 site code (``location.site``)."""
    code = site.location.get("site")
    return [{"pointer": ptr, "message": f"{value!r} is not this site's code {code!r}"}
            for ptr, value in items if value != code]


def _refuse_restricted(std: Standard, items: list[Any]) -> None:
    """Defense in depth: recipe or personal data never lands at the hub, even if sent."""
    errors = [{"pointer": f"/{i}{p}" if len(items) > 1 else p,
               "message": "classified recipe/pii; must not leave the site"}
              for i, item in enumerate(items)
              for p in iter_sensitive(std.classification_index, item, Level.recipe)]
    if errors:
        raise ValidationFailed("Payload carries fields that must never leave a site",
                               errors=errors[:MAX_ERRORS])


def receive_alert(session: Session, site: Site, data: AlertIn) -> Alert:
    errors = _site_code_errors(site, [("/site_id", data.site_id),
                                      ("/asset/site", data.asset.site)])
    if errors:
        raise ValidationFailed("Alert names another site", errors=errors)
    if session.exec(select(Alert).where(Alert.site_id == site.id,
                                        Alert.source_alert_id == str(data.alert_id))).first():
        raise Conflict(f"Alert {data.alert_id} was already received from this site")
    alert = Alert(site_id=site.id, organization_id=site.organization_id,
                  source_alert_id=str(data.alert_id), asset=data.asset.model_dump(),
                  asset_path=data.asset.path(), measurement=data.measurement,
                  detector=data.detector, severity=data.severity, score=data.score,
                  value=data.value, expected=data.expected, unit=data.unit,
                  message=data.message, scorer=data.scorer, reading_id=str(data.reading_id),
                  raised_at=data.raised_at)
    session.add(alert)
    session.flush()
    return alert


def receive_work_order(session: Session, site: Site, document: Any) -> WorkOrder:
    """Validate a maintenance-work-order against the standard and store it."""
    std = registry.get_by_id(WORK_ORDER_SCHEMA)
    if not isinstance(document, dict):
        raise ValidationFailed("Expected one work order object",
                               errors=[{"pointer": "", "message": "expected an object"}])
    _refuse_restricted(std, [document])
    report = std.validate(document)
    if not report.ok:
        raise ValidationFailed("Work order does not conform to " + WORK_ORDER_SCHEMA,
                               errors=[v.as_dict() for v in report.errors])
    wo = report.value
    errors = _site_code_errors(site, [("/site_id", wo.site_id), ("/asset/site", wo.asset.site)])
    if errors:
        raise ValidationFailed("Work order names another site", errors=errors)
    if session.exec(select(WorkOrder).where(WorkOrder.site_id == site.id,
                                            WorkOrder.work_order_id == wo.work_order_id)).first():
        raise Conflict(f"Work order {wo.work_order_id} was already received from this site")
    row = WorkOrder(site_id=site.id, organization_id=site.organization_id,
                    work_order_id=wo.work_order_id, schema_id=std.id,
                    asset_path=wo.asset.path(), predicted_failure_mode=wo.predicted_failure_mode,
                    priority=wo.priority, recommended_action=wo.recommended_action,
                    due_date=wo.due_date.isoformat(), source_alert_ids=list(wo.source_alert_ids),
                    document=wo.model_dump(mode="json", by_alias=True, exclude_none=True),
                    created_at=wo.created_at)
    session.add(row)
    session.flush()
    return row


def receive_shadow_report(session: Session, site: Site, data: ShadowReportIn) -> ShadowReport:
    errors = _site_code_errors(site, [("/site_id", data.site_id)])
    if data.window_end < data.window_start:
        errors.append({"pointer": "/window_end", "message": "before window_start"})
    if errors:
        raise ValidationFailed("Shadow report is inconsistent", errors=errors)
    row = ShadowReport(site_id=site.id, organization_id=site.organization_id,
                       report_id=str(data.report_id), window_start=data.window_start,
                       window_end=data.window_end, readings=data.readings,
                       agreement=data.agreement, current_scorer=data.current.name,
                       current_alerts=data.current.alerts,
                       current_flagged=data.current.flagged_readings,
                       shadow_scorer=data.shadow.name, shadow_alerts=data.shadow.alerts,
                       shadow_flagged=data.shadow.flagged_readings,
                       only_current=data.only_current, only_shadow=data.only_shadow)
    session.add(row)
    session.flush()
    return row


@lru_cache(maxsize=16)
def _has_restricted(schema_id: str) -> bool:
    info = registry.get_by_id(schema_id).info()
    return any(Level(v).rank >= Level.recipe.rank for v in info.restricted_fields.values())


def ingest_readings(session: Session, site: Site, schema_id: str, body: bytes) -> tuple[int, int]:
    """Validate a JSON array of sensor readings and store new ones: (received, stored)."""
    try:
        std = registry.get_by_id(schema_id)
    except (LookupError, ValueError) as exc:
        raise ValidationFailed(f"Unknown standard {schema_id!r}", errors=[
            {"pointer": "/headers/X-Fedhub-Schema", "message": "unknown standard"}]) from exc
    if std.name != READING_FAMILY:
        raise ValidationFailed(f"{schema_id} is not a sensor-reading standard", errors=[
            {"pointer": "/headers/X-Fedhub-Schema", "message": "expected sensor-reading/*"}])
    reports = std.validate_json_batch(body)  # type: ignore[attr-defined]
    errors = [{"pointer": (f"/{i}" if len(reports) > 1 or v.pointer else "") + v.pointer,
               "message": v.message} for i, r in enumerate(reports) for v in r.errors]
    if errors:
        raise ValidationFailed(f"{len(errors)} field(s) do not conform to {schema_id}",
                               errors=errors[:MAX_ERRORS])
    values = [r.value for r in reports]
    if _has_restricted(schema_id):
        _refuse_restricted(std, [v.model_dump(mode="json", by_alias=True) for v in values])
    errors = _site_code_errors(site, [(f"/{i}/site_id", v.site_id) for i, v in enumerate(values)])
    if errors:
        raise ValidationFailed("Readings name another site", errors=errors[:MAX_ERRORS])
    if not values:
        return 0, 0
    conn = session.connection()  # Core statements: the ORM bulk path costs more than the insert
    table = Reading.__table__  # type: ignore[attr-defined]
    ids = [str(v.reading_id) for v in values]
    seen = set(conn.execute(sa.select(table.c.reading_id).where(
        table.c.site_id == site.id, table.c.reading_id.in_(ids))).scalars())
    now = utcnow()
    rows = [{"site_id": site.id, "reading_id": rid, "asset_path": v.equipment.path(),
             "ts": v.timestamp, "measurements": v.measurements.model_dump(mode="json",
                                                                          exclude_none=True),
             "schema_id": std.id, "received_at": now}
            for rid, v in zip(ids, values, strict=True) if rid not in seen]
    rows = list({r["reading_id"]: r for r in rows}.values())  # repeated within the batch
    if rows:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(table).on_conflict_do_nothing(
            index_elements=["site_id", "reading_id"]), rows)  # a concurrent copy is skipped
    return len(values), len(rows)


# ---------------------------------------------------------------------------- views

T = TypeVar("T", Alert, WorkOrder)


def _scoped(stmt: Any, model: type[Alert] | type[WorkOrder] | type[ShadowReport],
            who: Principal, site_id: str | None, session: Session) -> Any:
    if site_id:
        sites.get_site_for(session, who, site_id)  # 404 unless visible
        stmt = stmt.where(model.site_id == site_id)
    if not who.is_hub_admin:
        stmt = stmt.where(model.organization_id == who.org_id)
        if not who.is_user:
            stmt = stmt.where(model.site_id == (who.site_id or ""))
    return stmt


def list_alerts(session: Session, who: Principal, site_id: str | None = None,
                status: AlertStatus | None = None, severity: str | None = None,
                limit: int = 100, offset: int = 0) -> Sequence[Alert]:
    stmt = _scoped(select(Alert), Alert, who, site_id, session)
    if status:
        stmt = stmt.where(Alert.status == status)
    if severity:
        stmt = stmt.where(Alert.severity == severity)
    stmt = stmt.order_by(col(Alert.raised_at).desc()).offset(offset).limit(limit)
    return session.exec(stmt).all()


def list_work_orders(session: Session, who: Principal, site_id: str | None = None,
                     status: WorkOrderStatus | None = None, limit: int = 100,
                     offset: int = 0) -> Sequence[WorkOrder]:
    stmt = _scoped(select(WorkOrder), WorkOrder, who, site_id, session)
    if status:
        stmt = stmt.where(WorkOrder.status == status)
    stmt = stmt.order_by(col(WorkOrder.due_date), col(WorkOrder.received_at).desc())
    return session.exec(stmt.offset(offset).limit(limit)).all()


def list_shadow_reports(session: Session, who: Principal, site_id: str | None = None,
                        limit: int = 100) -> Sequence[ShadowReport]:
    stmt = _scoped(select(ShadowReport), ShadowReport, who, site_id, session)
    stmt = stmt.order_by(col(ShadowReport.window_end).desc()).limit(limit)
    return session.exec(stmt).all()


def _get(session: Session, who: Principal, model: type[T], row_id: str) -> T:
    row = session.get(model, row_id)
    if row is None or not (who.is_hub_admin or row.organization_id == who.org_id):
        raise NotFound(f"{model.__audit_entity__.replace('_', ' ').title()} {row_id} not found")
    return row


def get_alert(session: Session, who: Principal, alert_id: str) -> Alert:
    return _get(session, who, Alert, alert_id)


def get_work_order(session: Session, who: Principal, wo_id: str) -> WorkOrder:
    return _get(session, who, WorkOrder, wo_id)


def transition(session: Session, who: Principal, model: type[T], row_id: str, target: str,
               reason: str) -> T:
    """Acknowledge or resolve an alert or work order (audited, with the reason)."""
    if not who.is_user or not who.has(*TRIAGE_ROLES):
        raise PermissionDenied("Triage needs a site admin, QA or hub admin")
    row = _get(session, who, model, row_id)
    order = ["open", "proposed", "acknowledged", "resolved"]
    if order.index(target) <= order.index(row.status):
        raise Conflict(f"{model.__audit_entity__} is {row.status}; cannot move to {target}")
    with audit.reason(session, reason):
        row.status = target  # type: ignore[assignment]
        row.status_by, row.status_at, row.status_reason = who.id, utcnow(), reason
        session.add(row)
    return row


def summary(session: Session, who: Principal) -> tuple[list[SiteCounts], ConsortiumCounts]:
    """Per-site counts for the sites you may see; consortium totals without identities."""
    visible = list(sites.list_sites(session, who))
    ids = [s.id for s in visible]

    def grouped(stmt: Any) -> dict[Any, int]:
        return {tuple(r[:-1]) if len(r) > 2 else r[0]: r[-1] for r in session.execute(stmt)}

    a_by = grouped(select(Alert.site_id, Alert.status, Alert.severity, func.count())
                   .where(col(Alert.site_id).in_(ids))
                   .group_by(Alert.site_id, Alert.status, Alert.severity))
    last = grouped(select(Alert.site_id, func.max(Alert.raised_at))
                   .where(col(Alert.site_id).in_(ids)).group_by(Alert.site_id))
    wo_open = grouped(select(WorkOrder.site_id, func.count())
                      .where(col(WorkOrder.site_id).in_(ids),
                             WorkOrder.status != WorkOrderStatus.resolved)
                      .group_by(WorkOrder.site_id))
    rows = []
    for s in visible:
        def n(status: str, sev: str | None = None, sid: str = s.id) -> int:
            return sum(v for (site, st, sv), v in a_by.items()
                       if site == sid and st == status and (sev is None or sv == sev))
        rows.append(SiteCounts(site_id=s.id, site_name=s.name, organization_id=s.organization_id,
                               kind=s.kind, open_alerts=n("open"),
                               acknowledged_alerts=n("acknowledged"),
                               critical_open=n("open", "critical"),
                               open_work_orders=wo_open.get(s.id, 0),
                               last_alert_at=_aware(last.get(s.id))))
    open_alerts = select(Alert).where(Alert.status != AlertStatus.resolved).subquery()
    by_sev = dict(session.execute(select(open_alerts.c.severity, func.count())
                                  .group_by(open_alerts.c.severity)).all())
    by_meas = dict(session.execute(select(open_alerts.c.measurement, func.count())
                                   .group_by(open_alerts.c.measurement)).all())
    by_mode = dict(session.execute(select(WorkOrder.predicted_failure_mode, func.count())
                                   .where(WorkOrder.status != WorkOrderStatus.resolved)
                                   .group_by(WorkOrder.predicted_failure_mode)).all())
    reporting = session.execute(select(func.count(sa.distinct(col(Alert.site_id))))).scalar_one()
    consortium = ConsortiumCounts(
        sites_reporting=reporting, open_alerts=sum(by_sev.values()),
        alerts_by_severity=by_sev, alerts_by_measurement=by_meas,
        open_work_orders=sum(by_mode.values()), work_orders_by_failure_mode=by_mode)
    return rows, consortium


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
