"""Compliance reports: pre-filled drafts, section edits, signing, QA co-signing, corrections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.audit import signatures
from hub.audit.chain import canonical_json, sha256_hex
from hub.audit.models import ESignature
from hub.audit.signatures import Meaning
from hub.compliance import prefill, registry_section
from hub.compliance.models import ComplianceReport, ReportStatus
from hub.compliance.periods import Period
from hub.compliance.providers import SECTIONS, SectionContext
from hub.config import Settings
from hub.db import utcnow
from hub.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from hub.identity.principal import Principal
from hub.sites.models import Site, SiteStatus
from standards import registry

STANDARD = ("compliance-report", "1.0.0")
BUILTIN_PROVIDERS = (prefill, registry_section)  # importing them registers their sections
ENTITY = "compliance_report"
REPORTABLE_SITES = (SiteStatus.active, SiteStatus.suspended, SiteStatus.revoked)


def content_hash(report: ComplianceReport) -> str:
    """SHA-256 over what the site reviewed: report content, section states, evidence."""
    return sha256_hex(canonical_json({"content": report.content, "sections": report.sections,
                                      "evidence": report.evidence}))


def signable_content(session: Session, report_id: str) -> dict[str, Any] | None:
    """What both signatures cover; frozen columns only (status and approval are not)."""
    r = session.get(ComplianceReport, report_id)
    if r is None:
        return None
    return {"id": r.id, "organization_id": r.organization_id, "site_id": r.site_id,
            "period": {"start": r.period_start.isoformat(), "end": r.period_end.isoformat()},
            "version": r.version, "supersedes_id": r.supersedes_id,
            "correction_reason": r.correction_reason, "content_sha256": content_hash(r)}


# domain flows sign with fixed meanings; the generic POST /signatures may not sign these
signatures.register_signable(ENTITY, signable_content, roles=())


def _immutable(report: ComplianceReport) -> Conflict:
    return Conflict(f"Report version {report.version} is {report.status}: signed submissions "
                    "are immutable; create a correction (a new version with a reason)",
                    status_of_report=report.status)


def _site_admin_of(who: Principal, org_id: str) -> None:
    if not who.is_user or not who.has("site_admin") or who.org_id != org_id:
        raise PermissionDenied("Only a site admin of the site's organization may do this")


def get_site(session: Session, who: Principal, site_id: str) -> Site:
    site = session.get(Site, site_id)
    if site is None or (site.organization_id != who.org_id and not who.is_hub_admin):
        raise NotFound(f"Site {site_id} not found")
    return site


def get_own(session: Session, report_id: str, *, lock: bool = False) -> ComplianceReport:
    """A report by id, no visibility check (callers check); ``lock`` holds the row until the
    transaction ends (PostgreSQL), so concurrent signatures and edits queue up."""
    report = session.get(ComplianceReport, report_id, with_for_update=lock or None,
                         populate_existing=lock)
    if report is None:
        raise NotFound(f"Compliance report {report_id} not found")
    return report


def versions(session: Session, site_id: str, period: Period) -> Sequence[ComplianceReport]:
    return session.exec(select(ComplianceReport).where(
        ComplianceReport.site_id == site_id, ComplianceReport.period_start == period.start,
        ComplianceReport.period_end == period.end).order_by(col(ComplianceReport.version))).all()


def _prefilled(session: Session, settings: Settings, report: ComplianceReport) -> None:
    ctx = SectionContext(session, settings, report.organization_id, report.site_id,
                         report.period_start, report.period_end)
    items, states, evidence = prefill.run_providers(ctx)
    content: dict[str, Any] = {
        "report_id": report.id, "site_id": report.site_id,
        "organization_id": report.organization_id,
        "period": {"start": report.period_start.isoformat(),
                   "end": report.period_end.isoformat()},
        "generated_at": utcnow().isoformat(), **items,
    }
    score = prefill.integrity_score(items["alcoa_checks"])
    if score is not None:
        content["data_integrity_score"] = score
    report.content, report.sections, report.evidence = content, states, evidence


def create_draft(session: Session, settings: Settings, who: Principal, site_id: str,
                 period: Period) -> ComplianceReport:
    """A new draft for a site and period, pre-filled from the hub's records."""
    site = get_site(session, who, site_id)
    _site_admin_of(who, site.organization_id)
    if site.status not in REPORTABLE_SITES:
        raise Conflict(f"Site {site.name} is {site.status}; only enrolled sites report")
    if period.start > date.today():
        raise ValidationFailed("The period lies in the future",
                               errors=[{"pointer": "/period", "message": "in the future"}])
    existing = versions(session, site_id, period)
    if existing:
        last = existing[-1]
        raise Conflict(f"A report for {period.label} already exists (version {last.version}, "
                       f"{last.status}); open it, or correct it if it is signed",
                       report_id=last.id)
    report = ComplianceReport(organization_id=site.organization_id, site_id=site.id,
                              period_start=period.start, period_end=period.end,
                              created_by=who.id)
    _prefilled(session, settings, report)
    session.add(report)
    _flush_new_version(session, f"A report for {period.label} was just started")
    return report


