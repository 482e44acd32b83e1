"""API shapes of the training portal. Nothing a trainee receives before grading carries answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from training_portal.grading import Question
from training_portal.models import AttemptStatus, EnrollmentStatus, VersionStatus

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
SEMVER = r"^\d+\.\d+\.\d+$"
Answer = str | list[str] | float | int | None


class ModuleIn(BaseModel):
    """A learning module as an instructor writes it (markdown)."""

    model_config = ConfigDict(extra="forbid")
    slug: str = Field(pattern=SLUG, max_length=100)
    title: str = Field(min_length=3, max_length=200)
    minutes: int = Field(default=30, ge=1, le=600)
    body: str = Field(min_length=1, max_length=200_000)


class _Rules(BaseModel):
    validity_months: int = Field(default=24, ge=1, le=120)
    pass_mark: float = Field(default=0.8, gt=0, le=1)
    attempt_limit: int | None = Field(default=3, ge=1, le=100)
    time_limit_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    questions_per_attempt: int = Field(default=10, ge=1, le=200)


def _check_content(modules: list[ModuleIn] | None, questions: list[Any] | None,
                   per_attempt: int | None) -> None:
    if modules is not None and len({m.slug for m in modules}) != len(modules):
        raise ValueError("module slugs must be unique")
    if questions is None:
        return
    if len({q.id for q in questions}) != len(questions):
        raise ValueError("question ids must be unique")
    if modules is not None:
        slugs = {m.slug for m in modules}
        for q in questions:
            if q.module is not None and q.module not in slugs:
                raise ValueError(f"question {q.id} names unknown module {q.module!r}")
    if per_attempt is not None and per_attempt > len(questions):
        raise ValueError(f"questions_per_attempt ({per_attempt}) exceeds the bank "
                         f"({len(questions)} questions)")


class CourseCreate(_Rules):
    """A new course: its first version is a draft until published."""

    model_config = ConfigDict(extra="forbid")
    slug: str = Field(pattern=SLUG, max_length=100)
    title: str = Field(min_length=3, max_length=200)
    summary: str = Field(min_length=10, max_length=4000)
    qualification_name: str = Field(min_length=3, max_length=200)
    qualification_id: str | None = Field(default=None, pattern=SLUG, max_length=100)
    version: str = Field(default="1.0.0", pattern=SEMVER)
    consortium: bool = False  # open to every member (hub admins and operator instructors)
    modules: list[ModuleIn] = Field(min_length=1, max_length=50)
    questions: list[Question] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> CourseCreate:
        _check_content(self.modules, self.questions, self.questions_per_attempt)
        return self


class CourseUpdate(BaseModel):
    """Changes to a course; a published version is never edited: a new draft is made."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=2000)
    title: str | None = Field(default=None, min_length=3, max_length=200)
    summary: str | None = Field(default=None, min_length=10, max_length=4000)
    version: str | None = Field(default=None, pattern=SEMVER)
    validity_months: int | None = Field(default=None, ge=1, le=120)
    pass_mark: float | None = Field(default=None, gt=0, le=1)
    attempt_limit: int | None = Field(default=None, ge=1, le=100)
    time_limit_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    questions_per_attempt: int | None = Field(default=None, ge=1, le=200)
    modules: list[ModuleIn] | None = Field(default=None, min_length=1, max_length=50)
    questions: list[Question] | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> CourseUpdate:
        _check_content(self.modules, self.questions, None)
        return self


class AttachmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    filename: str
    media_type: str
    size: int
    sha256: str
    created_at: datetime


class ModuleSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    slug: str
    title: str
    minutes: int
    position: int
    attachments: list[AttachmentPublic] = Field(default_factory=list)


class ModuleContent(ModuleSummary):
    """A module to study: markdown body and, for an enrollment, when it was completed."""

    body: str
    completed_at: datetime | None = None


class CourseVersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    course_id: str
    version: str
    status: VersionStatus
    title: str
    summary: str
    validity_months: int
    pass_mark: float
    attempt_limit: int | None
    time_limit_minutes: int | None
    questions_per_attempt: int
    question_count: int = 0
    created_at: datetime
    published_at: datetime | None


class CoursePublic(BaseModel):
    """A course as trainees see it: its current published version, without the bank."""

    id: str
    slug: str
    qualification_id: str
    qualification_name: str
    consortium: bool
    owner_org_id: str | None
    version_id: str
    version: str
    title: str
    summary: str
    validity_months: int
    pass_mark: float
    attempt_limit: int | None
    time_limit_minutes: int | None
    questions_per_attempt: int
    total_minutes: int
    modules: list[ModuleSummary] = Field(default_factory=list)
    draft_version: str | None = None  # shown to the course's managers only


