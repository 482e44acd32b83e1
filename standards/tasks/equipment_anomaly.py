"""Task `equipment-anomaly`: window autoencoder over plant sensor readings (torch)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from standards.tasks.anomaly_metrics import alarm_metrics
from standards.tasks.common import (
    FederatedTask,
    Indicator,
    ModelBundle,
    code_hash,
    cosine_lr,
    get_weights,
    proximal_term,
)
from standards.tasks.sensor_windows import (
    SENSORS,
    Normalizer,
    SensorSeries,
    feature_dim,
    forward_fill,
    make_windows,
    sensor_errors,
    series_from_readings,
    window_features,
)

TASK_NAME = "equipment-anomaly"
TASK_VERSION = "1.0.0"
INDICATORS = (
    Indicator("recall", ">=", 0.8, "share of labelled faults raising an alarm"),
    Indicator("precision", ">=", 0.8, "share of alarm episodes that match a labelled fault"),
)
DEFAULT_TRAIN = {"epochs": 2, "lr": 2e-3, "weight-decay": 1e-5, "batch-size": 128}


class WindowAutoencoder(nn.Module):
    """Reconstructs a window's sensor values and spreads (time-of-day features condition it)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__()
        self.window = int(spec["window"])
        d_in = feature_dim(self.window)
        self.d_out = d_in - 2
        layers: list[nn.Module] = []
        width = d_in
        for h in [*spec["hidden"], *reversed(spec["hidden"][:-1])]:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, self.d_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of the first d_out input features."""
        return torch.as_tensor(self.net(x))

    def errors(self, x: torch.Tensor) -> torch.Tensor:
        """Squared reconstruction error per output feature."""
        return (self(x) - x[..., : self.d_out]).pow(2)


def default_spec() -> dict[str, Any]:
    """Window length, architecture and alarm rule every plant shares."""
    return {"window": 12, "hidden": [64, 16], "clip": 8.0, "threshold_factor": 1.5, "quantile": 1.0}


def build_model(spec: Mapping[str, Any] | None = None, seed: int = 0) -> WindowAutoencoder:
    """A freshly initialized autoencoder (deterministic for a seed)."""
    torch.manual_seed(seed)
    return WindowAutoencoder(spec or default_spec())


def feature_errors(model: WindowAutoencoder, features: np.ndarray, batch: int = 8192) -> np.ndarray:
    """Squared reconstruction error per window and output feature."""
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(features), batch):
            out.append(model.errors(torch.from_numpy(features[i : i + batch])).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.d_out), np.float32)


def scores_from_errors(errors: np.ndarray, err_scale: np.ndarray, window: int) -> np.ndarray:
    """Score = worst sensor's mean error relative to the site's typical error (normal ~ 1)."""
    per_sensor = sensor_errors(errors / err_scale, window) / (window + 2)
    return np.asarray(per_sensor.max(axis=-1))


@dataclass
class Calibration:
    """Site-local alarm calibration: typical error per output feature and the threshold."""

    err_scale: np.ndarray
    threshold: float


def calibrate(model: WindowAutoencoder, val: np.ndarray, spec: Mapping[str, Any]) -> Calibration:
    """From a site's normal validation windows: error scale, then quantile x factor."""
    if not len(val):
        raise ValueError("no validation windows to calibrate the alarm threshold")
    err = feature_errors(model, val)
    scale = np.maximum(err.mean(axis=0), 1e-6)
    s = scores_from_errors(err, scale, model.window)
    thr = float(np.quantile(s, float(spec["quantile"])) * float(spec["threshold_factor"]))
    return Calibration(scale, thr)


def score(model: WindowAutoencoder, features: np.ndarray, calibration: Calibration) -> np.ndarray:
    """Anomaly score per window (alarm when above `calibration.threshold`)."""
    return scores_from_errors(feature_errors(model, features), calibration.err_scale, model.window)


@dataclass
class PlantData:
    """A plant's local data: normalizer and train / validation / test windows (+ truth)."""

    norm: Normalizer
    train: np.ndarray
    val: np.ndarray
    test: SensorSeries
    spec: dict[str, Any]

    @classmethod
    def from_series(
        cls,
        series: SensorSeries,
        spec: Mapping[str, Any] | None = None,
        train_frac: float = 0.55,
        val_frac: float = 0.15,
    ) -> PlantData:
        """Split in time; train/val keep only windows without labelled faults."""
        spec = dict(spec or default_spec())
        t1, t2 = int(series.steps * train_frac), int(series.steps * (train_frac + val_frac))
        tr, va = series.slice(0, t1), series.slice(t1, t2)
        norm = Normalizer.fit(tr)
        return cls(
            norm,
            _normal_windows(tr, norm, spec),
            _normal_windows(va, norm, spec),
            series.slice(t2, series.steps),
            spec,
        )


