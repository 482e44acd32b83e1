"""Submitting an assessment: grade once, then issue the certificate and close the enrollment.

Idempotent: the attempt row is locked while it is graded; a retried or duplicated submission
with the same answers gets the stored grade back (``replayed``); different answers for an
attempt already graded are refused. The certificate is unique per attempt.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from hub.audit import service as audit
from hub.config import Settings
from hub.db import utcnow
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.identity.principal import Principal
from training_portal import certificates, notices
from training_portal import enrollment as learning
from training_portal import service as courses
from training_portal.grading import GradingError, grade
from training_portal.models import (
    Attempt,
    AttemptStatus,
    Certificate,
    Course,
    CourseVersion,
    Enrollment,
    EnrollmentStatus,
)
from training_portal.schemas import GradePublic


class AttemptAlreadySubmitted(Conflict):
    code, title = "attempt-already-submitted", "Attempt already submitted"


def answers_hash(answers: dict[str, Any]) -> str:
    """A canonical digest of a submission, to recognise a retry of the same answers."""
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _locked_attempt(session: Session, attempt_id: str) -> Attempt | None:
    stmt = (select(Attempt).where(Attempt.id == attempt_id).with_for_update()
            .execution_options(populate_existing=True))
    return session.exec(stmt).first()


def grade_public(session: Session, attempt: Attempt, e: Enrollment,
                 version: CourseVersion) -> GradePublic:
    """The stored grade of a submitted attempt."""
    assert attempt.submitted_at is not None and attempt.score is not None
    cert = session.exec(select(Certificate.id).where(Certificate.attempt_id == attempt.id)).first()
    finished = e.status in (EnrollmentStatus.completed, EnrollmentStatus.failed)
    if attempt.status == AttemptStatus.expired:
        detail = "Submitted after the time limit: the attempt scores zero."
    elif attempt.passed:
        detail = "Passed: your qualification certificate has been issued."
    else:
        detail = (f"Not passed: {attempt.score:.0%} against a pass mark of "
                  f"{version.pass_mark:.0%}.")
    return GradePublic(
        attempt_id=attempt.id, status=attempt.status, submitted_at=attempt.submitted_at,
        score=attempt.score, passed=bool(attempt.passed), pass_mark=version.pass_mark,
        earned=attempt.earned or 0, possible=attempt.possible or 0,
        results=learning.outcomes(attempt, finished), certificate_id=cert, detail=detail)


def submit(session: Session, settings: Settings, who: Principal, attempt_id: str,
           answers: dict[str, Any], now: datetime | None = None) -> tuple[GradePublic, bool]:
    """Grade an attempt server-side (once); returns (grade, replayed)."""
    attempt = _locked_attempt(session, attempt_id)
    e = session.get(Enrollment, attempt.enrollment_id) if attempt else None
    if attempt is None or e is None or attempt.user_id != who.id:
        raise NotFound(f"Attempt {attempt_id} not found")
    version = session.get(CourseVersion, attempt.version_id)
    course = session.get(Course, e.course_id)
    assert version is not None and course is not None
    digest = answers_hash(answers)
    now = now or utcnow()
    if attempt.status == AttemptStatus.in_progress:
        learning.expire_if_late(session, attempt, version, now)
    if attempt.status != AttemptStatus.in_progress:
        if attempt.answers_hash is None:  # closed at its time limit: keep what was sent
            with audit.reason(session, "answers received after the time limit"):
                attempt.answers, attempt.answers_hash = answers, digest
                session.add(attempt)
            learning.mark_failed_if_exhausted(session, e, version)
            return grade_public(session, attempt, e, version), False
        if attempt.answers_hash == digest:  # a retry of the same submission
            return grade_public(session, attempt, e, version), True
        raise AttemptAlreadySubmitted(
            "This attempt was already submitted with different answers; start a new attempt")
    drawn = courses.bank_of(attempt.questions)
    try:
        result = grade(drawn, answers, version.pass_mark)
    except GradingError as exc:
        known = {q.id for q in drawn}
        raise ValidationFailed(str(exc), errors=[
            {"pointer": f"/answers/{qid}", "message": "not a question of this attempt"}
            for qid in answers if qid not in known]) from exc
    with audit.reason(session, "assessment submitted"):
        attempt.status, attempt.submitted_at = AttemptStatus.submitted, now
        attempt.answers, attempt.answers_hash = answers, digest
        attempt.score, attempt.passed = result.score, result.passed
        attempt.earned, attempt.possible = result.earned, result.possible
        attempt.results = [r.model_dump() for r in result.results]
        session.add(attempt)
    if result.passed:
        cert = certificates.issue(session, settings, attempt, e, version, course, now)
        with audit.reason(session, "assessment passed"):
            e.status, e.completed_at = EnrollmentStatus.completed, now
            session.add(e)
        notices.issued(session, cert)
    else:
        learning.mark_failed_if_exhausted(session, e, version)
    session.flush()
    return grade_public(session, attempt, e, version), False


def remind(session: Session, settings: Settings, lead_days: int | None = None,
           now: datetime | None = None) -> int:
    """Create expiry notices (the periodic job behind ``fedhub training remind``)."""
    return notices.generate_reminders(session, lead_days or settings.training_reminder_days, now)
