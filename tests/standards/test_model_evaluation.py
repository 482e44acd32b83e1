"""Model evaluation indicators: judging measured metrics against thresholds."""

from __future__ import annotations

import math

import pytest

from standards import registry
from standards.schemas.model_evaluation import ModelEvaluationIndicators, all_passed, judge


def _regression() -> ModelEvaluationIndicators:
    report = registry.get("model-evaluation-indicators", "1.0.0").validate(
        registry.get("model-evaluation-indicators", "1.0.0").examples()[0]
    )
    assert isinstance(report.value, ModelEvaluationIndicators)
    return report.value


def test_pass_and_fail_per_metric_respect_direction() -> None:
    result = judge(_regression(), {"rmse": 0.61, "r2": 0.78})
    by_metric = {j.metric: j for j in result}
    assert by_metric["rmse"].passed and by_metric["rmse"].measured == pytest.approx(0.61)
    assert not by_metric["r2"].passed
    assert "<" in by_metric["r2"].reason
    assert not all_passed(result)
    assert all_passed(judge(_regression(), {"rmse": 0.70, "r2": 0.80}))  # thresholds inclusive


def test_lower_is_better_fails_above_threshold() -> None:
    (rmse, _) = judge(_regression(), {"rmse": 0.71, "r2": 0.9})
    assert not rmse.passed and ">" in rmse.reason


def test_missing_or_nan_metric_fails() -> None:
    result = judge(_regression(), {"rmse": math.nan})
    assert [(j.metric, j.passed, j.reason) for j in result] == [
        ("rmse", False, "not measured"),
        ("r2", False, "not measured"),
    ]


def test_split_specific_keys_win() -> None:
    spec = {
        "task": "t",
        "problem_type": "classification",
        "indicators": [
            {"metric": "roc_auc", "direction": "higher_is_better", "threshold": 0.9},
            {
                "metric": "roc_auc",
                "direction": "higher_is_better",
                "threshold": 0.8,
                "split": "site_local",
            },
        ],
    }
    result = judge(spec, {"roc_auc@test": 0.92, "roc_auc@site_local": 0.75, "roc_auc": 0.99})
    assert [(j.split, j.passed) for j in result] == [("test", True), ("site_local", False)]


def test_invalid_indicator_spec_is_rejected() -> None:
    with pytest.raises(ValueError):
        judge({"task": "t", "problem_type": "regression", "indicators": []}, {})
    assert not all_passed([])
