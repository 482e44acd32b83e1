"""Plant sensor simulator: `sensor-reading/1.0.0` streams with ground-truth fault labels."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

MEASUREMENTS = (
    "temperature",
    "relative_humidity",
    "differential_pressure",
    "dispensing_accuracy",
    "vibration",
)
UNITS = {
    "temperature": "Cel",
    "relative_humidity": "%",
    "differential_pressure": "Pa",
    "dispensing_accuracy": "%",
    "vibration": "mm/s",
}
FAULT_KINDS = ("drift", "spike", "stuck", "degradation")
_AREAS = (
    ("dispensing", "dsp"),
    ("granulation", "fbd"),
    ("compression", "tab"),
    ("coating", "cot"),
    ("packaging", "blp"),
)
# typical level and short-term noise (AR(1) innovations) per measurement
_LEVEL = np.array([21.0, 45.0, 12.5, 99.7, 2.1])
_LEVEL_SPREAD = np.array([1.5, 6.0, 2.5, 0.1, 0.5])
_NOISE = np.array([0.12, 0.5, 0.25, 0.04, 0.06])
_AR = 0.7
_DEFAULT_START = datetime(2026, 11, 16, tzinfo=timezone(timedelta(hours=1)))


@dataclass(frozen=True)
class FaultSpec:
    """A fault to inject: kind, equipment index, first reading index, length, sensor, size."""

    kind: str
    equipment: int
    start: int
    duration: int
    sensor: str = "vibration"
    magnitude: float = 8.0  # in units of the sensor's stationary noise level


@dataclass(frozen=True)
class FaultLabel:
    """Ground truth kept beside the readings (never part of a sensor-reading)."""

    equipment: str
    kind: str
    sensor: str
    start_index: int
    end_index: int  # exclusive
    start: str
    end: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


@dataclass
class PlantArrays:
    """Array form for training: values (equipment, time, 5) with NaN for missing readings."""

    values: np.ndarray
    timestamps: list[datetime]
    hours: np.ndarray
    fault: np.ndarray  # int8 (equipment, time): 0 normal, 1 + index in FAULT_KINDS
    equipment: list[dict[str, str]]
    labels: list[FaultLabel] = field(default_factory=list)

    @property
    def equipment_ids(self) -> list[str]:
        """Equipment ids in array order."""
        return [e["equipment"] for e in self.equipment]


class Simulation:
    """A simulated plant run; iterating yields (reading, label-or-None) in time order."""

    def __init__(self, plant_id: str, arrays: PlantArrays, seed: int) -> None:
        self.plant_id = plant_id
        self.arrays = arrays
        self.seed = seed

    @property
    def labels(self) -> list[FaultLabel]:
        """Injected faults with their reading-index and time ranges."""
        return self.arrays.labels

    def __len__(self) -> int:
        v = self.arrays.values
        return int(v.shape[0] * v.shape[1])

    def readings(self) -> Iterator[dict[str, Any]]:
        """`sensor-reading/1.0.0` instances, time-major, equipment-minor."""
        for reading, _ in self:
            yield reading

    def __iter__(self) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        a = self.arrays
        rng = np.random.default_rng([self.seed, _stable(self.plant_id), 7])
        by_eq: dict[str, list[FaultLabel]] = {}
        for lab in a.labels:
            by_eq.setdefault(lab.equipment, []).append(lab)
        for t, ts in enumerate(a.timestamps):
            stamp = ts.isoformat()
            for e, eq in enumerate(a.equipment):
                ms = {
                    name: {"value": round(float(a.values[e, t, k]), 3), "unit": UNITS[name]}
                    for k, name in enumerate(MEASUREMENTS)
                    if not np.isnan(a.values[e, t, k])
                }
                rid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
                if not ms:
                    continue
                reading = {
                    "reading_id": rid,
                    "site_id": self.plant_id,
                    "equipment": dict(eq),
                    "timestamp": stamp,
                    "measurements": ms,
                }
                label = None
                if a.fault[e, t]:
                    label = next(
                        (
                            lb.to_dict()
                            for lb in by_eq.get(eq["equipment"], [])
                            if lb.start_index <= t < lb.end_index
                        ),
                        None,
                    )
                yield reading, label


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _equipment(enterprise: str, plant_id: str, count: int) -> list[dict[str, str]]:
    out = []
    for e in range(count):
        area, prefix = _AREAS[e % len(_AREAS)]
        out.append(
            {
                "enterprise": enterprise,
                "site": plant_id,
                "area": area,
                "unit": f"line-{1 + e // len(_AREAS)}",
                "equipment": f"{prefix}-{101 + e}",
            }
        )
    return out


def _ar1(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Stationary AR(1) noise with unit marginal variance along axis 1."""
    eps = rng.standard_normal(shape) * np.sqrt(1 - _AR**2)
    out = np.empty(shape)
    out[:, 0] = rng.standard_normal(shape[:1] + shape[2:])
    for t in range(1, shape[1]):
        out[:, t] = _AR * out[:, t - 1] + eps[:, t]
    return out


