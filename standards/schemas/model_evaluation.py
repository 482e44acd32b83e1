"""`model-evaluation-indicators/1.0.0`: the metrics and thresholds a federated model must meet."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Self

from pydantic import Field, model_validator

from standards.base import StandardModel, fail_fields
from standards.common import Fraction, Identifier, SemVer, ShortText, Text

Direction = Literal["higher_is_better", "lower_is_better"]
Split = Literal["train", "validation", "test", "site_local", "holdout"]


class Indicator(StandardModel):
    """One metric requirement, e.g. `rmse` lower-is-better ≤ 0.70 on the test split."""

    metric: Identifier = Field(description="metric name, e.g. rmse, r2, roc_auc, recall")
    direction: Direction
    threshold: float
    split: Split = "test"
    operating_point: Fraction | None = Field(
        default=None, description="decision threshold for precision/recall-style metrics"
    )
    description: Text | None = None

    def key(self) -> str:
        """Lookup key in a measured-metrics dict: `metric` or `metric@split`."""
        return f"{self.metric}@{self.split}"


class ModelEvaluationIndicators(StandardModel):
    """Model evaluation indicators 1.0.0

    Per federated task, the metrics a model must meet before promotion: name, direction,
    threshold and data split (e.g. RMSE/R² for regression, ROC-AUC and precision/recall at an
    operating point for classification, false-reject rate for visual QC).
    """

    task: Identifier
    task_version: SemVer = "1.0.0"
    problem_type: Literal["regression", "classification", "anomaly_detection", "visual_qc"]
    title: ShortText | None = None
    indicators: list[Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for i, ind in enumerate(self.indicators):
            if ind.key() in seen:
                problems.append((("indicators", i, "metric"), f"duplicate indicator {ind.key()}"))
            seen.add(ind.key())
        fail_fields(self, problems)
        return self


@dataclass(frozen=True)
class MetricJudgement:
    """Pass/fail of one indicator against a measured value."""

    metric: str
    split: str
    direction: Direction
    threshold: float
    measured: float | None
    passed: bool
    reason: str


def judge(
    indicators: ModelEvaluationIndicators | Mapping[str, object],
    measured: Mapping[str, float],
) -> list[MetricJudgement]:
    """Judge measured metrics (`{"rmse": 0.6}` or `{"rmse@test": 0.6}`) against each indicator."""
    spec = (
        indicators
        if isinstance(indicators, ModelEvaluationIndicators)
        else ModelEvaluationIndicators.model_validate(indicators)
    )
    out: list[MetricJudgement] = []
    for ind in spec.indicators:
        raw = measured.get(ind.key(), measured.get(ind.metric))
        value = float(raw) if raw is not None else None
        if value is None or math.isnan(value):
            passed, reason = False, "not measured"
        elif ind.direction == "higher_is_better":
            passed = value >= ind.threshold
            reason = f"{value:.4g} {'≥' if passed else '<'} {ind.threshold:g}"
        else:
            passed = value <= ind.threshold
            reason = f"{value:.4g} {'≤' if passed else '>'} {ind.threshold:g}"
        out.append(
            MetricJudgement(
                ind.metric, ind.split, ind.direction, ind.threshold, value, passed, reason
            )
        )
    return out


def all_passed(judgements: list[MetricJudgement]) -> bool:
    """True when every indicator passed (and there was at least one)."""
    return bool(judgements) and all(j.passed for j in judgements)