class EnrollmentCreate(BaseModel):
    """Enroll yourself, or (organization admins, instructors) assign a person of your org."""

    model_config = ConfigDict(extra="forbid")
    course_id: str = Field(min_length=1, max_length=100, description="course id or slug")
    user_id: str | None = Field(default=None, max_length=36)
    site_id: str | None = Field(default=None, max_length=36)
    due_at: AwareDatetime | None = None


class AttemptSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    number: int
    status: AttemptStatus
    started_at: datetime
    deadline: datetime | None
    submitted_at: datetime | None
    score: float | None
    passed: bool | None


class ModuleProgressPublic(BaseModel):
    id: str
    slug: str
    title: str
    minutes: int
    completed_at: datetime | None


class EnrollmentPublic(BaseModel):
    id: str
    user_id: str
    organization_id: str
    site_id: str | None
    course_id: str
    course_slug: str
    course_title: str
    qualification_name: str
    version_id: str
    version: str
    cycle: int
    status: EnrollmentStatus
    assigned_by: str | None
    due_at: datetime | None
    enrolled_at: datetime
    completed_at: datetime | None
    modules_total: int
    modules_completed: int
    attempts_used: int
    attempts_remaining: int | None
    certificate_id: str | None = None


class EnrollmentDetail(EnrollmentPublic):
    modules: list[ModuleProgressPublic]
    attempts: list[AttemptSummary]


class QuestionOutcome(BaseModel):
    question_id: str
    answered: bool
    correct: bool
    points: int
    earned: int
    explanation: str | None = None  # once the course is finished (passed or out of attempts)


class AttemptPublic(AttemptSummary):
    """An attempt as its trainee sees it: answer-free questions; results after grading."""

    enrollment_id: str
    course_title: str
    pass_mark: float
    seconds_remaining: int | None = None
    questions: list[dict[str, Any]]
    answers: dict[str, Any] | None = None
    earned: int | None = None
    possible: int | None = None
    results: list[QuestionOutcome] | None = None
    certificate_id: str | None = None


class SubmitAnswers(BaseModel):
    """Answers by question id: an option id, a list of option ids, or a number."""

    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Answer] = Field(max_length=500)


class GradePublic(BaseModel):
    """The grade of a submitted attempt (the same on every retry of the submission)."""

    attempt_id: str
    status: AttemptStatus
    submitted_at: datetime
    score: float
    passed: bool
    pass_mark: float
    earned: int
    possible: int
    results: list[QuestionOutcome]
    certificate_id: str | None = None
    detail: str


class CertificatePublic(BaseModel):
    id: str
    credential_id: str
    user_id: str
    holder_name: str
    organization_id: str
    site_id: str | None
    course_id: str
    course_slug: str
    course_version: str
    qualification_id: str
    qualification_name: str
    score: float
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    status: Literal["valid", "expired", "revoked"]
    revoked_at: datetime | None
    revocation_reason: str | None
    superseded_by: str | None
    verify_url: str
    status_list_url: str


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=2000)


class CheckPublic(BaseModel):
    name: str
    outcome: Literal["pass", "fail", "skip"]
    message: str


class VerificationPublic(BaseModel):
    """Whether a certificate is valid now, each check's outcome and what it certifies."""

    valid: bool
    checks: list[CheckPublic]
    certificate_id: str | None = None
    holder_name: str | None = None
    qualification: str | None = None
    issuer: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    credential: dict[str, Any] | None = None


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: str = Field(min_length=10, max_length=100_000, description="a JWT-VC")


class NotificationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    audience: str
    kind: str
    user_id: str | None
    organization_id: str
    subject_id: str
    title: str
    message: str
    due_at: datetime | None
    created_at: datetime
    read_at: datetime | None


class ReminderRun(BaseModel):
    created: int
    lead_days: int
    as_of: datetime


class RoleCoverage(BaseModel):
    """How many people in a role hold a qualification the role needs."""

    role: str
    qualification: str
    required: int
    qualified: int
    coverage: float  # 0..1 (1 when nobody in the role)


class TrainingRecordsPublic(BaseModel):
    """``training-record/1.0.0`` instances and coverage per role (personal data)."""

    organization_id: str
    site_id: str | None
    as_of: datetime
    records: list[dict[str, Any]]
    coverage: list[RoleCoverage]
    overall: float


class HistoryPublic(BaseModel):
    """Everything a trainee has done: enrollments with their attempts, and certificates."""

    enrollments: list[EnrollmentDetail]
    certificates: list[CertificatePublic]


class HoldingPublic(BaseModel):
    """One qualification and whether the caller holds it validly now."""

    qualification: str
    name: str | None
    valid: bool
    detail: str
    valid_until: datetime | None
    certificate_id: str | None


class QualificationPublic(BaseModel):
    """A qualification and the courses that certify it."""

    id: str
    name: str
    courses: list[str]
