"""Compliance pages: site admins draft, review and sign; QA co-signs; regulators list,
read and download bundles and see the audit-chain status of each submission's period."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from hub.compliance import access, schedules, service
from hub.compliance.access import Filters
from hub.compliance.bundle import build_bundle
from hub.compliance.excerpt import build_excerpt, verify_excerpt
from hub.compliance.models import AccessAction, ComplianceReport, ReportStatus
from hub.compliance.pdf import COLUMNS, cell_text
from hub.compliance.periods import Period, parse_period
from hub.compliance.prefill import as_utc
from hub.compliance.providers import SECTION_TITLES, SECTIONS
from hub.db import utcnow
from hub.deps import SettingsDep
from hub.errors import AccountLocked, SignatureRejected, ValidationFailed
from hub.identity.models import Organization
from hub.sites.models import Site
from hub.web import (
    FORM_ERRORS,
    Area,
    ESignForm,
    PageSession,
    WebUser,
    add_template_dir,
    fail,
    form_errors,
    fragment,
    page_router,
    redirect,
    register_area,
    render,
    require_page_role,
    signature_rows,
)
from hub.web.audit_pages import recent_status, verify_now
from hub.web.auth import REFRESH_HEADER

router = page_router("/web/compliance")
add_template_dir(Path(__file__).parent / "templates")
register_area(Area("Compliance", "/web/compliance",
                   "Periodic compliance reports: pre-filled drafts, signatures, submissions to "
                   "regulators and verifiable evidence bundles.",
                   roles=access.READER_ROLES, order=70))
Reader = Annotated[WebUser, Depends(require_page_role(*access.READER_ROLES))]
SiteAdmin = Annotated[WebUser, Depends(require_page_role("site_admin"))]
SIGN_ERRORS = (SignatureRejected, AccountLocked, ValidationFailed)


def _names(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    orgs = {o.id: o.name for o in session.exec(select(Organization))}
    sites = {s.id: s.name for s in session.exec(select(Site))}
    return orgs, sites


def _label(r: ComplianceReport) -> str:
    return Period(r.period_start, r.period_end).label


def _list_page(request: Request, session: Session, who: WebUser, f: Filters,
               form: dict[str, str], errors: dict[str, str] | None = None,
               status_code: int = 200) -> HTMLResponse:
    rows = access.list_visible(session, who.principal, f, limit=200)
    access.record_access(session, who.principal, AccessAction.list, rows, channel="web",
                         detail=f.as_dict())
    orgs, site_names = _names(session)
    own_sites = session.exec(select(Site).where(Site.organization_id == who.org_id)
                             .order_by(col(Site.name))).all()
    today = utcnow().date()
    defaults = {s.id: schedules.schedule_of(session, s.id).last_ended(today).label
                for s in own_sites}
    return render(request, "compliance/list.html", {
        "rows": rows, "orgs": orgs, "site_names": site_names, "label": _label,
        "overdue": schedules.overdue(session, who.principal),
        "own_sites": own_sites, "defaults": defaults, "form": form, "errors": errors or {},
        "site_options": [(s.id, s.name) for s in own_sites],
        "filter_sites": [(s.id, f"{s.name} ({orgs.get(s.organization_id, '')})")
                         for s in schedules.visible_sites(session, who.principal)],
        "status_options": [(s.value, s.value.capitalize()) for s in ReportStatus],
        "regulator_view": who.has("regulator") or who.is_hub_admin,
        "can_draft": who.has("site_admin"),
    }, status_code)


@router.get("")
def submissions(request: Request, who: Reader, session: PageSession,
                site_id: Annotated[str, Query(max_length=36)] = "",
                period: Annotated[str, Query(max_length=30)] = "",
                status: Annotated[str, Query(max_length=12)] = "",
                since: Annotated[str, Query(max_length=30)] = "") -> HTMLResponse:
    """Reports you may see, with filters; drafts start here; overdue periods below."""
    form = {"site_id": site_id, "period": period, "status": status, "since": since}
    errors: dict[str, str] = {}
    parsed: Period | None = None
    when = None
    try:
        parsed = parse_period(period) if period else None
    except ValueError as exc:
        errors["period"] = str(exc)
    try:
        when = access.parse_since(since)
    except ValueError:
        errors["since"] = "use YYYY-MM-DD"
    if status and status not in {s.value for s in ReportStatus}:
        errors["status"] = "unknown status"
        status = ""
    f = Filters(when, site_id or None, parsed, status or None)
    return _list_page(request, session, who, f, form, errors, 422 if errors else 200)


@router.post("")
def start(request: Request, who: SiteAdmin, session: PageSession, settings: SettingsDep,
          new_site_id: Annotated[str, Form(max_length=36)] = "",
          new_period: Annotated[str, Form(max_length=30)] = "") -> Response:
    """Start a pre-filled draft for one of your sites."""
    site_id, period = new_site_id, new_period
    form = {"new_site_id": site_id, "new_period": period}
    try:
        if not site_id:
            raise ValidationFailed("Choose a site", errors=[{"pointer": "/new_site_id",
                                                              "message": "choose a site"}])
        site = service.get_site(session, who.principal, site_id)
        try:
            chosen = (parse_period(period) if period.strip() else
                      schedules.schedule_of(session, site.id).last_ended(utcnow().date()))
        except ValueError as exc:
            raise ValidationFailed(str(exc), errors=[{"pointer": "/new_period",
                                                      "message": str(exc)}]) from exc
        report = service.create_draft(session, settings, who.principal, site.id, chosen)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _list_page(request, session, who, Filters(), form, form_errors(exc),
                          getattr(exc, "status", 422))
    return redirect(request, f"/web/compliance/{report.id}",
                    flash=f"Draft for {site.name}, {chosen.label} pre-filled from the hub's "
                          "records. Complete and review each section, then sign.")


def _detail(request: Request, session: Session, who: WebUser, report_id: str, *,
            errors: dict[str, str] | None = None, section: str | None = None,
            section_errors: list[str] | None = None,
            sign_error: str | None = None, dialog: str | None = None,
            drafts: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    report = access.get_visible(session, who.principal, report_id)
    orgs, site_names = _names(session)
    member = access.is_member(who.principal, report)
    chain = recent_status(request)
    content = service.signable_content(session, report.id) or {}
    latest = service.versions(session, report.site_id,
                              Period(report.period_start, report.period_end))[-1]
    sections = [{"name": n, "title": SECTION_TITLES[n], "rows": report.content.get(n) or [],
                 "state": report.sections.get(n) or {}, "columns": COLUMNS[n],
                 "json": (drafts or {}).get(n) or json.dumps(report.content.get(n) or [],
                                                             indent=2, ensure_ascii=False)}
                for n in SECTIONS]
    return render(request, "compliance/detail.html", {
        "r": report, "org_name": orgs.get(report.organization_id, report.organization_id),
        "site_name": site_names.get(report.site_id, report.site_id), "label": _label(report),
        "sections": sections, "cell": cell_text, "member": member,
        "signatures": signature_rows(session, service.ENTITY, report.id),
        "record": {"Report": f"{site_names.get(report.site_id)} {_label(report)} "
                             f"v{report.version}",
                   "Organization": orgs.get(report.organization_id, ""),
                   "Content SHA-256": content.get("content_sha256", ""),
                   "Record id": report.id},
        "can_edit": member and who.has("site_admin") and report.status == ReportStatus.draft,
        "can_sign": member and who.has("site_admin") and report.status == ReportStatus.draft,
        "can_cosign": member and who.has("qa") and report.status == ReportStatus.signed,
        "can_correct": member and who.has("site_admin") and latest.id == report.id
        and report.status in (ReportStatus.signed, ReportStatus.approved),
        "unreviewed": service.unreviewed(report), "chain": chain,
        "errors": errors or {}, "error_section": section, "sign_error": sign_error,
        "section_errors": section_errors or [],
        "dialog": dialog,
    }, status_code)


@router.get("/access-log")
def access_log_page(request: Request, who: Reader, session: PageSession) -> HTMLResponse:
    """Who outside your organization listed, read or downloaded its submissions."""
    rows = access.access_log(session, who.principal, limit=500)
    orgs, _ = _names(session)
    return render(request, "compliance/access_log.html", {"rows": rows, "orgs": orgs})


@router.get("/{report_id}")
def detail(request: Request, report_id: str, who: Reader, session: PageSession) -> HTMLResponse:
    """One report: sections, signatures, actions for your role, audit-chain status."""
    report = access.get_visible(session, who.principal, report_id)
    access.record_access(session, who.principal, AccessAction.read, [report], channel="web")
    return _detail(request, session, who, report_id)


@router.post("/{report_id}/sections/{name}")
def edit_section(request: Request, report_id: str, name: str, who: SiteAdmin,
                 session: PageSession,
                 items: Annotated[str, Form(max_length=2_000_000)] = "",
                 reviewed: Annotated[str, Form(max_length=5)] = "",
                 note: Annotated[str, Form(max_length=2000)] = "",
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Save a section (items as JSON) and its review state."""
    try:
        parsed: list[dict[str, Any]] | None = None
        if items.strip():
            try:
                value = json.loads(items)
            except ValueError as exc:
                raise ValidationFailed("The items are not valid JSON", errors=[{
                    "pointer": "/items", "message": f"not JSON: {exc}"}]) from exc
            if not isinstance(value, list):
                raise ValidationFailed("The items must be a JSON list", errors=[{
                    "pointer": "/items", "message": "expected a list"}])
            parsed = value
        service.update_section(session, who.principal, report_id, name, items=parsed,
                               reviewed=bool(reviewed), note=note.strip(),
                               reason=reason.strip() or f"section {name} updated on the page")
    except FORM_ERRORS as exc:
        fail(session, exc)
        found = [f"{e.get('pointer')}: {e.get('message')}" for e in
                 (getattr(exc, "errors", None) or []) if isinstance(e, dict)]
        return _detail(request, session, who, report_id, section=name,
                       section_errors=found or [str(exc)], drafts={name: items},
                       status_code=getattr(exc, "status", 422))
    title = SECTION_TITLES.get(name, name)
    return redirect(request, f"/web/compliance/{report_id}#section-{name}",
                    flash=f"{title} saved{' and marked reviewed' if reviewed else ''}.")


