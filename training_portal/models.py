"""Training tables: courses and their versions, modules, enrollments, attempts, certificates.

A course is a stable identity (slug, qualification); its content lives in versions. Editing a
published version makes a new draft version; enrollments, attempts and certificates point at
the version the trainee actually took. Drawn questions (with their answers) are stored on the
attempt and never leave the server before grading; the audit trail records attempts with the
drawn questions and seed redacted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow


class VersionStatus(StrEnum):
    draft = "draft"
    published = "published"
    superseded = "superseded"


class EnrollmentStatus(StrEnum):
    active = "active"  # studying or attempting
    completed = "completed"  # passed; a certificate was issued
    failed = "failed"  # every allowed attempt used without passing
    withdrawn = "withdrawn"


class AttemptStatus(StrEnum):
    in_progress = "in_progress"
    submitted = "submitted"
    expired = "expired"  # submitted (or abandoned) after the time limit: scores zero


class Course(SQLModel, table=True):
    """A course and the qualification it certifies; content is in its versions."""

    __tablename__ = "training_course"
    __audit_entity__ = "training_course"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    slug: str = Field(unique=True, index=True, max_length=100)
    qualification_id: str = Field(index=True, max_length=100)
    qualification_name: str = Field(max_length=200)
    owner_org_id: str | None = Field(default=None, foreign_key="organization.id", index=True,
                                     max_length=36)  # None: a consortium course, open to all
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CourseVersion(SQLModel, table=True):
    """One version of a course: rules, question bank and (through modules) content."""

    __tablename__ = "training_course_version"
    __table_args__ = (sa.UniqueConstraint("course_id", "version",
                                          name="uq_training_version_course_version"),)
    __audit_entity__ = "training_course_version"
    __audit_redact__ = frozenset({"questions"})  # the answer key stays out of the audit views

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    course_id: str = Field(foreign_key="training_course.id", index=True, max_length=36)
    version: str = Field(max_length=20)
    status: VersionStatus = Field(default=VersionStatus.draft, sa_type=sa.String(12))
    title: str = Field(max_length=200)
    summary: str = Field(max_length=4000)
    validity_months: int
    pass_mark: float
    attempt_limit: int | None = None
    time_limit_minutes: int | None = None
    questions_per_attempt: int
    questions: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_by: str | None = Field(default=None, max_length=64)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Module(SQLModel, table=True):
    """A learning module (markdown) of one course version."""

    __tablename__ = "training_module"
    __table_args__ = (sa.UniqueConstraint("version_id", "slug", name="uq_training_module_slug"),)
    __audit_entity__ = "training_module"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    version_id: str = Field(foreign_key="training_course_version.id", index=True, max_length=36)
    position: int
    slug: str = Field(max_length=100)
    title: str = Field(max_length=200)
    minutes: int
    body: str = Field(sa_type=sa.Text)


class Attachment(SQLModel, table=True):
    """A file attached to a module (slides, SOP excerpt); bytes kept in the database."""

    __tablename__ = "training_attachment"
    __audit_entity__ = "training_attachment"
    __audit_redact__ = frozenset({"content"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    module_id: str = Field(foreign_key="training_module.id", index=True, max_length=36)
    filename: str = Field(max_length=200)
    media_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_type=sa.LargeBinary)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Enrollment(SQLModel, table=True):
    """A person taking one course; a refresher is a new cycle of the same course."""

    __tablename__ = "training_enrollment"
    __table_args__ = (sa.UniqueConstraint("user_id", "course_id", "cycle",
                                          name="uq_training_enrollment_cycle"),)
    __audit_entity__ = "training_enrollment"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="user_account.id", index=True, max_length=36)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    site_id: str | None = Field(default=None, index=True, max_length=36)
    course_id: str = Field(foreign_key="training_course.id", index=True, max_length=36)
    version_id: str = Field(foreign_key="training_course_version.id", max_length=36)
    cycle: int = 1
    status: EnrollmentStatus = Field(default=EnrollmentStatus.active, sa_type=sa.String(12))
    assigned_by: str | None = Field(default=None, max_length=64)  # None: self-enrolled
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enrolled_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ModuleProgress(SQLModel, table=True):
    """A module a trainee has worked through."""

    __tablename__ = "training_module_progress"
    __table_args__ = (sa.UniqueConstraint("enrollment_id", "module_id",
                                          name="uq_training_progress_module"),)
    __audit_entity__ = "training_module_progress"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    enrollment_id: str = Field(foreign_key="training_enrollment.id", index=True, max_length=36)
    module_id: str = Field(foreign_key="training_module.id", max_length=36)
    completed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Attempt(SQLModel, table=True):
    """One assessment attempt: the drawn questions, the answers and the grade."""

    __tablename__ = "training_attempt"
    __table_args__ = (sa.UniqueConstraint("enrollment_id", "number",
                                          name="uq_training_attempt_number"),)
    __audit_entity__ = "training_attempt"
    __audit_redact__ = frozenset({"questions", "seed"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    enrollment_id: str = Field(foreign_key="training_enrollment.id", index=True, max_length=36)
    user_id: str = Field(foreign_key="user_account.id", index=True, max_length=36)
    version_id: str = Field(foreign_key="training_course_version.id", max_length=36)
    number: int
    seed: str = Field(max_length=64)
    questions: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    status: AttemptStatus = Field(default=AttemptStatus.in_progress, sa_type=sa.String(12))
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answers: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    answers_hash: str | None = Field(default=None, max_length=64)
    score: float | None = None
    passed: bool | None = None
    earned: int | None = None
    possible: int | None = None
    results: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)


class StatusListRecord(SQLModel, table=True):
    """A Bitstring Status List for certificate revocation; its bits are derived from the
    revoked certificates that point at it (no stored bitstring to lose updates on)."""

    __tablename__ = "training_status_list"

    id: str = Field(primary_key=True, max_length=36)  # short public id in the list's URL
    purpose: str = Field(default="revocation", max_length=12)
    size: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Certificate(SQLModel, table=True):
    """An issued qualification certificate (the signed JWT-VC is kept as issued)."""

    __tablename__ = "training_certificate"
    __table_args__ = (sa.UniqueConstraint("status_list_id", "status_index",
                                          name="uq_training_certificate_status_entry"),)
    __audit_entity__ = "training_certificate"
    __audit_redact__ = frozenset({"token"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="user_account.id", index=True, max_length=36)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    site_id: str | None = Field(default=None, index=True, max_length=36)
    course_id: str = Field(foreign_key="training_course.id", index=True, max_length=36)
    version_id: str = Field(foreign_key="training_course_version.id", max_length=36)
    enrollment_id: str = Field(foreign_key="training_enrollment.id", max_length=36)
    attempt_id: str = Field(foreign_key="training_attempt.id", unique=True, max_length=36)
    qualification_id: str = Field(index=True, max_length=100)
    qualification_name: str = Field(max_length=200)
    score: float
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime = Field(sa_type=UTCDateTime, index=True)
    status_list_id: str = Field(foreign_key="training_status_list.id", max_length=36)
    status_index: int
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=64)
    revocation_reason: str | None = Field(default=None, max_length=2000)
    superseded_by: str | None = Field(default=None, max_length=36)
    key_id: str = Field(max_length=64)
    token: str = Field(sa_type=sa.Text)


class Notification(SQLModel, table=True):
    """A notice to a trainee or to their organization (expiry ahead, expired, assigned)."""

    __tablename__ = "training_notification"
    __table_args__ = (sa.UniqueConstraint("subject_id", "audience", "kind",
                                          name="uq_training_notification_once"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    audience: str = Field(max_length=12)  # "trainee" | "organization"
    user_id: str | None = Field(default=None, foreign_key="user_account.id", index=True,
                                max_length=36)  # the trainee the notice is about
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    kind: str = Field(max_length=30)  # expiry_upcoming | expired | assigned | issued
    subject_id: str = Field(max_length=36)  # certificate or enrollment id
    title: str = Field(max_length=200)
    message: str = Field(max_length=2000)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