def _validate_content(content: dict[str, Any], root: str = "/content") -> None:
    standard = registry.get(*STANDARD)
    result = standard.validate(content)
    if not result.ok:
        raise ValidationFailed(f"The report does not conform to {standard.id}",
                               errors=[{**v.as_dict(), "pointer": root + v.pointer}
                                       for v in result.errors[:200]])


def update_section(session: Session, who: Principal, report_id: str, name: str, *,
                   items: list[dict[str, Any]] | None = None, reviewed: bool | None = None,
                   note: str | None = None, reason: str) -> ComplianceReport:
    """Replace a section's items and/or its review state (drafts only)."""
    report = get_own(session, report_id, lock=True)
    _site_admin_of(who, report.organization_id)
    if report.status != ReportStatus.draft:
        raise _immutable(report)
    if name not in SECTIONS:
        raise NotFound(f"No section {name!r}; sections are {', '.join(SECTIONS)}")
    content = dict(report.content)
    states = {k: dict(v) for k, v in report.sections.items()}
    state = states.setdefault(name, {"prefilled": False, "source": None})
    if items is not None:
        content[name] = items
        trial = dict(content)
        standard = registry.get(*STANDARD)
        result = standard.validate(trial)
        bad = [v for v in result.errors if v.pointer.startswith(f"/{name}")]
        if bad:
            raise ValidationFailed(f"Section {name} does not conform to {standard.id}",
                                   errors=[{**v.as_dict(),
                                            "pointer": "/items" + v.pointer[len(name) + 1:]}
                                           for v in bad[:200]])
        state["edited_at"], state["edited_by"] = utcnow().isoformat(), who.name
        state["reviewed"] = False if reviewed is None else reviewed
        if name == "alcoa_checks":
            score = prefill.integrity_score(items)
            content.pop("data_integrity_score", None)
            if score is not None:
                content["data_integrity_score"] = score
    if reviewed is not None:
        state["reviewed"] = reviewed
    if note is not None:
        state["site_note"] = note or None
    with audit.reason(session, reason):
        report.content, report.sections = content, states
        report.updated_at = utcnow()
        session.add(report)
    return report


def unreviewed(report: ComplianceReport) -> list[str]:
    return [n for n in SECTIONS if not (report.sections.get(n) or {}).get("reviewed")]


def _meaning(given: str | None, expected: Meaning) -> None:
    if given is not None and given != expected.value:
        raise ValidationFailed(f"This step is signed with the meaning '{expected.value}'",
                               errors=[{"pointer": "/meaning",
                                        "message": f"must be {expected.value}"}])


