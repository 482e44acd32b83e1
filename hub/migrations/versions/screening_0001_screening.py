"""screening: screens, result rows per unique molecule, merged inputs, input errors

Revision ID: screening_0001
Revises: 0001
Create Date: 2026-11-22 06:54:55.109491
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hub.db

revision: str = "screening_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("screening",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "screen",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("organization_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("created_by_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("input_format", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("input_filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("input_sha256", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("unique_count", sa.Integer(), nullable=False),
        sa.Column("eta_seconds", sa.Float(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("created_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("screen", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screen_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_screen_status"), ["status"], unique=False)

    op.create_table(
        "screen_error",
        sa.Column("screen_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("row", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("input_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("structure", sa.Text(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["screen_id"],
            ["screen.id"],
        ),
        sa.PrimaryKeyConstraint("screen_id", "row"),
    )
    op.create_table(
        "screen_input",
        sa.Column("screen_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("row", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("input_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("molecule_idx", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["screen_id"],
            ["screen.id"],
        ),
        sa.PrimaryKeyConstraint("screen_id", "row"),
    )
    with op.batch_alter_table("screen_input", schema=None) as batch_op:
        batch_op.create_index(
            "ix_screen_input_molecule", ["screen_id", "molecule_idx"], unique=False
        )

    op.create_table(
        "screen_molecule",
        sa.Column("screen_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("input_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("n_inputs", sa.Integer(), nullable=False),
        sa.Column("smiles", sa.Text(), nullable=False),
        sa.Column("input_smiles", sa.Text(), nullable=False),
        sa.Column("inchikey", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("rank_reason", sa.Text(), nullable=True),
        sa.Column("mw", sa.Float(), nullable=False),
        sa.Column("clogp", sa.Float(), nullable=False),
        sa.Column("tpsa", sa.Float(), nullable=False),
        sa.Column("hbd", sa.Integer(), nullable=False),
        sa.Column("hba", sa.Integer(), nullable=False),
        sa.Column("rotatable_bonds", sa.Integer(), nullable=False),
        sa.Column("aromatic_rings", sa.Integer(), nullable=False),
        sa.Column("heavy_atoms", sa.Integer(), nullable=False),
        sa.Column("fsp3", sa.Float(), nullable=False),
        sa.Column("qed", sa.Float(), nullable=False),
        sa.Column("sa_score", sa.Float(), nullable=False),
        sa.Column("passes_lipinski", sa.Boolean(), nullable=False),
        sa.Column("passes_veber", sa.Boolean(), nullable=False),
        sa.Column("violations", sa.JSON(), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("predictions", sa.JSON(), nullable=False),
        sa.Column("out_of_domain", sa.Integer(), nullable=False),
        sa.Column("priority_terms", sa.JSON(), nullable=False),
        sa.Column("standardization", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["screen_id"],
            ["screen.id"],
        ),
        sa.PrimaryKeyConstraint("screen_id", "idx"),
    )
    with op.batch_alter_table("screen_molecule", schema=None) as batch_op:
        batch_op.create_index(
            "ix_screen_molecule_priority", ["screen_id", "priority"], unique=False
        )
        batch_op.create_index("ix_screen_molecule_rank", ["screen_id", "rank"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("screen_molecule", schema=None) as batch_op:
        batch_op.drop_index("ix_screen_molecule_rank")
        batch_op.drop_index("ix_screen_molecule_priority")

    op.drop_table("screen_molecule")
    with op.batch_alter_table("screen_input", schema=None) as batch_op:
        batch_op.drop_index("ix_screen_input_molecule")

    op.drop_table("screen_input")
    op.drop_table("screen_error")
    with op.batch_alter_table("screen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screen_status"))
        batch_op.drop_index(batch_op.f("ix_screen_organization_id"))

    op.drop_table("screen")