@router.post("/{report_id}/sign")
def sign(request: Request, report_id: str, who: SiteAdmin, session: PageSession,
         settings: SettingsDep, form: ESignForm) -> Response:
    """Sign the reviewed draft as responsible (electronic signature)."""
    try:
        service.sign(session, settings, who.principal, report_id, password=form.password,
                     comment=form.comment, meaning=form.meaning)
    except SIGN_ERRORS as exc:
        fail(session, exc)
        return _detail(request, session, who, report_id, sign_error=exc.detail, dialog="sign",
                       status_code=exc.status)
    return redirect(request, f"/web/compliance/{report_id}",
                    flash="Signed as responsible. The report is frozen and awaits QA.")


@router.post("/{report_id}/cosign")
def cosign(request: Request, report_id: str, who: Reader, session: PageSession,
           settings: SettingsDep, form: ESignForm) -> Response:
    """QA co-signs the signed report as approved: it is submitted to regulators."""
    try:
        service.cosign(session, settings, who.principal, report_id, password=form.password,
                       comment=form.comment, meaning=form.meaning)
    except SIGN_ERRORS as exc:
        fail(session, exc)
        return _detail(request, session, who, report_id, sign_error=exc.detail,
                       dialog="cosign", status_code=exc.status)
    return redirect(request, f"/web/compliance/{report_id}",
                    flash="Co-signed as approved: the report is submitted.")


