"""Molecular screening engine: inputs, standardization, properties, alerts, ranking, back-ends.

Import-light on purpose: RDKit and friends load only when a name below is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ScreenInputError": "hub.screening.inputs",
    "InputRecord": "hub.screening.inputs",
    "iter_records": "hub.screening.inputs",
    "count_records": "hub.screening.inputs",
    "ScreenConfig": "hub.screening.pipeline",
    "ScreeningEngine": "hub.screening.pipeline",
    "screen": "hub.screening.pipeline",
    "RankingWeights": "hub.screening.ranking",
    "PredictionGoal": "hub.screening.ranking",
    "Predictor": "hub.screening.predictors",
    "CallablePredictor": "hub.screening.predictors",
    "TanimotoDomain": "hub.screening.predictors",
    "RangeDomain": "hub.screening.predictors",
    "ScreeningBackend": "hub.screening.backends",
    "ScreeningCancelled": "hub.screening.backends",
    "get_backend": "hub.screening.backends",
    "default_backend": "hub.screening.backends",
    "depict_result": "hub.screening.depict",
    "depict_svg": "hub.screening.depict",
    "iter_csv": "hub.screening.export",
    "iter_sdf": "hub.screening.export",
    "write_csv": "hub.screening.export",
    "write_sdf": "hub.screening.export",
    "write_failures_csv": "hub.screening.export",
    "RecordFailure": "hub.screening.results",
    "MoleculeResult": "hub.screening.results",
    "ScreenResult": "hub.screening.results",
    "ScreenSummary": "hub.screening.results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hub.screening' has no attribute {name!r}")
