"""Federation tables: federated runs and the per-round, per-site metrics they report."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow


class RunStatus(StrEnum):
    pending_approval = "pending_approval"
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = frozenset({RunStatus.completed, RunStatus.failed, RunStatus.cancelled})


class FederatedRun(SQLModel, table=True):
    """A federated training run: what to train, with whom, how, and what came of it."""

    __tablename__ = "federation_run"
    __audit_entity__ = "federated_run"
    __audit_ignore__ = frozenset({"current_round"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    task: str = Field(max_length=64, index=True)
    engine: str = Field(default="simulation", max_length=20)
    strategy: str = Field(default="fedavg", max_length=20)
    proximal_mu: float = 0.0
    num_rounds: int
    min_sites: int
    round_timeout_s: float
    dp_noise_multiplier: float = 0.0
    dp_clipping_norm: float = 0.0
    site_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    organization_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    train: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: RunStatus = Field(default=RunStatus.pending_approval, sa_type=sa.String(20),
                              index=True)
    status_reason: str | None = Field(default=None, max_length=4000)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    approved_by: str | None = Field(default=None, max_length=36)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    current_round: int = 0
    excluded: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    code_hash: str | None = Field(default=None, max_length=80)
    final_metrics: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    indicators: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    model_version_id: str | None = Field(default=None, max_length=36)


class RunRoundMetric(SQLModel, table=True):
    """One progress record of a run, in arrival order (`n`): a site's metrics in a round,
    an aggregate, a central evaluation, or a site joining, being refused or dropped."""

    __tablename__ = "run_round_metric"
    __table_args__ = (sa.UniqueConstraint("run_id", "n", name="uq_run_round_metric_n"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    run_id: str = Field(foreign_key="federation_run.id", index=True, max_length=36)
    n: int
    round: int = 0
    kind: str = Field(max_length=20)  # train|evaluate|train_aggregate|evaluate_aggregate|
    #                                   central|joined|refused|dropped|started|completed|failed
    site_id: str | None = Field(default=None, max_length=36)  # hub site id when known
    site_label: str | None = Field(default=None, max_length=200)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    detail: str | None = Field(default=None, max_length=4000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