@router.post("/{report_id}/corrections")
def correct(request: Request, report_id: str, who: SiteAdmin, session: PageSession,
            settings: SettingsDep,
            reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Start a correction: a new draft version with the reason."""
    try:
        if len(reason.strip()) < 5:
            raise ValidationFailed("Give the reason for the correction", errors=[{
                "pointer": "/reason", "message": "at least 5 characters"}])
        new = service.correct(session, settings, who.principal, report_id,
                              reason=reason.strip())
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _detail(request, session, who, report_id, errors=form_errors(exc),
                       section="correction", status_code=getattr(exc, "status", 422))
    return redirect(request, f"/web/compliance/{new.id}",
                    flash=f"Correction started as version {new.version}.")


@router.get("/{report_id}/bundle")
def bundle(request: Request, report_id: str, who: Reader, session: PageSession,
           settings: SettingsDep) -> Response:
    """Download the signed evidence bundle (ZIP)."""
    report = access.get_visible(session, who.principal, report_id)
    built = build_bundle(session, settings, report)
    access.record_access(session, who.principal, AccessAction.download, [report],
                         channel="web", detail={"file": built.filename})
    return Response(built.data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{built.filename}"',
        "Cache-Control": "no-store"})


@router.get("/{report_id}/chain")
def chain(request: Request, report_id: str, who: Reader, session: PageSession) -> HTMLResponse:
    """Verify the audit trail now: the report period's excerpt and the whole chain."""
    report = access.get_visible(session, who.principal, report_id)
    excerpt = build_excerpt(session, report.organization_id, as_utc(report.period_start),
                            as_utc(report.period_end))
    ctx = {"r": report, "label": _label(report), "excerpt": excerpt,
           "excerpt_problems": verify_excerpt(excerpt), "status": verify_now(request, session)}
    if request.headers.get(REFRESH_HEADER):
        return fragment(request, "compliance/_chain.html", ctx, final=True)
    return render(request, "compliance/chain.html", ctx)
