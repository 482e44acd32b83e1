"""Shared parts of federated task contracts: indicators, weights, summaries, bundles, hashing."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

Comparison = Literal["<=", ">=", "<", ">"]
BUNDLE_FORMAT = "fedhub-model/1"


@dataclass(frozen=True)
class Indicator:
    """One evaluation indicator a task declares: a metric, a comparison and a threshold."""

    metric: str
    op: Comparison
    threshold: float
    description: str = ""

    def passed(self, value: float) -> bool:
        """Whether a measured value satisfies this indicator."""
        if not math.isfinite(value):
            return False
        return {
            "<=": value <= self.threshold,
            ">=": value >= self.threshold,
            "<": value < self.threshold,
            ">": value > self.threshold,
        }[self.op]


@dataclass(frozen=True)
class IndicatorResult:
    """The verdict on one indicator for one set of measured metrics."""

    metric: str
    op: Comparison
    threshold: float
    value: float | None
    passed: bool


def judge(metrics: Mapping[str, float], indicators: Iterable[Indicator]) -> list[IndicatorResult]:
    """Pass/fail per declared indicator; a missing metric fails."""
    out = []
    for ind in indicators:
        value = metrics.get(ind.metric)
        ok = value is not None and ind.passed(float(value))
        out.append(
            IndicatorResult(
                ind.metric, ind.op, ind.threshold, None if value is None else float(value), ok
            )
        )
    return out


def get_weights(model: nn.Module) -> list[np.ndarray]:
    """The model's state as a list of numpy arrays (state_dict order)."""
    return [t.detach().cpu().numpy().copy() for t in model.state_dict().values()]


def set_weights(model: nn.Module, weights: Sequence[np.ndarray]) -> None:
    """Load a list of numpy arrays (state_dict order) into the model."""
    keys = list(model.state_dict().keys())
    if len(keys) != len(weights):
        raise ValueError(f"expected {len(keys)} arrays, got {len(weights)}")
    state = {
        k: torch.from_numpy(np.ascontiguousarray(w)) for k, w in zip(keys, weights, strict=True)
    }
    model.load_state_dict(state, strict=True)


def proximal_term(model: nn.Module, anchor: Sequence[torch.Tensor]) -> torch.Tensor:
    """FedProx penalty ||w - w_global||^2 over the trainable parameters."""
    total = torch.zeros(())
    for p, a in zip(model.parameters(), anchor, strict=True):
        total = total + (p - a).pow(2).sum()
    return total


def cosine_lr(base_lr: float, server_round: int, num_rounds: int, floor: float = 0.02) -> float:
    """Learning rate for a federated round on a cosine schedule across rounds (1-based)."""
    if num_rounds <= 1:
        return base_lr
    frac = (max(server_round, 1) - 1) / (num_rounds - 1)
    return base_lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * frac)))


