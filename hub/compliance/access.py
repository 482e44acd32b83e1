"""Who sees which submissions, and the log of every access from outside the organization.

* site admins and QA see their organization's reports (every version and status);
* regulators see **submitted** reports (approved, or superseded by an approved correction) of
  organizations whose jurisdiction equals their own organization's, read-only;
* hub admins see every report.

Every list, read and download by someone outside the submitting organization (regulators,
hub admins) is recorded in ``compliance_access`` (append-only, audited) and shown to that
organization (``GET /compliance/access-log``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.compliance.models import AccessAction, ComplianceAccess, ComplianceReport, ReportStatus
from hub.compliance.periods import Period
from hub.errors import NotFound, PermissionDenied
from hub.identity.models import Organization
from hub.identity.principal import Principal

REGULATOR_VISIBLE = (ReportStatus.approved.value, ReportStatus.superseded.value)
MEMBER_ROLES = ("site_admin", "qa")
READER_ROLES = ("site_admin", "qa", "regulator", "hub_admin")


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    site_id: str | None = None
    period: Period | None = None
    status: str | None = None
    organization_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat() if self.since else None,
                "site_id": self.site_id, "period": self.period.label if self.period else None,
                "status": self.status, "organization_id": self.organization_id}


def jurisdiction_of(session: Session, who: Principal) -> str | None:
    org = session.get(Organization, who.org_id)
    return org.jurisdiction if org else None


def is_member(who: Principal, report: ComplianceReport) -> bool:
    return who.org_id == report.organization_id and who.has(*MEMBER_ROLES)


def can_read(session: Session, who: Principal, report: ComplianceReport) -> bool:
    if who.is_hub_admin or is_member(who, report):
        return True
    if who.has("regulator") and report.status in REGULATOR_VISIBLE:
        org = session.get(Organization, report.organization_id)
        return org is not None and org.jurisdiction == jurisdiction_of(session, who)
    return False


def get_visible(session: Session, who: Principal, report_id: str) -> ComplianceReport:
    """A report the caller may read (404 otherwise, so others' reports are not revealed)."""
    if not who.has(*READER_ROLES):
        raise PermissionDenied(f"Requires one of the roles: {', '.join(READER_ROLES)}")
    report = session.get(ComplianceReport, report_id)
    if report is None or not can_read(session, who, report):
        raise NotFound(f"Compliance report {report_id} not found")
    return report


def list_visible(session: Session, who: Principal, f: Filters,
                 limit: int = 500) -> Sequence[ComplianceReport]:
    """Reports the caller may see, newest activity first, filtered."""
    if not who.has(*READER_ROLES):
        raise PermissionDenied(f"Requires one of the roles: {', '.join(READER_ROLES)}")
    stmt = select(ComplianceReport)
    if not who.is_hub_admin:
        if who.has(*MEMBER_ROLES) and not who.has("regulator"):
            stmt = stmt.where(ComplianceReport.organization_id == who.org_id)
        else:
            jurisdiction = jurisdiction_of(session, who) or ""
            stmt = stmt.join(Organization, col(Organization.id)
                             == col(ComplianceReport.organization_id)).where(
                Organization.jurisdiction == jurisdiction,
                col(ComplianceReport.status).in_(REGULATOR_VISIBLE))
    activity = sa.func.coalesce(col(ComplianceReport.approved_at),
                                col(ComplianceReport.signed_at),
                                col(ComplianceReport.created_at))
    if f.since is not None:
        stmt = stmt.where(activity >= f.since)
    if f.site_id:
        stmt = stmt.where(ComplianceReport.site_id == f.site_id)
    if f.organization_id:
        stmt = stmt.where(ComplianceReport.organization_id == f.organization_id)
    if f.period is not None:
        stmt = stmt.where(ComplianceReport.period_start == f.period.start,
                          ComplianceReport.period_end == f.period.end)
    if f.status:
        stmt = stmt.where(ComplianceReport.status == f.status)
    stmt = stmt.order_by(activity.desc(), col(ComplianceReport.version).desc()).limit(limit)
    return session.exec(stmt).all()


def record_access(session: Session, who: Principal, action: AccessAction,
                  reports: Iterable[ComplianceReport], *, channel: str = "api",
                  detail: dict[str, Any] | None = None) -> list[ComplianceAccess]:
    """Log an access by someone outside the submitting organization(s), one row per
    organization whose submissions were touched (each row is audited on creation)."""
    by_org: dict[str, list[str]] = {}
    for r in reports:
        if r.organization_id != who.org_id:
            by_org.setdefault(r.organization_id, []).append(r.id)
    rows = []
    for org_id, ids in by_org.items():
        row = ComplianceAccess(organization_id=org_id, actor_id=who.actor().id,
                               actor_name=who.name, actor_org_id=who.org_id,
                               actor_roles=sorted(who.roles), action=action.value,
                               submission_ids=ids, channel=channel, detail=detail or {})
        session.add(row)
        rows.append(row)
    if not rows and who.has("regulator") and action == AccessAction.list:
        # an empty result is still an access: keep it in the audit trail
        audit.append(session, entity_type="compliance_access", entity_id="list",
                     action="list", new={"results": 0, **(detail or {})})
    session.flush()
    return rows


def access_log(session: Session, who: Principal, *, since: datetime | None = None,
               submission_id: str | None = None, limit: int = 200) -> Sequence[ComplianceAccess]:
    """Accesses to your organization's submissions (hub admins: all; regulators: their own)."""
    if not who.has(*READER_ROLES):
        raise PermissionDenied(f"Requires one of the roles: {', '.join(READER_ROLES)}")
    stmt = select(ComplianceAccess)
    if not who.is_hub_admin:
        if who.has(*MEMBER_ROLES):
            stmt = stmt.where(ComplianceAccess.organization_id == who.org_id)
        else:
            stmt = stmt.where(ComplianceAccess.actor_id == who.actor().id)
    if since is not None:
        stmt = stmt.where(col(ComplianceAccess.ts) >= since)
    rows = session.exec(stmt.order_by(col(ComplianceAccess.ts).desc()).limit(limit)).all()
    if submission_id:
        rows = [r for r in rows if submission_id in r.submission_ids]
    return rows


def parse_since(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` or an ISO date-time (UTC when no offset)."""
    if not text:
        return None
    from datetime import UTC

    value = (datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text
             else datetime.combine(date.fromisoformat(text), datetime.min.time()))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
