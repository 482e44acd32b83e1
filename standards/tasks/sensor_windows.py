"""Sensor readings as arrays: per-equipment normalization and sliding-window features."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SENSORS = (
    "temperature",
    "relative_humidity",
    "differential_pressure",
    "dispensing_accuracy",
    "vibration",
)
_LOG_FLOOR = -4.0


@dataclass
class SensorSeries:
    """One site's equipment on a common clock: values (equipment, time, 5), NaN = missing."""

    values: np.ndarray
    hours: np.ndarray  # local hour of day per time step
    fault: np.ndarray | None = None  # int (equipment, time), 0 = normal; ground truth if known
    equipment_ids: tuple[str, ...] = ()
    interval_s: int = 300

    def slice(self, start: int, stop: int) -> SensorSeries:
        """Time steps [start, stop)."""
        f = None if self.fault is None else self.fault[:, start:stop]
        return SensorSeries(
            self.values[:, start:stop],
            self.hours[start:stop],
            f,
            self.equipment_ids,
            self.interval_s,
        )

    @property
    def steps(self) -> int:
        """Number of time steps."""
        return int(self.values.shape[1])


def forward_fill(values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Forward-fill NaNs along time per equipment/sensor; leading gaps take `fallback`."""
    v = values.astype(np.float64, copy=True)
    e_idx, _, s_idx = np.nonzero(np.isnan(v[:, :1, :]))
    v[e_idx, 0, s_idx] = fallback[e_idx, s_idx]
    mask = np.isnan(v)
    if mask.any():
        t = np.arange(v.shape[1])[None, :, None]
        last = np.maximum.accumulate(np.where(mask, 0, t), axis=1)
        v = np.take_along_axis(v, last, axis=1)
    return v


@dataclass
class Normalizer:
    """Per-equipment sensor statistics; computed and kept at the site (never shared)."""

    mean: np.ndarray  # (equipment, 5)
    std: np.ndarray
    diff_std: np.ndarray  # typical reading-to-reading change, in standardized units

    @classmethod
    def fit(cls, series: SensorSeries) -> Normalizer:
        """Statistics from a site's readings (labelled fault periods excluded)."""
        v = series.values.astype(np.float64)
        if series.fault is not None:
            v = np.where(series.fault[:, :, None] > 0, np.nan, v)
        mean = np.nan_to_num(np.nanmean(v, axis=1))
        std = np.maximum(np.nan_to_num(np.nanstd(v, axis=1)), 1e-6)
        z = (forward_fill(series.values, mean) - mean[:, None, :]) / std[:, None, :]
        diff_std = np.maximum(np.diff(z, axis=1).std(axis=1), 1e-3)
        return cls(mean, std, diff_std)

    def to_dict(self) -> dict[str, list[list[float]]]:
        """JSON-friendly form (for the site's own store)."""
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "diff_std": self.diff_std.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Normalizer:
        """Inverse of `to_dict`."""
        return cls(np.asarray(d["mean"]), np.asarray(d["std"]), np.asarray(d["diff_std"]))


def window_features(
    z: np.ndarray, hours: np.ndarray | float, diff_std: np.ndarray, clip: float
) -> np.ndarray:
    """Window features from standardized readings z (..., W, 5), hour at window end (...)
    and the typical reading-to-reading change (..., 5).

    Layout: shape (W x 5, deviation from the window mean in units of typical change), level
    (5, window mean), log spread (5, change relative to typical: stuck sensors go very
    negative), then sin/cos of the hour of day (conditioning only, not reconstructed).
    """
    level = z.mean(axis=-2)
    shape = np.clip((z - level[..., None, :]) / diff_std[..., None, :], -clip, clip)
    spread = np.diff(z, axis=-2).std(axis=-2) / diff_std
    log_spread = np.clip(np.log(np.maximum(spread, 1e-6)), _LOG_FLOOR, -_LOG_FLOOR)
    ang = 2 * np.pi * np.asarray(hours) / 24.0
    flat = shape.reshape(*shape.shape[:-2], -1)
    return np.concatenate(
        [
            flat,
            np.clip(level, -clip, clip),
            log_spread,
            np.sin(ang)[..., None],
            np.cos(ang)[..., None],
        ],
        axis=-1,
    ).astype(np.float32)


def sensor_errors(errors: np.ndarray, window: int) -> np.ndarray:
    """Sum per-feature errors (..., d_out) into per-sensor errors (..., 5)."""
    n = len(SENSORS)
    shape = errors[..., : window * n].reshape(*errors.shape[:-1], window, n).sum(-2)
    return np.asarray(
        shape + errors[..., window * n : window * n + n] + errors[..., window * n + n :]
    )


def make_windows(
    series: SensorSeries, norm: Normalizer, window: int, clip: float = 8.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All windows ending at t >= window-1: (features, equipment index, end time index)."""
    n_eq, steps, _ = series.values.shape
    if steps < window:
        return np.zeros((0, feature_dim(window)), np.float32), np.zeros(0, int), np.zeros(0, int)
    z = (forward_fill(series.values, norm.mean) - norm.mean[:, None, :]) / norm.std[:, None, :]
    wins = sliding_window_view(z, window, axis=1).transpose(0, 1, 3, 2)  # (E, N, W, 5)
    ends = np.arange(window - 1, steps)
    feats = window_features(
        wins, np.broadcast_to(series.hours[ends], wins.shape[:2]), norm.diff_std[:, None, :], clip
    )
    eq = np.repeat(np.arange(n_eq), len(ends))
    return feats.reshape(-1, feats.shape[-1]), eq, np.tile(ends, n_eq)


def feature_dim(window: int) -> int:
    """Input width for a window length."""
    return window * len(SENSORS) + 2 * len(SENSORS) + 2


def series_from_readings(
    readings: Iterable[Mapping[str, Any]],
    interval_s: int = 300,
    labels: Sequence[Mapping[str, Any]] = (),
) -> SensorSeries:
    """`sensor-reading/1.0.0` instances (plus optional fault labels) to a SensorSeries."""
    rows = [
        (datetime.fromisoformat(r["timestamp"]), r["equipment"]["equipment"], r) for r in readings
    ]
    if not rows:
        raise ValueError("no readings")
    t0 = min(ts for ts, _, _ in rows)
    ids = tuple(sorted({e for _, e, _ in rows}))
    steps = int(max((ts - t0).total_seconds() for ts, _, _ in rows) // interval_s) + 1
    values = np.full((len(ids), steps, len(SENSORS)), np.nan, dtype=np.float32)
    hours = np.zeros(steps, dtype=np.float32)
    for ts, e, r in rows:
        t = int((ts - t0).total_seconds() // interval_s)
        hours[t] = ts.hour + ts.minute / 60
        for k, name in enumerate(SENSORS):
            m = r["measurements"].get(name)
            if m is not None:
                values[ids.index(e), t, k] = float(m["value"])
    fault = np.zeros((len(ids), steps), dtype=np.int8)
    for lab in labels:
        fault[ids.index(lab["equipment"]), int(lab["start_index"]) : int(lab["end_index"])] = 1
    return SensorSeries(values, hours, fault if labels else None, ids, interval_s)
