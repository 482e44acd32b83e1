"""Compliance API: drafts, sections, signatures, corrections, regulator pulls, bundles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Response
from sqlmodel import Session

from hub.audit import signatures
from hub.audit.schemas import SignaturePublic
from hub.compliance import access, schedules, service
from hub.compliance.access import Filters
from hub.compliance.bundle import build_bundle
from hub.compliance.models import AccessAction, ComplianceReport, ReportStatus
from hub.compliance.periods import Period, parse_period
from hub.compliance.schemas import (
    AccessPublic,
    CorrectionCreate,
    OverduePublic,
    ReportCreate,
    ReportPublic,
    ReportSign,
    ReportSummary,
    SchedulePublic,
    ScheduleUpdate,
    SectionUpdate,
)
from hub.db import utcnow
from hub.deps import CurrentPrincipal, CurrentUser, SessionDep, SettingsDep
from hub.errors import ValidationFailed
from hub.identity.models import Organization
from hub.sites.models import Site

router = APIRouter(prefix="/compliance", tags=["compliance"])
STATUSES = tuple(s.value for s in ReportStatus)


def period_arg(text: str | None, pointer: str = "/period") -> Period | None:
    if not text:
        return None
    try:
        return parse_period(text)
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[{"pointer": pointer, "message": str(exc)}]) \
            from exc


def summary(session: Session, r: ComplianceReport) -> dict[str, Any]:
    org = session.get(Organization, r.organization_id)
    site = session.get(Site, r.site_id)
    return {**{k: getattr(r, k) for k in ReportSummary.model_fields
               if k not in ("organization_name", "site_name", "period_label")},
            "organization_name": org.name if org else None,
            "site_name": site.name if site else None,
            "period_label": Period(r.period_start, r.period_end).label}


def public(session: Session, r: ComplianceReport) -> ReportPublic:
    sigs = [SignaturePublic.model_validate(s)
            for s in signatures.for_record(session, service.ENTITY, r.id)]
    return ReportPublic(**summary(session, r), content=r.content, sections=r.sections,
                        evidence_counts={k: len(v) for k, v in r.evidence.items()},
                        signatures=sigs)


@router.post("/submissions", response_model=ReportPublic, status_code=201)
def create(data: ReportCreate, who: CurrentPrincipal, session: SessionDep,
           settings: SettingsDep) -> ReportPublic:
    """Start a draft for a site and period, pre-filled from the hub's own records."""
    site = service.get_site(session, who, data.site_id)
    period = period_arg(data.period) or schedules.schedule_of(session, site.id).last_ended(
        utcnow().date())
    return public(session, service.create_draft(session, settings, who, site.id, period))


