"""Enrollment, module progress and starting assessment attempts (answer-free views)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from hub.audit import service as audit
from hub.config import Settings
from hub.db import utcnow
from hub.errors import Conflict, NotFound, PermissionDenied
from hub.identity.models import User
from hub.identity.principal import Principal
from training_portal import access, notices
from training_portal import service as courses
from training_portal.grading import (
    attempts_remaining,
    can_start_attempt,
    draw_questions,
    public_view,
    submitted_in_time,
    time_remaining,
)
from training_portal.models import (
    Attempt,
    AttemptStatus,
    Certificate,
    Course,
    CourseVersion,
    Enrollment,
    EnrollmentStatus,
    Module,
    ModuleProgress,
)
from training_portal.schemas import (
    AttemptPublic,
    AttemptSummary,
    EnrollmentCreate,
    EnrollmentDetail,
    EnrollmentPublic,
    ModuleContent,
    ModuleProgressPublic,
    QuestionOutcome,
)

GRACE_SECONDS = 30


class AttemptLimitReached(Conflict):
    code, title = "attempt-limit-reached", "No attempts left"


class ModulesIncomplete(Conflict):
    code, title = "modules-incomplete", "Modules not completed"


def _latest(session: Session, user_id: str, course_id: str) -> Enrollment | None:
    return session.exec(select(Enrollment).where(
        Enrollment.user_id == user_id, Enrollment.course_id == course_id)
        .order_by(col(Enrollment.cycle).desc())).first()


def _refresher_open(session: Session, settings: Settings, prior: Enrollment,
                    now: datetime) -> tuple[bool, str]:
    cert = session.exec(select(Certificate).where(Certificate.enrollment_id == prior.id)).first()
    if cert is None or cert.revoked_at is not None:
        return True, ""
    opens = cert.valid_until - timedelta(days=settings.training_reminder_days)
    if now >= opens:
        return True, ""
    return False, (f"you hold a valid certificate until {cert.valid_until:%Y-%m-%d}; the "
                   f"refresher opens on {opens:%Y-%m-%d}")


def enroll(session: Session, settings: Settings, who: Principal,
           data: EnrollmentCreate) -> tuple[Enrollment, bool]:
    """Enroll yourself or assign a person of your organization; returns (enrollment, created).

    An active enrollment is returned as is. A new cycle (refresher) opens when the previous
    certificate is within the reminder lead time of expiry, expired or revoked; a training
    admin may also assign a new cycle after failed attempts or at any time.
    """
    if not who.is_user:
        raise PermissionDenied("Only people enroll in courses")
    target_id = data.user_id or who.id
    assigned = target_id != who.id
    target = session.get(User, target_id)
    if target is None or (assigned and target.organization_id != who.org_id):
        raise NotFound(f"User {target_id} not found")
    if assigned and not access.is_training_admin(who, target.organization_id):
        raise PermissionDenied("Assigning courses needs a training admin of the organization "
                               "(site admin, QA or instructor)")
    course = courses.get_course(session, who, data.course_id)
    version = courses.current_version(session, course.id)
    if version is None:
        raise Conflict(f"Course {course.slug} has no published version yet")
    now = utcnow()
    prior = _latest(session, target.id, course.id)
    if prior is not None and prior.status == EnrollmentStatus.active:
        return prior, False
    if prior is not None and not assigned:
        if prior.status == EnrollmentStatus.failed:
            raise Conflict("Every allowed attempt was used; a training admin of your "
                           "organization can assign a retake")
        if prior.status == EnrollmentStatus.completed:
            is_open, why = _refresher_open(session, settings, prior, now)
            if not is_open:
                raise Conflict(f"Already qualified: {why}")
    row = Enrollment(user_id=target.id, organization_id=target.organization_id,
                     site_id=data.site_id, course_id=course.id, version_id=version.id,
                     cycle=(prior.cycle + 1) if prior else 1,
                     assigned_by=who.id if assigned else None, due_at=data.due_at)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent request enrolled first
        winner = _latest(session, target.id, course.id)
        if winner is None:
            raise
        return winner, False
    if assigned:
        notices.assigned(session, row, course, version, who)
    return row, True


def get_enrollment(session: Session, who: Principal, enrollment_id: str) -> Enrollment:
    row = session.get(Enrollment, enrollment_id)
    if row is None:
        raise NotFound(f"Enrollment {enrollment_id} not found")
    access.ensure_sees_person(who, row.user_id, row.organization_id, "Enrollment")
    return row


def list_enrollments(session: Session, who: Principal, *, user_id: str | None = None,
                     organization_id: str | None = None) -> list[Enrollment]:
    """Your enrollments, or (training admins) your organization's."""
    stmt = select(Enrollment).order_by(col(Enrollment.enrolled_at).desc())
    if organization_id is not None or (user_id is not None and user_id != who.id):
        org = organization_id or who.org_id
        if not access.is_training_admin(who, org):
            raise PermissionDenied("Only your organization's training admins see its records")
        stmt = stmt.where(Enrollment.organization_id == org)
        if user_id is not None:
            stmt = stmt.where(Enrollment.user_id == user_id)
    else:
        stmt = stmt.where(Enrollment.user_id == who.id)
    return list(session.exec(stmt).all())


