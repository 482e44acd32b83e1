"""Production monitoring: site agents post alerts, work orders, shadow reports and readings;
people see per-site and consortium views and triage with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from hub.deps import CurrentPrincipal, Offset, SessionDep
from hub.monitoring import service
from hub.monitoring.models import Alert, AlertStatus, WorkOrder, WorkOrderStatus
from hub.monitoring.schemas import (
    AlertIn,
    AlertPublic,
    IngestResult,
    MonitoringSummary,
    ShadowReportIn,
    ShadowReportPublic,
    Transition,
    WorkOrderPublic,
)
from hub.sites.deps import CurrentSite, IdempotencyDep

router = APIRouter(prefix="/monitoring", tags=["monitoring"])
Limit = Annotated[int, Query(ge=1, le=1000)]
IDEMPOTENT = {"description": "replayed response (Idempotent-Replayed: true) for a repeated key"}


@router.post("/alerts", response_model=AlertPublic, status_code=201, responses={200: IDEMPOTENT})
def post_alert(data: AlertIn, site: CurrentSite, session: SessionDep,
               idem: IdempotencyDep) -> JSONResponse:
    """Receive one alert from a site agent (exactly once per Idempotency-Key)."""
    return idem.run(201, lambda: AlertPublic.model_validate(
        service.receive_alert(session, site, data)))


@router.post("/work-orders", response_model=WorkOrderPublic, status_code=201)
def post_work_order(document: dict[str, object], site: CurrentSite, session: SessionDep,
                    idem: IdempotencyDep) -> JSONResponse:
    """Receive a proposed maintenance-work-order/1.0.0 from a site agent."""
    return idem.run(201, lambda: WorkOrderPublic.model_validate(
        service.receive_work_order(session, site, document)))


@router.post("/shadow-reports", response_model=ShadowReportPublic, status_code=201)
def post_shadow_report(data: ShadowReportIn, site: CurrentSite, session: SessionDep,
                       idem: IdempotencyDep) -> JSONResponse:
    """Receive a shadow-scoring comparison from a site agent."""
    return idem.run(201, lambda: ShadowReportPublic.model_validate(
        service.receive_shadow_report(session, site, data)))


async def _body(request: Request) -> bytes:
    return await request.body()


@router.post("/readings", response_model=IngestResult, status_code=201,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}})
def post_readings(body: Annotated[bytes, Depends(_body)], site: CurrentSite, session: SessionDep,
                  idem: IdempotencyDep, x_fedhub_schema: Annotated[
                      str, Header(description="e.g. sensor-reading/1.0.0")
                  ] = "sensor-reading/1.0.0") -> JSONResponse:
    """Receive a batch (JSON array) of shared sensor readings; every bad field is named."""
    def work() -> IngestResult:
        received, stored = service.ingest_readings(session, site, x_fedhub_schema, body)
        return IngestResult(schema_id=x_fedhub_schema, received=received, stored=stored,
                            duplicates=received - stored)

    return idem.run(201, work)


@router.get("/alerts", response_model=list[AlertPublic])
def list_alerts(who: CurrentPrincipal, session: SessionDep, site_id: str | None = None,
                status: AlertStatus | None = None, severity: str | None = None,
                limit: Limit = 100, offset: Offset = 0) -> list[AlertPublic]:
    """Alerts of your organization's sites (all sites for hub admins), newest first."""
    return [AlertPublic.model_validate(a) for a in
            service.list_alerts(session, who, site_id, status, severity, limit, offset)]


@router.get("/alerts/{alert_id}", response_model=AlertPublic)
def get_alert(alert_id: str, who: CurrentPrincipal, session: SessionDep) -> AlertPublic:
    """One alert."""
    return AlertPublic.model_validate(service.get_alert(session, who, alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge_alert(alert_id: str, data: Transition, who: CurrentPrincipal,
                      session: SessionDep) -> AlertPublic:
    """Acknowledge an alert (site admin, QA or hub admin; the reason is audited)."""
    return AlertPublic.model_validate(
        service.transition(session, who, Alert, alert_id, "acknowledged", data.reason))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertPublic)
def resolve_alert(alert_id: str, data: Transition, who: CurrentPrincipal,
                  session: SessionDep) -> AlertPublic:
    """Resolve an alert (the reason is audited)."""
    return AlertPublic.model_validate(
        service.transition(session, who, Alert, alert_id, "resolved", data.reason))


@router.get("/work-orders", response_model=list[WorkOrderPublic])
def list_work_orders(who: CurrentPrincipal, session: SessionDep, site_id: str | None = None,
                     status: WorkOrderStatus | None = None, limit: Limit = 100,
                     offset: Offset = 0) -> list[WorkOrderPublic]:
    """Proposed maintenance work orders, soonest due first."""
    return [WorkOrderPublic.model_validate(w) for w in
            service.list_work_orders(session, who, site_id, status, limit, offset)]


@router.get("/work-orders/{wo_id}", response_model=WorkOrderPublic)
def get_work_order(wo_id: str, who: CurrentPrincipal, session: SessionDep) -> WorkOrderPublic:
    """One work order with its full standard document."""
    return WorkOrderPublic.model_validate(service.get_work_order(session, who, wo_id))


@router.post("/work-orders/{wo_id}/acknowledge", response_model=WorkOrderPublic)
def acknowledge_work_order(wo_id: str, data: Transition, who: CurrentPrincipal,
                           session: SessionDep) -> WorkOrderPublic:
    """Acknowledge a proposed work order (the reason is audited)."""
    return WorkOrderPublic.model_validate(
        service.transition(session, who, WorkOrder, wo_id, "acknowledged", data.reason))


@router.post("/work-orders/{wo_id}/resolve", response_model=WorkOrderPublic)
def resolve_work_order(wo_id: str, data: Transition, who: CurrentPrincipal,
                       session: SessionDep) -> WorkOrderPublic:
    """Resolve a work order (done or not needed; the reason is audited)."""
    return WorkOrderPublic.model_validate(
        service.transition(session, who, WorkOrder, wo_id, "resolved", data.reason))


@router.get("/shadow-reports", response_model=list[ShadowReportPublic])
def list_shadow_reports(who: CurrentPrincipal, session: SessionDep, site_id: str | None = None,
                        limit: Limit = 100) -> list[ShadowReportPublic]:
    """Shadow-scoring comparisons (agreement, alerts each scorer raised), newest first."""
    return [ShadowReportPublic.model_validate(r) for r in
            service.list_shadow_reports(session, who, site_id, limit)]


@router.get("/summary", response_model=MonitoringSummary)
def summary(who: CurrentPrincipal, session: SessionDep) -> MonitoringSummary:
    """Per-site counts for your sites and consortium-wide totals (no other sites named)."""
    sites, consortium = service.summary(session, who)
    return MonitoringSummary(sites=sites, consortium=consortium)