@dataclass
class FeatureStats:
    """Per-feature count, sum, sum of squares, min and max: summaries that merge exactly."""

    n: int
    sum: np.ndarray
    sumsq: np.ndarray
    min: np.ndarray
    max: np.ndarray

    @classmethod
    def from_array(cls, x: np.ndarray) -> FeatureStats:
        """Summaries of a (rows, features) array."""
        x64 = np.asarray(x, dtype=np.float64)
        if x64.ndim != 2 or x64.shape[0] == 0:
            raise ValueError("need a non-empty 2-D array")
        return cls(
            n=int(x64.shape[0]),
            sum=x64.sum(0),
            sumsq=(x64**2).sum(0),
            min=x64.min(0),
            max=x64.max(0),
        )

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Combine two sites' summaries (exact: same as summarizing the pooled rows)."""
        return FeatureStats(
            n=self.n + other.n,
            sum=self.sum + other.sum,
            sumsq=self.sumsq + other.sumsq,
            min=np.minimum(self.min, other.min),
            max=np.maximum(self.max, other.max),
        )

    @property
    def mean(self) -> np.ndarray:
        """Per-feature mean."""
        return self.sum / self.n

    @property
    def std(self) -> np.ndarray:
        """Per-feature population standard deviation."""
        var = np.maximum(self.sumsq / self.n - self.mean**2, 0.0)
        return np.sqrt(var)

    def to_record(self) -> dict[str, int | list[float]]:
        """Plain numbers and lists (fits a Flower MetricRecord)."""
        return {
            "n": self.n,
            "sum": self.sum.tolist(),
            "sumsq": self.sumsq.tolist(),
            "min": self.min.tolist(),
            "max": self.max.tolist(),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> FeatureStats:
        """Inverse of `to_record`."""
        return cls(
            n=int(rec["n"]),
            sum=np.asarray(rec["sum"], dtype=np.float64),
            sumsq=np.asarray(rec["sumsq"], dtype=np.float64),
            min=np.asarray(rec["min"], dtype=np.float64),
            max=np.asarray(rec["max"], dtype=np.float64),
        )


def merge_stats(stats: Iterable[FeatureStats]) -> FeatureStats:
    """Merge the summaries of several sites."""
    it = iter(stats)
    total = next(it)
    for s in it:
        total = total.merge(s)
    return total


def code_hash(*module_names: str) -> str:
    """sha256 over the source of the given modules: identifies the exact task code."""
    h = hashlib.sha256()
    for name in sorted(module_names):
        src = inspect.getsource(importlib.import_module(name))
        h.update(name.encode() + b"\0" + src.encode() + b"\0")
    return "sha256:" + h.hexdigest()


@dataclass
class ModelBundle:
    """A trained model as the registry stores it: weights plus everything needed to use it."""

    task: str
    task_version: str
    code_hash: str
    spec: dict[str, Any]
    weights: list[np.ndarray]
    metrics: dict[str, float] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """Serialize to an .npz container (no pickle) with a JSON header."""
        header = {
            "format": BUNDLE_FORMAT,
            "task": self.task,
            "task_version": self.task_version,
            "code_hash": self.code_hash,
            "spec": self.spec,
            "metrics": self.metrics,
            "num_arrays": len(self.weights),
        }
        arrays = {f"w{i:04d}": np.asarray(w) for i, w in enumerate(self.weights)}
        arrays["header"] = np.frombuffer(
            json.dumps(header, sort_keys=True).encode(), dtype=np.uint8
        )
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelBundle:
        """Inverse of `to_bytes`; refuses anything that is not a fedhub model bundle."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            if header.get("format") != BUNDLE_FORMAT:
                raise ValueError(f"not a {BUNDLE_FORMAT} bundle")
            weights = [z[f"w{i:04d}"] for i in range(int(header["num_arrays"]))]
        return cls(
            task=header["task"],
            task_version=header["task_version"],
            code_hash=header["code_hash"],
            spec=header["spec"],
            weights=weights,
            metrics={k: float(v) for k, v in header["metrics"].items()},
        )

    @property
    def sha256(self) -> str:
        """Content hash of the serialized bundle (for the registry and signatures)."""
        return "sha256:" + hashlib.sha256(self.to_bytes()).hexdigest()


class FederatedTask(ABC):
    """The contract a federated task offers to the Flower apps (no flwr import here)."""

    name: str
    version: str
    site_kind: str
    indicators: tuple[Indicator, ...]
    shares_feature_stats: bool = False

    @abstractmethod
    def code_hash(self) -> str:
        """Hash of the code that defines features, model and training."""

    @abstractmethod
    def default_spec(self) -> dict[str, Any]:
        """The model/feature spec a run starts from (JSON-serializable)."""

    @abstractmethod
    def build_model(self, spec: Mapping[str, Any], seed: int = 0) -> nn.Module:
        """A freshly initialized model for the spec."""

    @abstractmethod
    def num_examples(self, data: Any) -> int:
        """How many training examples a site holds (the FedAvg weight)."""

    @abstractmethod
    def fit(
        self, model: nn.Module, data: Any, spec: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, float]:
        """Local training for one round; returns training metrics."""

    @abstractmethod
    def evaluate(self, model: nn.Module, data: Any, spec: Mapping[str, Any]) -> dict[str, float]:
        """Metrics of the model on a site's (or the central) evaluation data."""

    def feature_stats(self, data: Any) -> FeatureStats | None:
        """Shareable feature summaries for federated scaling (None: task scales locally)."""
        return None

    def apply_feature_stats(self, spec: Mapping[str, Any], stats: FeatureStats) -> dict[str, Any]:
        """The spec completed with scaling derived from merged site summaries."""
        return dict(spec)

    def central_test_data(self) -> Any | None:
        """Held-out data shipped with the code for central evaluation (None if none)."""
        return None

    def aggregate_metrics(
        self, parts: Sequence[tuple[Mapping[str, float], float]]
    ) -> dict[str, float]:
        """Combine per-site (metrics, weight) pairs; default: weighted mean per key."""
        total = sum(w for _, w in parts)
        keys = set.intersection(*(set(m) for m, _ in parts)) if parts else set()
        return {
            k: sum(float(m[k]) * w for m, w in parts) / total if total else float("nan")
            for k in sorted(keys)
        }

    def judge(self, metrics: Mapping[str, float]) -> list[IndicatorResult]:
        """Pass/fail per declared indicator."""
        return judge(metrics, self.indicators)

    def bundle(
        self, spec: Mapping[str, Any], weights: list[np.ndarray], metrics: Mapping[str, float]
    ) -> ModelBundle:
        """Package trained weights for the registry."""
        return ModelBundle(
            self.name, self.version, self.code_hash(), dict(spec), list(weights), dict(metrics)
        )

    def load_bundle(self, data: bytes) -> tuple[nn.Module, ModelBundle]:
        """Rebuild a model from registry bytes; refuses bundles from other tasks or code."""
        b = ModelBundle.from_bytes(data)
        if b.task != self.name:
            raise ValueError(f"bundle is for task {b.task!r}, not {self.name!r}")
        if b.code_hash != self.code_hash():
            raise ValueError("bundle was trained with different task code (code hash differs)")
        model = self.build_model(b.spec)
        set_weights(model, b.weights)
        model.eval()
        return model, b
