"""API shapes for federated runs, approvals and live progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.audit.signatures import Meaning
from hub.federation.models import RunStatus

Number = float | int


class Privacy(BaseModel):
    """Privacy options: client-side DP (clipping at the site + noise at the hub), SecAgg."""

    model_config = ConfigDict(extra="forbid")
    dp_clipping_norm: float = Field(default=0.0, ge=0.0, le=1e6,
                                    description="client-side L2 clipping norm; 0 = no DP")
    dp_noise_multiplier: float = Field(default=0.0, ge=0.0, le=100.0,
                                       description="Gaussian noise multiplier (with clipping)")
    secure_aggregation: bool = Field(
        default=False, description="SecAgg+; refused: not available with Flower 1.41's "
        "Message API strategies (see docs/federation.md)")


class RunCreate(BaseModel):
    """A federated run request; it waits for a QA e-signature before it starts."""

    model_config = ConfigDict(extra="forbid")
    task: str = Field(min_length=1, max_length=64, description="e.g. molecular-property")
    site_ids: list[str] | None = Field(
        default=None, max_length=200,
        description="participating sites (default: every active site offering the task)")
    rounds: int = Field(default=5, ge=1, le=500)
    strategy: Literal["fedavg", "fedprox"] = "fedavg"
    proximal_mu: float = Field(default=0.0, ge=0.0, le=100.0, description="FedProx mu")
    min_sites: int = Field(default=2, ge=1, le=200)
    round_timeout_s: float = Field(default=600.0, gt=0, le=86400.0)
    privacy: Privacy = Field(default_factory=Privacy)
    train: dict[str, Number] = Field(
        default_factory=dict, description="epochs, lr, weight-decay, batch-size")
    data: dict[str, Number | str] = Field(
        default_factory=dict, description="holdout-fraction, data-seed, plant-days, …")

    @model_validator(mode="after")
    def _fedprox_mu(self) -> RunCreate:
        if self.strategy == "fedprox" and self.proximal_mu <= 0:
            raise ValueError("FedProx needs proximal_mu > 0")
        return self


class Approval(BaseModel):
    """An electronic signature: the signer's password again, the meaning and a comment."""

    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=200)
    meaning: Meaning = Meaning.approved
    comment: str | None = Field(default=None, max_length=2000)


class RunPublic(BaseModel):
    """A federated run as the API shows it."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    task: str
    engine: str
    strategy: str
    proximal_mu: float
    num_rounds: int
    min_sites: int
    round_timeout_s: float
    dp_noise_multiplier: float
    dp_clipping_norm: float
    site_ids: list[str]
    train: dict[str, Any]
    data: dict[str, Any]
    status: RunStatus
    status_reason: str | None
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    current_round: int
    excluded: list[dict[str, Any]]
    code_hash: str | None
    final_metrics: dict[str, Any]
    indicators: list[dict[str, Any]]
    model_version_id: str | None


class RoundMetricPublic(BaseModel):
    """One progress record (also one SSE event)."""

    model_config = ConfigDict(from_attributes=True)
    n: int
    round: int
    kind: str
    site_id: str | None
    site_label: str | None
    metrics: dict[str, Any]
    detail: str | None
    created_at: datetime


class SiteRound(BaseModel):
    """One site's training and evaluation metrics in one round."""

    site_id: str | None
    site_label: str
    train: dict[str, Any] = Field(default_factory=dict)
    evaluate: dict[str, Any] = Field(default_factory=dict)
    dropped: str | None = None


class RoundProgress(BaseModel):
    """Everything reported for one round."""

    round: int
    sites: list[SiteRound]
    train_aggregate: dict[str, Any] = Field(default_factory=dict)
    evaluate_aggregate: dict[str, Any] = Field(default_factory=dict)
    central: dict[str, Any] = Field(default_factory=dict)


class RunProgress(BaseModel):
    """Polling view of a run: status, per-round per-site metrics, joins and exclusions."""

    run_id: str
    status: RunStatus
    status_reason: str | None
    current_round: int
    num_rounds: int
    joined: list[str]
    excluded: list[dict[str, Any]]
    rounds: list[RoundProgress]
    last_n: int
