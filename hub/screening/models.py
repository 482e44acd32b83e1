"""Screening tables: screens (audited), result rows per unique molecule, merged inputs, errors."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow


class ScreenStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = frozenset({ScreenStatus.completed, ScreenStatus.failed, ScreenStatus.cancelled})


class Screen(SQLModel, table=True):
    """One submitted screen: who, what input, options, status, progress and summary."""

    __tablename__ = "screen"
    __audit_entity__ = "screen"
    # progress counters and computed summaries change constantly; status changes are audited
    __audit_ignore__ = frozenset({"done", "failed_count", "unique_count", "updated_at",
                                  "summary", "eta_seconds"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    organization_id: str = Field(foreign_key="organization.id", max_length=36, index=True)
    created_by: str = Field(max_length=36)
    created_by_name: str = Field(max_length=200)
    name: str = Field(max_length=200)
    status: ScreenStatus = Field(default=ScreenStatus.queued, sa_type=sa.String(12), index=True)
    status_reason: str | None = Field(default=None, max_length=2000)
    input_format: str = Field(max_length=10)
    input_filename: str | None = Field(default=None, max_length=255)
    input_sha256: str = Field(max_length=80)
    options: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    models: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    total: int = 0
    done: int = 0
    failed_count: int = 0
    unique_count: int = 0
    eta_seconds: float | None = None
    summary: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ScreenMolecule(SQLModel, table=True):
    """Everything computed for one unique molecule of a screen (duplicates merged)."""

    __tablename__ = "screen_molecule"
    __table_args__ = (
        sa.Index("ix_screen_molecule_priority", "screen_id", "priority"),
        sa.Index("ix_screen_molecule_rank", "screen_id", "rank"),
    )

    screen_id: str = Field(foreign_key="screen.id", primary_key=True, max_length=36)
    idx: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={
        "autoincrement": False})
    row: int
    input_id: str = Field(max_length=200)
    n_inputs: int = 1
    smiles: str = Field(sa_type=sa.Text)
    input_smiles: str = Field(sa_type=sa.Text)
    inchikey: str = Field(max_length=40)
    priority: float
    rank: int | None = None
    rank_reason: str | None = Field(default=None, sa_type=sa.Text)
    mw: float
    clogp: float
    tpsa: float
    hbd: int
    hba: int
    rotatable_bonds: int
    aromatic_rings: int
    heavy_atoms: int
    fsp3: float
    qed: float
    sa_score: float
    passes_lipinski: bool
    passes_veber: bool
    violations: dict[str, list[str]] = Field(default_factory=dict, sa_type=sa.JSON)
    alert_count: int = 0
    alerts: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    predictions: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    out_of_domain: int = 0
    priority_terms: dict[str, float] = Field(default_factory=dict, sa_type=sa.JSON)
    standardization: list[str] = Field(default_factory=list, sa_type=sa.JSON)


class ScreenInput(SQLModel, table=True):
    """A further input record merged into an earlier molecule (its first record is on it)."""

    __tablename__ = "screen_input"
    __table_args__ = (sa.Index("ix_screen_input_molecule", "screen_id", "molecule_idx"),)

    screen_id: str = Field(foreign_key="screen.id", primary_key=True, max_length=36)
    row: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={
        "autoincrement": False})
    input_id: str = Field(max_length=200)
    molecule_idx: int


class ScreenError(SQLModel, table=True):
    """An input record that could not be screened, with its row and RDKit's reason."""

    __tablename__ = "screen_error"

    screen_id: str = Field(foreign_key="screen.id", primary_key=True, max_length=36)
    row: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={
        "autoincrement": False})
    input_id: str = Field(max_length=200)
    structure: str = Field(sa_type=sa.Text)
    stage: str = Field(max_length=20)
    reason: str = Field(sa_type=sa.Text)
