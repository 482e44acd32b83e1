"""Training notifications: assignments, issued certificates, expiry ahead and expired.

Each notice is created once (unique per subject, audience and kind), so ``fedhub training
remind`` can run as often as a scheduler likes. Trainee notices go to the trainee; organization
notices go to the organization's training admins.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from hub.db import utcnow
from hub.errors import NotFound
from hub.identity.models import User
from hub.identity.principal import Principal
from training_portal import access
from training_portal.models import Certificate, Course, CourseVersion, Enrollment, Notification


def _add(session: Session, **fields: Any) -> bool:
    row = Notification(**fields)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # already told
        return False
    return True


def assigned(session: Session, e: Enrollment, course: Course, version: CourseVersion,
             by: Principal) -> None:
    """Tell a trainee a course was assigned to them."""
    due = f" by {e.due_at:%Y-%m-%d}" if e.due_at else ""
    _add(session, audience="trainee", user_id=e.user_id, organization_id=e.organization_id,
         kind="assigned", subject_id=e.id, title=f"Course assigned: {version.title}",
         message=f"{by.name} assigned you the course \"{version.title}\" (qualification "
                 f"{course.qualification_name}){due}.", due_at=e.due_at)


def issued(session: Session, cert: Certificate) -> None:
    """Tell the trainee their certificate was issued."""
    _add(session, audience="trainee", user_id=cert.user_id, organization_id=cert.organization_id,
         kind="issued", subject_id=cert.id, title=f"Certificate issued: {cert.qualification_name}",
         message=f"You are qualified for {cert.qualification_name} until "
                 f"{cert.valid_until:%Y-%m-%d}.", due_at=cert.valid_until)


def generate_reminders(session: Session, lead_days: int, now: datetime | None = None) -> int:
    """Notices for certificates expiring within ``lead_days`` or expired; returns how many."""
    now = now or utcnow()
    horizon = now + timedelta(days=lead_days)
    certs = session.exec(select(Certificate).where(
        col(Certificate.revoked_at).is_(None), col(Certificate.superseded_by).is_(None),
        Certificate.valid_until <= horizon)).all()
    if not certs:
        return 0
    told = {(n.subject_id, n.audience, n.kind) for n in session.exec(
        select(Notification).where(col(Notification.subject_id).in_([c.id for c in certs])))}
    names = {u.id: u.full_name for u in session.exec(
        select(User).where(col(User.id).in_({c.user_id for c in certs})))}
    created = 0
    for cert in certs:
        expired = cert.valid_until <= now
        kind = "expired" if expired else "expiry_upcoming"
        when = f"{cert.valid_until:%Y-%m-%d}"
        holder = names.get(cert.user_id, cert.user_id)
        for audience, title, message in (
            ("trainee",
             f"{'Expired' if expired else 'Expiring'}: {cert.qualification_name}",
             f"Your {cert.qualification_name} certificate "
             f"{'expired on' if expired else 'expires on'} {when}. Take the refresher course "
             "to be re-certified."),
            ("organization",
             f"{holder}: {cert.qualification_name} {'expired' if expired else 'expiring'}",
             f"{holder}'s {cert.qualification_name} certificate "
             f"{'expired on' if expired else 'expires on'} {when}."),
        ):
            if (cert.id, audience, kind) in told:
                continue
            created += _add(session, audience=audience, user_id=cert.user_id,
                            organization_id=cert.organization_id, kind=kind, subject_id=cert.id,
                            title=title[:200], message=message[:2000], due_at=cert.valid_until)
    return created


def list_for(session: Session, who: Principal, unread_only: bool = False) -> list[Notification]:
    """Your notices and, for training admins, your organization's."""
    mine = (col(Notification.audience) == "trainee") & (col(Notification.user_id) == who.id)
    stmt = select(Notification).where(mine)
    if access.is_training_admin(who, who.org_id):
        stmt = select(Notification).where(or_(
            mine, (col(Notification.audience) == "organization")
            & (col(Notification.organization_id) == who.org_id)))
    if unread_only:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    return list(session.exec(stmt.order_by(col(Notification.created_at).desc()).limit(500)))


def mark_read(session: Session, who: Principal, notification_id: str) -> Notification:
    row = session.get(Notification, notification_id)
    allowed = row is not None and (
        (row.audience == "trainee" and row.user_id == who.id)
        or (row.audience == "organization" and access.is_training_admin(who, row.organization_id)))
    if row is None or not allowed:
        raise NotFound(f"Notification {notification_id} not found")
    if row.read_at is None:
        row.read_at = utcnow()
        session.add(row)
        session.flush()
    return row
