"""`training-record/1.0.0`: a person's qualification from a course and its assessment."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from standards.base import StandardModel, fail_fields
from standards.classification import Level, classified
from standards.common import Identifier, PersonRef, SemVer, ShortText, Timestamp


class CourseRef(StandardModel):
    """The course (and its version) the qualification was earned in."""

    course_id: Identifier
    version: SemVer
    title: ShortText | None = None


class TrainingRecord(StandardModel):
    """Training record 1.0.0

    A qualification earned by a person (personal data) from an organization's course: the
    assessment score, issue and expiry dates, certificate id and status.
    """

    record_id: Identifier
    person: PersonRef = classified(Level.pii)
    organization_id: Identifier
    site_id: Identifier | None = None
    qualification: Identifier = Field(description="e.g. gmp-basics, aseptic-processing")
    course: CourseRef
    assessment_score: float = Field(ge=0, le=100, description="percent")
    pass_mark: float = Field(default=80.0, ge=0, le=100)
    issued_at: Timestamp
    valid_until: Timestamp | None = None
    certificate_id: Identifier | None = None
    status: Literal["active", "expired", "revoked", "failed"]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.valid_until is not None and self.valid_until <= self.issued_at:
            problems.append((("valid_until",), "valid_until is not after issued_at"))
        passed = self.assessment_score >= self.pass_mark
        if self.status == "failed" and passed:
            problems.append((("status",), "status failed but the score reaches the pass mark"))
        if self.status != "failed" and not passed:
            problems.append((("assessment_score",), "score below the pass mark"))
        if self.status != "failed" and self.certificate_id is None:
            problems.append((("certificate_id",), "a qualification carries a certificate id"))
        fail_fields(self, problems)
        return self