@router.get("/submissions", response_model=list[ReportSummary])
def list_submissions(
    who: CurrentPrincipal, session: SessionDep,
    since: Annotated[str | None, Query(description="YYYY-MM-DD or ISO date-time")] = None,
    site_id: str | None = None,
    period: Annotated[str | None, Query(description="2026-Q1, 2026-03, … or START/END")] = None,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    organization_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[dict[str, Any]]:
    """Submissions you may see (regulators: submitted ones of their jurisdiction; audited)."""
    try:
        when = access.parse_since(since)
    except ValueError as exc:
        raise ValidationFailed(f"since: {exc}", errors=[{"pointer": "/since",
                                                         "message": str(exc)}]) from exc
    f = Filters(when, site_id, period_arg(period), status, organization_id)
    rows = access.list_visible(session, who, f, limit)
    access.record_access(session, who, AccessAction.list, rows, detail=f.as_dict())
    return [summary(session, r) for r in rows]


@router.get("/submissions/{report_id}", response_model=ReportPublic)
def read(report_id: str, who: CurrentPrincipal, session: SessionDep) -> ReportPublic:
    """One submission with its content, section states and signatures (audited)."""
    report = access.get_visible(session, who, report_id)
    access.record_access(session, who, AccessAction.read, [report])
    return public(session, report)


@router.get("/submissions/{report_id}/bundle",
            responses={200: {"content": {"application/zip": {}}}})
def bundle(report_id: str, who: CurrentPrincipal, session: SessionDep,
           settings: SettingsDep) -> Response:
    """The signed evidence bundle (ZIP): report JSON + PDF, audit excerpt, evidence, JWKS."""
    report = access.get_visible(session, who, report_id)
    built = build_bundle(session, settings, report)
    access.record_access(session, who, AccessAction.download, [report],
                         detail={"file": built.filename})
    return Response(built.data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{built.filename}"'})


@router.patch("/submissions/{report_id}/sections/{section}", response_model=ReportPublic)
def edit_section(report_id: str, section: str, data: SectionUpdate, who: CurrentPrincipal,
                 session: SessionDep) -> ReportPublic:
    """Replace a draft section's items and/or mark it reviewed (409 once signed)."""
    report = service.update_section(session, who, report_id, section, items=data.items,
                                    reviewed=data.reviewed, note=data.note, reason=data.reason)
    return public(session, report)


@router.post("/submissions/{report_id}/sign", response_model=ReportPublic)
def sign(report_id: str, data: ReportSign, user: CurrentUser, who: CurrentPrincipal,
         session: SessionDep, settings: SettingsDep) -> ReportPublic:
    """Site admin signs the reviewed draft (meaning: responsible); it is frozen from then on."""
    report, _ = service.sign(session, settings, who, report_id, password=data.password,
                             comment=data.comment, meaning=data.meaning)
    return public(session, report)


@router.post("/submissions/{report_id}/cosign", response_model=ReportPublic)
def cosign(report_id: str, data: ReportSign, user: CurrentUser, who: CurrentPrincipal,
           session: SessionDep, settings: SettingsDep) -> ReportPublic:
    """QA co-signs (meaning: approved): the report is submitted to regulators."""
    report, _ = service.cosign(session, settings, who, report_id, password=data.password,
                               comment=data.comment, meaning=data.meaning)
    return public(session, report)


@router.post("/submissions/{report_id}/corrections", response_model=ReportPublic,
             status_code=201)
def correct(report_id: str, data: CorrectionCreate, who: CurrentPrincipal, session: SessionDep,
            settings: SettingsDep) -> ReportPublic:
    """Start a correction: a new draft version referencing this one, with the reason."""
    return public(session, service.correct(session, settings, who, report_id,
                                           reason=data.reason, refresh=data.refresh))


@router.delete("/submissions/{report_id}", status_code=204)
def discard(report_id: str, reason: Annotated[str, Query(min_length=3, max_length=2000)],
            who: CurrentPrincipal, session: SessionDep) -> Response:
    """Discard a draft (audited with the reason); signed versions cannot be deleted (409)."""
    service.discard(session, who, report_id, reason)
    return Response(status_code=204)


@router.get("/overdue", response_model=list[OverduePublic])
def overdue(who: CurrentPrincipal, session: SessionDep) -> list[OverduePublic]:
    """Periods past their due date without a QA-approved report, most overdue first."""
    return schedules.overdue(session, who)


@router.get("/schedules/{site_id}", response_model=SchedulePublic)
def get_schedule(site_id: str, who: CurrentPrincipal, session: SessionDep) -> SchedulePublic:
    """A site's reporting schedule (quarterly with 30 days' grace unless configured)."""
    site = service.get_site(session, who, site_id)
    return schedules.public(site, schedules.schedule_of(session, site.id))


@router.put("/schedules/{site_id}", response_model=SchedulePublic)
def put_schedule(site_id: str, data: ScheduleUpdate, who: CurrentPrincipal,
                 session: SessionDep) -> SchedulePublic:
    """Set a site's reporting frequency, cycle start month and grace days (audited)."""
    site = service.get_site(session, who, site_id)
    return schedules.public(site, schedules.set_schedule(session, who, site, data))


@router.get("/access-log", response_model=list[AccessPublic])
def access_log(
    who: CurrentPrincipal, session: SessionDep,
    since: Annotated[str | None, Query(description="YYYY-MM-DD or ISO date-time")] = None,
    submission_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Sequence[Any]:
    """Who outside your organization listed, read or downloaded its submissions, and when."""
    try:
        when = access.parse_since(since)
    except ValueError as exc:
        raise ValidationFailed(f"since: {exc}", errors=[{"pointer": "/since",
                                                         "message": str(exc)}]) from exc
    return access.access_log(session, who, since=when, submission_id=submission_id, limit=limit)


def mount(app: FastAPI, authenticated: Sequence[Any]) -> None:
    """Mount the compliance API (authenticated) and its pages."""
    from hub.compliance.pages import router as pages

    app.include_router(router, dependencies=list(authenticated))
    app.include_router(pages)