def _fault_plan(
    rng: np.random.Generator, n_eq: int, steps: int, count: int, interval_s: int
) -> list[FaultSpec]:
    """`count` non-overlapping faults spread over the run, cycling through the kinds."""
    per_hour = 3600 / interval_s
    lengths = {
        "drift": (12 * per_hour, 30 * per_hour),
        "spike": (1, 4),
        "stuck": (3 * per_hour, 12 * per_hour),
        "degradation": (36 * per_hour, 72 * per_hour),
    }
    busy = np.zeros((n_eq, steps), dtype=bool)
    plan: list[FaultSpec] = []
    for i in range(count * 20):
        if len(plan) == count:
            break
        kind = FAULT_KINDS[len(plan) % len(FAULT_KINDS)]
        lo, hi = lengths[kind]
        dur = int(rng.integers(max(1, int(lo)), max(2, int(hi)) + 1))
        if dur + 2 * per_hour >= steps:
            continue
        e = int(rng.integers(n_eq))
        start = int(rng.integers(int(per_hour * 2), steps - dur))
        guard = int(6 * per_hour)
        if busy[e, max(0, start - guard) : start + dur + guard].any() and i < count * 19:
            continue
        busy[e, start : start + dur] = True
        sensor = "vibration" if kind == "degradation" else MEASUREMENTS[int(rng.integers(5))]
        mag = {"drift": 8.0, "spike": 10.0, "stuck": 0.0, "degradation": 3.0}[kind]
        plan.append(FaultSpec(kind, e, start, dur, sensor, float(mag * rng.uniform(0.8, 1.3))))
    return plan


def _inject(values: np.ndarray, scale: np.ndarray, f: FaultSpec, rng: np.random.Generator) -> None:
    k = MEASUREMENTS.index(f.sensor)
    sl = slice(f.start, f.start + f.duration)
    seg = values[f.equipment, sl]
    ramp = np.linspace(0.0, 1.0, f.duration, endpoint=False) + 1.0 / f.duration
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if f.kind == "drift":
        seg[:, k] += sign * f.magnitude * scale[f.equipment, k] * ramp
    elif f.kind == "spike":
        seg[:, k] += sign * f.magnitude * scale[f.equipment, k] * rng.uniform(0.7, 1.0, f.duration)
    elif f.kind == "stuck":
        seg[:, k] = values[f.equipment, max(f.start - 1, 0), k]
    elif f.kind == "degradation":  # bearing wear: vibration grows, equipment runs warmer
        seg[:, 4] *= 1.0 + f.magnitude * ramp**2
        seg[:, 0] += 4.0 * scale[f.equipment, 0] * ramp**2
    else:
        raise ValueError(f"unknown fault kind {f.kind!r}")


