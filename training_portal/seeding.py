"""Rows for the seed courses, with deterministic ids (the same in every hub database).

Pure: no session, no ORM. The data migration ``training_0002`` inserts these rows into a new
database; ``fedhub training seed`` (``service.seed_courses``) adds seed versions that appeared
after the database was created, through the audited ORM path.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from training_portal.seed import CourseSpec, load_seed_courses

SEED_ACTOR = "system:seed"
FIRST_STATUS_LIST = "r1"
_NAMESPACE = uuid.UUID("5b0c7c62-7a4e-4d2b-9a57-2f3f8e1c0d11")


def slugify(text: str) -> str:
    """``"Molecular screening model application"`` → ``"molecular-screening-model-application"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not slug:
        raise ValueError(f"{text!r} has no letters or digits to make an identifier from")
    return slug[:100]


def stable_id(*parts: str) -> str:
    """A UUID derived from ``parts`` (seed rows get the same id in every database)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


@dataclass
class SeedCourse:
    """The rows of one seed course version."""

    course: dict[str, Any]
    version: dict[str, Any]
    modules: list[dict[str, Any]] = field(default_factory=list)


def seed_rows(spec: CourseSpec, now: datetime) -> SeedCourse:
    """Course, published version and module rows for one seed course."""
    course_id = stable_id("course", spec.id)
    version_id = stable_id("course", spec.id, spec.version)
    return SeedCourse(
        course={"id": course_id, "slug": spec.id, "qualification_id": slugify(spec.qualification),
                "qualification_name": spec.qualification, "owner_org_id": None,
                "created_by": SEED_ACTOR, "created_at": now},
        version={"id": version_id, "course_id": course_id, "version": spec.version,
                 "status": "published", "title": spec.title, "summary": spec.summary,
                 "validity_months": spec.validity_months, "pass_mark": spec.pass_mark,
                 "attempt_limit": spec.attempt_limit,
                 "time_limit_minutes": spec.time_limit_minutes,
                 "questions_per_attempt": spec.questions_per_attempt,
                 "questions": [q.model_dump(mode="json") for q in spec.questions],
                 "created_by": SEED_ACTOR, "created_at": now, "published_by": SEED_ACTOR,
                 "published_at": now},
        modules=[{"id": stable_id("course", spec.id, spec.version, m.id),
                  "version_id": version_id, "position": i, "slug": m.id, "title": m.title,
                  "minutes": m.minutes, "body": m.body}
                 for i, m in enumerate(spec.modules, start=1)],
    )


def all_seed_rows(now: datetime) -> list[SeedCourse]:
    """Rows for every shipped seed course."""
    return [seed_rows(spec, now) for spec in load_seed_courses()]