def sign(session: Session, settings: Settings, who: Principal, report_id: str, *,
         password: str, comment: str | None = None,
         meaning: str | None = None) -> tuple[ComplianceReport, ESignature]:
    """The site admin signs the completed, reviewed draft as responsible; it is then frozen."""
    report = get_own(session, report_id, lock=True)
    _site_admin_of(who, report.organization_id)
    _meaning(meaning, Meaning.responsible)
    if report.status != ReportStatus.draft:
        raise _immutable(report)
    missing = unreviewed(report)
    if missing:
        raise ValidationFailed("Review every section before signing: " + ", ".join(missing),
                               errors=[{"pointer": f"/sections/{n}/reviewed",
                                        "message": "not reviewed"} for n in missing])
    _validate_content(report.content)
    sig = signatures.sign(session, settings, signer_id=who.id, password=password,
                          meaning=Meaning.responsible, entity_type=ENTITY, entity_id=report.id,
                          comment=comment)
    with audit.reason(session, "signed by the site admin (responsible)"):
        report.content_hash = content_hash(report)
        report.signed_at, report.signed_by = sig.signed_at, who.id
        report.status = ReportStatus.signed.value
        report.updated_at = utcnow()
        session.add(report)
    return report, sig


def cosign(session: Session, settings: Settings, who: Principal, report_id: str, *,
           password: str, comment: str | None = None,
           meaning: str | None = None) -> tuple[ComplianceReport, ESignature]:
    """QA co-signs a signed report as approved: it is submitted (regulators can pull it)."""
    report = get_own(session, report_id, lock=True)
    if not who.is_user or not who.has("qa") or who.org_id != report.organization_id:
        raise PermissionDenied("Only QA of the site's organization may co-sign")
    _meaning(meaning, Meaning.approved)
    if report.status != ReportStatus.signed:
        if report.status == ReportStatus.draft:
            raise Conflict("The site admin has not signed this report yet")
        raise _immutable(report)
    if report.signed_by == who.id:
        raise PermissionDenied("The co-signature must come from someone other than the "
                               "responsible signer")
    sig = signatures.sign(session, settings, signer_id=who.id, password=password,
                          meaning=Meaning.approved, entity_type=ENTITY, entity_id=report.id,
                          comment=comment)
    with audit.reason(session, "co-signed by QA (approved)"):
        report.approved_at, report.approved_by = sig.signed_at, who.id
        report.status = ReportStatus.approved.value
        report.updated_at = utcnow()
        session.add(report)
        if report.supersedes_id:
            old = get_own(session, report.supersedes_id)
            old.status, old.superseded_by_id = ReportStatus.superseded.value, report.id
            old.updated_at = utcnow()
            session.add(old)
    return report, sig


def correct(session: Session, settings: Settings, who: Principal, report_id: str, *,
            reason: str, refresh: bool = False) -> ComplianceReport:
    """A new draft version that references a signed one, with the reason for the correction."""
    old = get_own(session, report_id, lock=True)
    _site_admin_of(who, old.organization_id)
    if old.status == ReportStatus.draft:
        raise Conflict("This version is still a draft: edit it instead of correcting it")
    period = Period(old.period_start, old.period_end)
    latest = versions(session, old.site_id, period)[-1]
    if latest.id != old.id:
        raise Conflict(f"Version {latest.version} ({latest.status}) is newer; correct that one",
                       report_id=latest.id)
    new = ComplianceReport(organization_id=old.organization_id, site_id=old.site_id,
                           period_start=old.period_start, period_end=old.period_end,
                           version=old.version + 1, supersedes_id=old.id,
                           correction_reason=reason, created_by=who.id)
    if refresh:
        _prefilled(session, settings, new)
    else:
        new.content = {**old.content, "report_id": new.id}
        new.sections = {k: {**v, "reviewed": False} for k, v in old.sections.items()}
        new.evidence = dict(old.evidence)
    session.add(new)
    _flush_new_version(session, "Another correction of this report was just started")
    return new


def _flush_new_version(session: Session, message: str) -> None:
    """Insert a version; a concurrent one for the same site, period and number is a 409."""
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:
        if "uq_compliance_report_version" not in str(exc.orig) and \
                "compliance_report.site_id" not in str(exc.orig):
            raise
        raise Conflict(message + "; reload and continue from it") from exc


def discard(session: Session, who: Principal, report_id: str, reason: str) -> None:
    """Delete a draft (audited with the reason); signed versions cannot be deleted."""
    report = get_own(session, report_id)
    _site_admin_of(who, report.organization_id)
    if report.status != ReportStatus.draft:
        raise _immutable(report)
    with audit.reason(session, reason):
        session.delete(report)