def _normal_windows(series: SensorSeries, norm: Normalizer, spec: Mapping[str, Any]) -> np.ndarray:
    w = int(spec["window"])
    feats, eq, ends = make_windows(series, norm, w, float(spec["clip"]))
    if series.fault is None or not len(feats):
        return feats
    bad = np.asarray(sliding_window_view(series.fault > 0, w, axis=1).any(-1))  # (E, N)
    return feats[~bad[eq, ends - (w - 1)]]


def train(
    model: WindowAutoencoder,
    x: np.ndarray,
    epochs: int,
    lr: float,
    proximal_mu: float = 0.0,
    weight_decay: float = 1e-5,
    batch_size: int = 128,
    lr_end: float | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Train in place on normal windows (MSE reconstruction); returns mean training loss."""
    xt = torch.from_numpy(np.asarray(x, np.float32))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = max(1, epochs * math.ceil(len(xt) / batch_size))
    ratio = (lr_end if lr_end is not None else lr) / lr
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: ratio ** (s / steps))
    anchor = [p.detach().clone() for p in model.parameters()] if proximal_mu > 0 else []
    gen = torch.Generator().manual_seed(seed)
    model.train()
    total, count = 0.0, 0
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), batch_size):
            xb = xt[perm[start : start + batch_size]]
            opt.zero_grad()
            loss = model.errors(xb).mean()
            total += float(loss.detach()) * len(xb)
            count += len(xb)
            if proximal_mu > 0:
                loss = loss + proximal_mu / 2 * proximal_term(model, anchor)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return {"train_loss": total / max(count, 1)}


def evaluate(model: WindowAutoencoder, data: PlantData) -> dict[str, float]:
    """Alarm quality on the test period: precision, recall, detection delay, false alarms."""
    w = int(data.spec["window"])
    cal = calibrate(model, data.val, data.spec)
    feats, eq, ends = make_windows(data.test, data.norm, w, float(data.spec["clip"]))
    alarms = np.zeros(data.test.values.shape[:2], dtype=bool)
    alarms[eq, ends] = score(model, feats, cal) > cal.threshold
    truth = data.test.fault if data.test.fault is not None else np.zeros_like(alarms, dtype=np.int8)
    out = alarm_metrics(alarms, truth, grace=w, interval_s=data.test.interval_s)
    val_loss = float(feature_errors(model, data.val).mean())
    return {**out, "val_loss": val_loss}


class EdgeScorer:
    """Numpy copy of a trained autoencoder plus a site's calibration, for per-reading scoring."""

    def __init__(
        self, model: WindowAutoencoder, spec: Mapping[str, Any], calibration: Calibration
    ) -> None:
        self.window, self.clip = int(spec["window"]), float(spec["clip"])
        self.layers = [
            (
                m.weight.detach().numpy().T.astype(np.float64),
                m.bias.detach().numpy().astype(np.float64),
            )
            for m in model.net
            if isinstance(m, nn.Linear)
        ]
        self.d_out = model.d_out
        self.err_scale = np.asarray(calibration.err_scale, np.float64)
        self.threshold = calibration.threshold

    def errors(self, features: np.ndarray) -> np.ndarray:
        """Squared reconstruction error per output feature for one feature vector."""
        h = features.astype(np.float64)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                np.maximum(h, 0.0, out=h)
        return np.asarray((h - features[: self.d_out]) ** 2)


def score_window(
    scorer: EdgeScorer, window: np.ndarray, norm: Normalizer, equipment: int = 0, hour: float = 12.0
) -> tuple[float, np.ndarray]:
    """Score the latest window (W, 5) of raw readings: (score, per-sensor score); alarm if
    score > scorer.threshold. NaNs (missing measurements) are forward-filled."""
    win = np.asarray(window, np.float64)
    if np.isnan(win).any():
        win = forward_fill(win[None], norm.mean[equipment][None])[0]
    z = (win - norm.mean[equipment]) / norm.std[equipment]
    feats = window_features(z, float(hour), norm.diff_std[equipment], scorer.clip)
    per_sensor = sensor_errors(scorer.errors(feats) / scorer.err_scale, scorer.window) / (
        scorer.window + 2
    )
    return float(per_sensor.max()), per_sensor


class EquipmentAnomalyTask(FederatedTask):
    """Contract of the `equipment-anomaly` task; scaling and thresholds stay local."""

    name = TASK_NAME
    version = TASK_VERSION
    site_kind = "plant"
    indicators = INDICATORS

    def code_hash(self) -> str:
        """Hash of the windowing, model and training code."""
        return code_hash(
            "standards.tasks.common",
            "standards.tasks.anomaly_metrics",
            "standards.tasks.sensor_windows",
            __name__,
        )

    def default_spec(self) -> dict[str, Any]:
        """Window, architecture and alarm rule."""
        return default_spec()

    def build_model(self, spec: Mapping[str, Any], seed: int = 0) -> nn.Module:
        """Fresh autoencoder."""
        return build_model(spec, seed)

    def num_examples(self, data: PlantData) -> int:
        """Normal training windows."""
        return len(data.train)

    def fit(
        self, model: nn.Module, data: PlantData, spec: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, float]:
        """One round of local training with a cosine lr across rounds."""
        assert isinstance(model, WindowAutoencoder)
        cfg = {**DEFAULT_TRAIN, **config}
        rnd, rounds = int(cfg.get("server-round", 1)), int(cfg.get("num-rounds", 1))
        lr = cosine_lr(float(cfg["lr"]), rnd, rounds)
        lr_end = cosine_lr(float(cfg["lr"]), rnd + 1, rounds) if rnd < rounds else lr * 0.02
        return train(
            model,
            data.train,
            int(cfg["epochs"]),
            lr,
            float(cfg.get("proximal-mu", 0.0)),
            float(cfg["weight-decay"]),
            int(cfg["batch-size"]),
            lr_end,
            int(cfg.get("seed", 0)) * 1000 + rnd,
        )

    def evaluate(
        self, model: nn.Module, data: PlantData, spec: Mapping[str, Any]
    ) -> dict[str, float]:
        """Alarm metrics on the plant's labelled test period."""
        assert isinstance(model, WindowAutoencoder)
        return evaluate(model, data)

    def aggregate_metrics(
        self, parts: Sequence[tuple[Mapping[str, float], float]]
    ) -> dict[str, float]:
        """Pool counts across plants, then recompute precision/recall/delay."""
        return pool_alarm_metrics([m for m, _ in parts])


def pool_alarm_metrics(parts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Exact pooled alarm metrics from per-plant counts."""
    keys = ("faults", "detected", "episodes", "true_episodes", "delay_sum", "days")
    tot = {k: float(sum(p.get(k, 0.0) for p in parts)) for k in keys}
    return {
        **tot,
        "recall": tot["detected"] / tot["faults"] if tot["faults"] else 1.0,
        "precision": tot["true_episodes"] / tot["episodes"] if tot["episodes"] else 1.0,
        "delay": tot["delay_sum"] / tot["detected"] if tot["detected"] else 0.0,
        "false_alarms_per_day": (tot["episodes"] - tot["true_episodes"]) / max(tot["days"], 1e-9),
    }


TASK = EquipmentAnomalyTask()


def model_to_bytes(
    model: WindowAutoencoder, spec: Mapping[str, Any], metrics: Mapping[str, float] | None = None
) -> bytes:
    """Serialize the shared autoencoder (local normalizers/thresholds are not included)."""
    return TASK.bundle(spec, get_weights(model), metrics or {}).to_bytes()


def model_from_bytes(data: bytes) -> tuple[WindowAutoencoder, ModelBundle]:
    """Rebuild the autoencoder from registry bytes."""
    model, bundle = TASK.load_bundle(data)
    assert isinstance(model, WindowAutoencoder)
    return model, bundle


__all__ = [
    "SENSORS",
    "TASK",
    "Calibration",
    "EdgeScorer",
    "EquipmentAnomalyTask",
    "Normalizer",
    "PlantData",
    "SensorSeries",
    "WindowAutoencoder",
    "build_model",
    "calibrate",
    "default_spec",
    "evaluate",
    "feature_dim",
    "feature_errors",
    "make_windows",
    "model_from_bytes",
    "model_to_bytes",
    "pool_alarm_metrics",
    "score",
    "score_window",
    "series_from_readings",
    "train",
    "window_features",
]
