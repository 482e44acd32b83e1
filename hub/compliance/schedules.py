"""Reporting schedules per site (default quarterly) and overdue reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.compliance.models import ComplianceReport, ComplianceSchedule, ReportStatus
from hub.compliance.periods import Frequency, Period, last_ended, period_containing, periods_between
from hub.compliance.schemas import OverduePublic, SchedulePublic, ScheduleUpdate
from hub.db import utcnow
from hub.errors import PermissionDenied
from hub.identity.models import Organization
from hub.identity.principal import Principal
from hub.sites.models import Site, SiteStatus

SUBMITTED = (ReportStatus.approved.value, ReportStatus.superseded.value)


@dataclass(frozen=True)
class Schedule:
    frequency: Frequency
    anchor_month: int
    grace_days: int
    configured: bool

    def current(self, today: date) -> Period:
        return period_containing(today, self.frequency, self.anchor_month)

    def last_ended(self, today: date) -> Period:
        return last_ended(today, self.frequency, self.anchor_month)

    def due_on(self, period: Period) -> date:
        return period.end + timedelta(days=self.grace_days)


DEFAULT = Schedule(Frequency.quarterly, anchor_month=1, grace_days=30, configured=False)


def schedule_of(session: Session, site_id: str) -> Schedule:
    row = session.exec(select(ComplianceSchedule).where(
        ComplianceSchedule.site_id == site_id)).first()
    if row is None:
        return DEFAULT
    return Schedule(Frequency(row.frequency), row.anchor_month, row.grace_days, True)


def public(site: Site, sched: Schedule, today: date | None = None) -> SchedulePublic:
    today = today or utcnow().date()
    ended = sched.last_ended(today)
    return SchedulePublic(site_id=site.id, organization_id=site.organization_id,
                          frequency=sched.frequency, anchor_month=sched.anchor_month,
                          grace_days=sched.grace_days, configured=sched.configured,
                          current_period=sched.current(today).label,
                          last_ended_period=ended.label, last_ended_due_on=sched.due_on(ended))


def set_schedule(session: Session, who: Principal, site: Site,
                 data: ScheduleUpdate) -> Schedule:
    """Configure a site's reporting period (site admin or QA of its organization)."""
    if not who.is_user or not who.has("site_admin", "qa") or who.org_id != site.organization_id:
        raise PermissionDenied("Only a site admin or QA of the site's organization may set "
                               "its reporting schedule")
    row = session.exec(select(ComplianceSchedule).where(
        ComplianceSchedule.site_id == site.id)).first()
    if row is None:
        row = ComplianceSchedule(site_id=site.id, organization_id=site.organization_id,
                                 frequency=data.frequency.value, anchor_month=data.anchor_month,
                                 grace_days=data.grace_days)
        session.add(row)
        session.flush()
    else:
        with audit.reason(session, data.reason):
            row.frequency, row.anchor_month = data.frequency.value, data.anchor_month
            row.grace_days, row.updated_at = data.grace_days, utcnow()
            session.add(row)
    return schedule_of(session, site.id)


def visible_sites(session: Session, who: Principal) -> list[Site]:
    """Enrolled sites of your organization (your jurisdiction's for regulators; all for hub
    admins)."""
    stmt = select(Site).where(col(Site.status).in_((SiteStatus.active, SiteStatus.suspended)))
    if who.has("regulator") and not who.is_hub_admin:
        regulator = session.get(Organization, who.org_id)
        jurisdiction = regulator.jurisdiction if regulator else ""
        stmt = stmt.join(Organization, col(Organization.id) == col(Site.organization_id)).where(
            Organization.jurisdiction == jurisdiction)
    elif not who.is_hub_admin:
        stmt = stmt.where(Site.organization_id == who.org_id)
    return list(session.exec(stmt.order_by(col(Site.name))))


def overdue(session: Session, who: Principal, today: date | None = None) -> list[OverduePublic]:
    """Periods since each site's approval whose grace period has passed without an approved
    (QA co-signed) report — your organization's sites, or your jurisdiction's for regulators."""
    if not who.has("site_admin", "qa", "hub_admin", "regulator"):
        raise PermissionDenied("Requires one of the roles: site_admin, qa, hub_admin, regulator")
    today = today or utcnow().date()
    out: list[OverduePublic] = []
    for site in visible_sites(session, who):
        sched = schedule_of(session, site.id)
        since = (site.decided_at or site.created_at).date()
        reports = session.exec(select(ComplianceReport).where(
            ComplianceReport.site_id == site.id)).all()
        by_period: dict[tuple[date, date], list[ComplianceReport]] = {}
        for r in reports:
            by_period.setdefault((r.period_start, r.period_end), []).append(r)
        for p in periods_between(since, today, sched.frequency, sched.anchor_month):
            due = sched.due_on(p)
            found = sorted(by_period.get((p.start, p.end), []), key=lambda r: r.version)
            if due >= today or any(r.status in SUBMITTED for r in found):
                continue
            latest = found[-1] if found else None
            out.append(OverduePublic(
                site_id=site.id, site_name=site.name, organization_id=site.organization_id,
                period_start=p.start, period_end=p.end, period_label=p.label, due_on=due,
                days_overdue=(today - due).days, latest_report_id=latest.id if latest else None,
                latest_status=latest.status if latest else None))
    return sorted(out, key=lambda o: (-o.days_overdue, o.site_name))
