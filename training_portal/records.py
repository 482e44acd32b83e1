"""Training records for compliance: ``training-record/1.0.0`` instances and coverage per role.

``training_coverage`` is the pure service the compliance domain calls (no FastAPI, no
settings lookup unless no requirements are passed). Records are personal data: callers show
them to the trainee's organization's admins and, in submissions, to regulators only.

A person belongs to a site when their enrollment or certificate names that site; the site
view counts the people recorded there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from hub.db import utcnow
from hub.identity.models import User
from standards import registry
from training_portal.certificates import status_of
from training_portal.models import (
    Attempt,
    Certificate,
    Course,
    CourseVersion,
    Enrollment,
    EnrollmentStatus,
)

STANDARD = ("training-record", "1.0.0")


@dataclass(frozen=True)
class RoleCoverageRow:
    """People in ``role`` who need ``qualification``, and how many hold it validly."""

    role: str
    qualification: str
    required: int
    qualified: int

    @property
    def coverage(self) -> float:
        return self.qualified / self.required if self.required else 1.0


@dataclass(frozen=True)
class CoverageReport:
    """Records (validated ``training-record/1.0.0`` dicts), per-role coverage, overall share."""

    organization_id: str
    site_id: str | None
    as_of: datetime
    records: list[dict[str, Any]]
    coverage: list[RoleCoverageRow]

    @property
    def overall(self) -> float:
        required = sum(c.required for c in self.coverage)
        return sum(c.qualified for c in self.coverage) / required if required else 1.0


def _person(user: User | None, user_id: str) -> dict[str, Any]:
    if user is None:
        return {"person_id": user_id}
    role = ", ".join(sorted(user.roles))[:200]
    out: dict[str, Any] = {"person_id": user.id, "name": user.full_name[:200]}
    if role:
        out["role"] = role
    return out


def _record(cert_or_attempt: Certificate | Attempt, *, user: User | None, course: Course,
            version: CourseVersion, org_id: str, site_id: str | None,
            status: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "record_id": cert_or_attempt.id,
        "person": _person(user, cert_or_attempt.user_id),
        "organization_id": org_id,
        "qualification": course.qualification_id,
        "course": {"course_id": course.slug, "version": version.version,
                   "title": version.title[:200]},
        "assessment_score": round(100 * float(cert_or_attempt.score or 0), 2),
        "pass_mark": round(100 * version.pass_mark, 2),
        "status": status,
    }
    if site_id:
        row["site_id"] = site_id
    if isinstance(cert_or_attempt, Certificate):
        row["issued_at"] = cert_or_attempt.issued_at.isoformat()
        row["valid_until"] = cert_or_attempt.valid_until.isoformat()
        row["certificate_id"] = cert_or_attempt.id
    else:
        assert cert_or_attempt.submitted_at is not None
        row["issued_at"] = cert_or_attempt.submitted_at.isoformat()
    return row


def training_coverage(session: Session, org_id: str, site_id: str | None = None,
                      as_of: datetime | None = None,
                      requirements: Mapping[str, Sequence[str]] | None = None) -> CoverageReport:
    """Who in the organization (or site) holds which valid qualification, and coverage per role.

    ``requirements`` maps a role to the qualifications its holders need (default: the
    ``FEDHUB_QUALIFICATION_REQUIREMENTS`` setting). Records are validated against
    ``training-record/1.0.0``; a record that does not conform raises ``ValueError``.
    """
    as_of = as_of or utcnow()
    if requirements is None:
        from hub.config import get_settings

        requirements = get_settings().qualification_requirements
    certs = list(session.exec(select(Certificate).where(Certificate.organization_id == org_id)
                              .order_by(col(Certificate.issued_at))))
    failed = list(session.exec(select(Enrollment).where(
        Enrollment.organization_id == org_id, Enrollment.status == EnrollmentStatus.failed)))
    if site_id is not None:
        certs = [c for c in certs if c.site_id == site_id]
        failed = [e for e in failed if e.site_id == site_id]
    users = {u.id: u for u in session.exec(select(User).where(User.organization_id == org_id))}
    course_cache: dict[str, Course] = {}
    version_cache: dict[str, CourseVersion] = {}

    def parts(course_id: str, version_id: str) -> tuple[Course, CourseVersion]:
        if course_id not in course_cache:
            found = session.get(Course, course_id)
            assert found is not None
            course_cache[course_id] = found
        if version_id not in version_cache:
            found_v = session.get(CourseVersion, version_id)
            assert found_v is not None
            version_cache[version_id] = found_v
        return course_cache[course_id], version_cache[version_id]

    records: list[dict[str, Any]] = []
    holders: dict[str, set[str]] = {}
    for cert in certs:
        if cert.issued_at > as_of:
            continue
        status = status_of(cert, as_of)
        course, version = parts(cert.course_id, cert.version_id)
        records.append(_record(cert, user=users.get(cert.user_id), course=course,
                               version=version, org_id=org_id, site_id=cert.site_id,
                               status="active" if status == "valid" else status))
        if status == "valid":
            holders.setdefault(cert.qualification_id, set()).add(cert.user_id)
    for e in failed:
        last = session.exec(select(Attempt).where(Attempt.enrollment_id == e.id)
                            .order_by(col(Attempt.number).desc())).first()
        if last is None or last.submitted_at is None or last.submitted_at > as_of:
            continue
        course, version = parts(e.course_id, e.version_id)
        records.append(_record(last, user=users.get(e.user_id), course=course, version=version,
                               org_id=org_id, site_id=e.site_id, status="failed"))
    standard = registry.get(*STANDARD)
    for report in standard.validate_many(records):
        if not report.ok:
            raise ValueError(f"training record does not conform to {standard.id}: "
                             f"{report.errors}")
    people = [u for u in users.values() if u.is_active]
    if site_id is not None:
        at_site = {c.user_id for c in certs} | {e.user_id for e in session.exec(
            select(Enrollment).where(Enrollment.organization_id == org_id,
                                     Enrollment.site_id == site_id))}
        people = [u for u in people if u.id in at_site]
    coverage = []
    for role, needed in sorted(requirements.items()):
        in_role = [u.id for u in people if role in u.roles]
        for qualification in needed:
            have = holders.get(qualification, set())
            coverage.append(RoleCoverageRow(role, qualification, len(in_role),
                                            sum(uid in have for uid in in_role)))
    return CoverageReport(org_id, site_id, as_of, records, coverage)
