"""training portal: the four seed courses and the first revocation status list

Revision ID: training_0002
Revises: training_0001
Create Date: 2026-11-22 06:10:00

Data step: inserts the shipped seed courses (deterministic ids, published) with lightweight
table definitions, so later schema changes cannot break it. Newer seed versions are added by
``fedhub training seed`` through the audited service.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "training_0002"
down_revision: str | None = "training_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_utc = sa.DateTime(timezone=True)
course = sa.table(
    "training_course",
    *(
        sa.column(c)
        for c in (
            "id",
            "slug",
            "qualification_id",
            "qualification_name",
            "owner_org_id",
            "created_by",
        )
    ),
    sa.column("created_at", _utc),
)
version = sa.table(
    "training_course_version",
    *(
        sa.column(c)
        for c in (
            "id",
            "course_id",
            "version",
            "status",
            "title",
            "summary",
            "validity_months",
            "pass_mark",
            "attempt_limit",
            "time_limit_minutes",
            "questions_per_attempt",
            "created_by",
            "published_by",
        )
    ),
    sa.column("questions", sa.JSON()),
    sa.column("created_at", _utc),
    sa.column("published_at", _utc),
)
module = sa.table(
    "training_module",
    *(sa.column(c) for c in ("id", "version_id", "position", "slug", "title", "minutes", "body")),
)
status_list = sa.table(
    "training_status_list",
    sa.column("id"),
    sa.column("purpose"),
    sa.column("size"),
    sa.column("created_at", _utc),
)


def _only(table: sa.TableClause, row: dict) -> dict:
    return {k: v for k, v in row.items() if k in table.c}


def upgrade() -> None:
    from training_portal.seeding import FIRST_STATUS_LIST, all_seed_rows
    from training_portal.status_list import MIN_BITS

    now = datetime.now(UTC)
    for seed in all_seed_rows(now):
        op.bulk_insert(course, [_only(course, seed.course)])
        op.bulk_insert(version, [_only(version, seed.version)])
        op.bulk_insert(module, [_only(module, m) for m in seed.modules])
    op.bulk_insert(
        status_list,
        [{"id": FIRST_STATUS_LIST, "purpose": "revocation", "size": MIN_BITS, "created_at": now}],
    )


def downgrade() -> None:
    from training_portal.seeding import FIRST_STATUS_LIST, all_seed_rows

    seeds = all_seed_rows(datetime.now(UTC))
    op.execute(module.delete().where(module.c.version_id.in_([s.version["id"] for s in seeds])))
    op.execute(version.delete().where(version.c.id.in_([s.version["id"] for s in seeds])))
    op.execute(course.delete().where(course.c.id.in_([s.course["id"] for s in seeds])))
    op.execute(status_list.delete().where(status_list.c.id == FIRST_STATUS_LIST))
