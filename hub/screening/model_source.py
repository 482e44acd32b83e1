"""Where screen predictions come from: PRODUCTION `molecular-property` models in the registry.

`production_predictors(session)` returns one engine `Predictor` per production model of the
`molecular-property` task. The registry is imported lazily; without it (or without a
production model) the list is empty and screens simply carry no predictions. Each predictor
marks molecules outside the model's applicability domain (the descriptor box merged from the
sites' statistics, `standards.tasks.molecular_property.applicability_domain`) as
`in_domain=False`, which the ranking shrinks toward neutral instead of trusting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rdkit import Chem
from sqlmodel import Session

from hub.screening.predictors import Predictor

log = logging.getLogger("fedhub.screening")
TASK = "molecular-property"


class RegistryPredictor:
    """A registry model bundle as an engine predictor (picklable: ships bytes, rebuilds lazily)."""

    def __init__(self, name: str, property: str, bundle: bytes, meta: dict[str, Any]) -> None:
        self.name = name
        self.property = property
        self.bundle = bundle
        self.meta = meta
        self._model: Any = None
        self._spec: dict[str, Any] | None = None
        self._last: tuple[int, int, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "property": self.property, "bundle": self.bundle,
                "meta": self.meta, "_model": None, "_spec": None, "_last": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _load(self) -> tuple[Any, dict[str, Any]]:
        if self._model is None:
            import torch

            from standards.tasks.molecular_property import model_from_bytes

            torch.set_num_threads(1)  # one worker per core already
            self._model, bundle = model_from_bytes(self.bundle)
            self._spec = dict(bundle.spec)
        assert self._spec is not None
        return self._model, self._spec

    def _features(self, mols: Sequence[Chem.Mol]) -> Any:
        """Feature rows, kept for the `in_domain` call that follows `predict` on the same list."""
        if self._last is not None and self._last[0] == id(mols) and self._last[1] == len(mols):
            return self._last[2]
        from standards.tasks.molecular_features import FeatureSpec, featurize_mols

        _, spec = self._load()
        x = featurize_mols(list(mols), FeatureSpec.from_dict(spec["features"]))
        self._last = (id(mols), len(mols), x)
        return x

    def predict(self, mols: Sequence[Chem.Mol]) -> list[float]:
        """Predicted values, one per molecule."""
        from standards.tasks.molecular_property import predict

        model, _ = self._load()
        return [float(v) for v in predict(model, self._features(mols))]

    def in_domain(self, mols: Sequence[Chem.Mol]) -> list[bool]:
        """Inside the model's applicability domain (all True when the model carries none)."""
        from standards.tasks.molecular_property import applicability_domain

        _, spec = self._load()
        x = self._features(mols)
        self._last = None
        if not spec.get("domain"):
            return [True] * len(mols)
        inside, _ = applicability_domain(x, spec)
        return [bool(v) for v in inside]


def production_predictors(session: Session) -> list[Predictor]:
    """One predictor per PRODUCTION `molecular-property` model (empty without a registry)."""
    try:
        from hub.registry import service as registry
    except ImportError:  # registry not installed in this build
        return []
    out: list[Predictor] = []
    for model in registry.production_models(session, TASK):
        try:
            data = registry.load_artifact(session, model)
            pred = RegistryPredictor(
                name=f"{TASK}-v{model.version}", property="log_s", bundle=data,
                meta={"model_id": model.id, "task": model.task, "version": model.version,
                      "artifact_sha256": model.artifact_sha256})
            pred._load()  # refuse bundles this code cannot run before a screen relies on them
        except Exception as exc:  # a model that cannot be loaded is skipped, not fatal
            log.warning("production model %s v%s not usable for screening: %s",
                        model.task, model.version, exc)
            continue
        out.append(pred)
    return out


def describe(predictors: Sequence[Predictor]) -> list[dict[str, Any]]:
    """What a screen records about the models it used."""
    return [{"name": p.name, "property": p.property, **dict(getattr(p, "meta", {}))}
            for p in predictors]