def _parts(session: Session, e: Enrollment) -> tuple[Course, CourseVersion, list[Module]]:
    course = session.get(Course, e.course_id)
    version = session.get(CourseVersion, e.version_id)
    assert course is not None and version is not None
    return course, version, courses.modules_of(session, version.id)


def _done(session: Session, enrollment_id: str) -> dict[str, datetime]:
    rows = session.exec(select(ModuleProgress).where(
        ModuleProgress.enrollment_id == enrollment_id)).all()
    return {p.module_id: p.completed_at for p in rows}


def _attempts(session: Session, enrollment_id: str) -> list[Attempt]:
    return list(session.exec(select(Attempt).where(Attempt.enrollment_id == enrollment_id)
                             .order_by(col(Attempt.number))).all())


def enrollment_public(session: Session, e: Enrollment, detail: bool = False) -> EnrollmentPublic:
    course, version, modules = _parts(session, e)
    done = _done(session, e.id)
    tries = _attempts(session, e.id)
    cert = session.exec(select(Certificate.id).where(Certificate.enrollment_id == e.id)).first()
    base = dict(
        id=e.id, user_id=e.user_id, organization_id=e.organization_id, site_id=e.site_id,
        course_id=course.id, course_slug=course.slug, course_title=version.title,
        qualification_name=course.qualification_name, version_id=version.id,
        version=version.version, cycle=e.cycle, status=e.status, assigned_by=e.assigned_by,
        due_at=e.due_at, enrolled_at=e.enrolled_at, completed_at=e.completed_at,
        modules_total=len(modules), modules_completed=sum(m.id in done for m in modules),
        attempts_used=len(tries),
        attempts_remaining=attempts_remaining(len(tries), version.attempt_limit),
        certificate_id=cert)
    if not detail:
        return EnrollmentPublic(**base)
    return EnrollmentDetail(
        **base,
        modules=[ModuleProgressPublic(id=m.id, slug=m.slug, title=m.title, minutes=m.minutes,
                                      completed_at=done.get(m.id)) for m in modules],
        attempts=[AttemptSummary.model_validate(a) for a in tries])


def _module(session: Session, e: Enrollment, ref: str) -> Module:
    for m in courses.modules_of(session, e.version_id):
        if ref in (m.id, m.slug):
            return m
    raise NotFound(f"Module {ref} is not part of this enrollment")


def module_content(session: Session, who: Principal, enrollment_id: str,
                   ref: str) -> ModuleContent:
    e = get_enrollment(session, who, enrollment_id)
    m = _module(session, e, ref)
    summary = courses.module_summaries(session, [m])[0]
    return ModuleContent(**summary.model_dump(), body=m.body,
                         completed_at=_done(session, e.id).get(m.id))


def complete_module(session: Session, who: Principal, enrollment_id: str,
                    ref: str) -> ModuleProgress:
    """Record that the trainee worked through a module (idempotent)."""
    e = get_enrollment(session, who, enrollment_id)
    if e.user_id != who.id:
        raise PermissionDenied("Only the trainee records their own progress")
    m = _module(session, e, ref)
    existing = session.exec(select(ModuleProgress).where(
        ModuleProgress.enrollment_id == e.id, ModuleProgress.module_id == m.id)).first()
    if existing is not None:
        return existing
    row = ModuleProgress(enrollment_id=e.id, module_id=m.id)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = session.exec(select(ModuleProgress).where(
            ModuleProgress.enrollment_id == e.id, ModuleProgress.module_id == m.id)).first()
        if found is None:
            raise
        return found
    return row


# -- attempts ---------------------------------------------------------------------------------
def expire_if_late(session: Session, attempt: Attempt, version: CourseVersion,
                   now: datetime) -> bool:
    """Close an unsubmitted attempt past its deadline (scores zero); True if it was closed."""
    if attempt.status != AttemptStatus.in_progress or submitted_in_time(
            attempt.started_at, now, version.time_limit_minutes, GRACE_SECONDS):
        return False
    with audit.reason(session, "time limit exceeded"):
        attempt.status = AttemptStatus.expired
        attempt.submitted_at = attempt.deadline or now
        attempt.score, attempt.passed, attempt.earned = 0.0, False, 0
        attempt.possible = sum(int(q.get("points", 1)) for q in attempt.questions)
        attempt.results = [{"question_id": q["id"], "answered": False, "correct": False,
                            "points": int(q.get("points", 1)), "earned": 0}
                           for q in attempt.questions]
        session.add(attempt)
    return True


