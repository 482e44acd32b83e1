"""Who may do what in the training portal.

* Courses: a consortium course (no owner) is open to every member; an organization's course to
  its own people. Instructors manage their organization's courses; consortium courses are
  managed by hub administrators and the operator organization's instructors.
* Enrollment: every person may enroll themselves; an organization's training admins
  (``site_admin``, ``qa``, ``instructor``) assign courses to its people.
* Trainee records (enrollments, attempts, certificates: personal data) are seen by the
  trainee and their organization's training admins only. Hub administrators do not browse
  them; they may revoke a certificate they are shown. Regulators receive training records in
  compliance submissions (``records.training_coverage``), not through these endpoints.
"""

from __future__ import annotations

from sqlmodel import Session

from hub.errors import NotFound, PermissionDenied
from hub.identity.models import Organization, OrgKind
from hub.identity.principal import Principal
from training_portal.models import Course

TRAINING_ADMIN_ROLES = ("site_admin", "qa", "instructor")


def course_visible(who: Principal, course: Course) -> bool:
    """Whether the caller may see (and enroll in) a course."""
    return course.owner_org_id is None or course.owner_org_id == who.org_id or who.is_hub_admin


def _is_operator(session: Session, org_id: str) -> bool:
    org = session.get(Organization, org_id)
    return org is not None and org.kind == OrgKind.operator


def can_manage_course(session: Session, who: Principal, course: Course) -> bool:
    """Instructors of the owning organization; hub admins/operator instructors for consortium."""
    if not who.is_user:
        return False
    if course.owner_org_id is None:
        return who.is_hub_admin or (who.has("instructor") and _is_operator(session, who.org_id))
    return course.owner_org_id == who.org_id and who.has("instructor")


def ensure_manager(session: Session, who: Principal, course: Course) -> None:
    """403 unless the caller manages the course."""
    if not can_manage_course(session, who, course):
        raise PermissionDenied(f"Only the instructors who own course {course.slug} may change it")


def can_create_consortium_course(session: Session, who: Principal) -> bool:
    """Hub admins and the operator organization's instructors."""
    return who.is_hub_admin or (who.has("instructor") and _is_operator(session, who.org_id))


def is_training_admin(who: Principal, org_id: str) -> bool:
    """A training admin of ``org_id`` (sees its people's records, assigns, revokes)."""
    return who.is_user and who.org_id == org_id and who.has(*TRAINING_ADMIN_ROLES)


def can_see_person(who: Principal, user_id: str, org_id: str) -> bool:
    """The trainee themselves or their organization's training admins."""
    return who.id == user_id or is_training_admin(who, org_id)


def ensure_sees_person(who: Principal, user_id: str, org_id: str, what: str) -> None:
    """404 (never data, never a hint that it exists) for anyone else."""
    if not can_see_person(who, user_id, org_id):
        raise NotFound(f"{what} not found")