def simulate(
    plant_id: str = "plant-basel",
    equipment_count: int = 4,
    start: datetime | None = None,
    duration: timedelta = timedelta(days=1),
    interval_s: int = 300,
    faults: int | Sequence[FaultSpec] = 4,
    seed: int = 0,
    enterprise: str = "acme-pharma",
    missing_rate: float = 0.0,
    n_readings: int | None = None,
    site_id: str | None = None,
) -> Simulation:
    """Simulate a plant: per-equipment baselines, daily cycles, AR(1) noise, injected faults.

    Deterministic for (plant_id, seed). `faults` is a count (placed at random, kinds in
    turn) or explicit `FaultSpec`s. `n_readings` (total readings) overrides `duration`;
    `site_id` is an alias of `plant_id`. Iterate the result for (reading, label) pairs or use
    `.arrays` for training.
    """
    plant_id = site_id or plant_id
    start = start or _DEFAULT_START
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if n_readings is not None:
        steps = max(1, -(-n_readings // equipment_count))
    else:
        steps = max(1, int(duration.total_seconds() // interval_s))
    rng = np.random.default_rng([seed, _stable(plant_id)])
    n_eq = equipment_count
    plant_level = _LEVEL + rng.normal(0, 0.5, 5) * _LEVEL_SPREAD
    level = plant_level + rng.normal(0, 0.5, (n_eq, 5)) * _LEVEL_SPREAD
    level[:, 3] = np.minimum(level[:, 3], 99.95)
    scale = _NOISE * rng.uniform(0.7, 1.3, (n_eq, 5))
    scale[:, 4] *= level[:, 4] / _LEVEL[4]
    stamps = [start + timedelta(seconds=interval_s * t) for t in range(steps)]
    hours = np.array([s.hour + s.minute / 60 + s.second / 3600 for s in stamps], dtype=np.float32)
    phase = 2 * np.pi * (hours - 9.0) / 24.0
    shift = 1.0 / (1.0 + np.exp(-3.0 * (hours - 6.0))) - 1.0 / (1.0 + np.exp(-3.0 * (hours - 22.0)))
    amp = rng.uniform(0.6, 1.4, (n_eq, 1))
    noise = _ar1(rng, (n_eq, steps, 5)) * scale[:, None, :]
    shared = _ar1(rng, (n_eq, steps))  # room air: temperature and humidity move together
    v = np.repeat(level[:, None, :], steps, axis=1)
    v[:, :, 0] += amp * 1.2 * np.sin(phase) + 0.5 * shared * scale[:, None, 0] * 2
    v[:, :, 1] += -amp * 4.0 * np.sin(phase) - 0.5 * shared * scale[:, None, 1] * 2
    v[:, :, 2] += 0.3 * np.sin(2 * phase)
    v[:, :, 4] *= 0.3 + 0.7 * shift
    v += noise
    plan = (
        list(faults)
        if not isinstance(faults, int)
        else _fault_plan(rng, n_eq, steps, faults, interval_s)
    )
    fault = np.zeros((n_eq, steps), dtype=np.int8)
    equipment = _equipment(enterprise, plant_id, n_eq)
    labels = []
    for f in plan:
        if not (0 <= f.equipment < n_eq and 0 <= f.start < steps and f.duration > 0):
            raise ValueError(f"fault outside the simulated range: {f}")
        f = FaultSpec(
            f.kind, f.equipment, f.start, min(f.duration, steps - f.start), f.sensor, f.magnitude
        )
        _inject(v, scale, f, rng)
        fault[f.equipment, f.start : f.start + f.duration] = 1 + FAULT_KINDS.index(f.kind)
        end = (
            stamps[f.start + f.duration]
            if f.start + f.duration < steps
            else stamps[-1] + timedelta(seconds=interval_s)
        )
        labels.append(
            FaultLabel(
                equipment[f.equipment]["equipment"],
                f.kind,
                f.sensor,
                f.start,
                f.start + f.duration,
                stamps[f.start].isoformat(),
                end.isoformat(),
            )
        )
    v[:, :, 3] = np.minimum(v[:, :, 3], 100.0)
    v[:, :, 1] = np.clip(v[:, :, 1], 0.0, 100.0)
    v[:, :, 4] = np.maximum(v[:, :, 4], 0.0)
    if missing_rate > 0:
        v[rng.random(v.shape) < missing_rate] = np.nan
    labels.sort(key=lambda lb: (lb.start_index, lb.equipment))
    arrays = PlantArrays(v.astype(np.float32), stamps, hours, fault, equipment, labels)
    return Simulation(plant_id, arrays, seed)