def mark_failed_if_exhausted(session: Session, e: Enrollment, version: CourseVersion) -> None:
    used = session.exec(select(func.count()).select_from(Attempt)
                        .where(Attempt.enrollment_id == e.id)).one()
    if e.status == EnrollmentStatus.active and not can_start_attempt(used, version.attempt_limit):
        with audit.reason(session, f"all {version.attempt_limit} attempts used without passing"):
            e.status = EnrollmentStatus.failed
            session.add(e)


def start_attempt(session: Session, who: Principal, enrollment_id: str) -> Attempt:
    """Draw a new attempt (or return the one in progress) once every module is completed."""
    e = get_enrollment(session, who, enrollment_id)
    if e.user_id != who.id:
        raise PermissionDenied("Only the trainee takes their own assessment")
    _, version, modules = _parts(session, e)
    if e.status != EnrollmentStatus.active:
        raise Conflict(f"This enrollment is {e.status}: no new attempts")
    done = _done(session, e.id)
    missing = [m for m in modules if m.id not in done]
    if missing:
        raise ModulesIncomplete(
            "Complete every module before the assessment: "
            + ", ".join(m.title for m in missing),
            errors=[{"pointer": f"/modules/{m.slug}", "message": "not completed"}
                    for m in missing])
    now = utcnow()
    tries = _attempts(session, e.id)
    for a in tries:
        if a.status == AttemptStatus.in_progress and not expire_if_late(session, a, version, now):
            return a
    mark_failed_if_exhausted(session, e, version)
    if e.status == EnrollmentStatus.failed:
        raise AttemptLimitReached(f"All {version.attempt_limit} attempts have been used")
    seed = secrets.token_hex(16)
    drawn = draw_questions(courses.bank(version), version.questions_per_attempt, seed)
    row = Attempt(enrollment_id=e.id, user_id=e.user_id, version_id=version.id,
                  number=len(tries) + 1, seed=seed,
                  questions=[q.model_dump(mode="json") for q in drawn], started_at=now,
                  deadline=now + timedelta(minutes=version.time_limit_minutes)
                  if version.time_limit_minutes else None)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent start won: hand out that attempt
        found = session.exec(select(Attempt).where(Attempt.enrollment_id == e.id,
                                                   Attempt.number == row.number)).first()
        if found is None:
            raise
        return found
    return row


def get_attempt(session: Session, who: Principal, attempt_id: str) -> Attempt:
    row = session.get(Attempt, attempt_id)
    e = session.get(Enrollment, row.enrollment_id) if row else None
    if row is None or e is None:
        raise NotFound(f"Attempt {attempt_id} not found")
    access.ensure_sees_person(who, e.user_id, e.organization_id, "Attempt")
    return row


def outcomes(attempt: Attempt, explain: bool) -> list[QuestionOutcome]:
    """Per-question results; explanations only once the course is finished."""
    notes = {q["id"]: q.get("explanation") for q in attempt.questions}
    return [QuestionOutcome(**r, explanation=notes.get(r["question_id"]) if explain else None)
            for r in attempt.results or []]


def attempt_public(session: Session, attempt: Attempt,
                   now: datetime | None = None) -> AttemptPublic:
    """The trainee's view: never an answer key; results and explanations after grading."""
    e = session.get(Enrollment, attempt.enrollment_id)
    version = session.get(CourseVersion, attempt.version_id)
    assert e is not None and version is not None
    now = now or utcnow()
    drawn = courses.bank_of(attempt.questions)
    left = None
    if attempt.status == AttemptStatus.in_progress:
        remaining = time_remaining(attempt.started_at, now, version.time_limit_minutes)
        left = int(remaining.total_seconds()) if remaining is not None else None
    finished = e.status in (EnrollmentStatus.completed, EnrollmentStatus.failed)
    graded = attempt.status != AttemptStatus.in_progress
    cert = session.exec(select(Certificate.id).where(Certificate.attempt_id == attempt.id)).first()
    return AttemptPublic(
        id=attempt.id, number=attempt.number, status=attempt.status,
        started_at=attempt.started_at, deadline=attempt.deadline,
        submitted_at=attempt.submitted_at, score=attempt.score, passed=attempt.passed,
        enrollment_id=e.id, course_title=version.title, pass_mark=version.pass_mark,
        seconds_remaining=left, questions=[public_view(q) for q in drawn],
        answers=attempt.answers if graded else None, earned=attempt.earned,
        possible=attempt.possible, results=outcomes(attempt, finished) if graded else None,
        certificate_id=cert)
