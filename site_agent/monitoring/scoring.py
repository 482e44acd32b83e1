"""Edge anomaly scoring of production telemetry, behind a small ``Scorer`` interface.

The statistical baseline keeps, per equipment and measurement: a Holt level-and-trend
forecast whose residual z-score flags spikes, a run counter for stuck sensors, and a
two-sided CUSUM on the day-over-day change of a smoothed level for slow drift (plants run
daily cycles and shift patterns, so "normal" is what the same time of day looked like
yesterday). A federated model plugs in later as another ``Scorer`` (see :func:`make_scorer`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MEASUREMENTS = ("temperature", "relative_humidity", "differential_pressure",
                "dispensing_accuracy", "vibration")
DAY = 86400.0


@dataclass(slots=True)
class Observation:
    """One measured value of one reading."""

    key: str  # "<isa95 path>|<measurement>"
    asset: dict[str, str]
    measurement: str
    value: float
    unit: str
    reading_id: str
    timestamp: str
    epoch: float


@dataclass(slots=True)
class Finding:
    """What a detector concluded about one observation."""

    detector: str  # zscore | stuck | drift | model
    severity: str  # warning | critical
    score: float
    expected: float | None
    message: str


def observations(reading: dict[str, Any]) -> list[Observation]:
    """Split a sensor-reading into one observation per measured quantity."""
    eq = reading["equipment"]
    path = f"{eq['enterprise']}/{eq['site']}/{eq['area']}/{eq['unit']}/{eq['equipment']}"
    stamp = str(reading["timestamp"])
    epoch = datetime.fromisoformat(stamp).timestamp()
    rid = str(reading["reading_id"])
    return [Observation(f"{path}|{name}", eq, name, float(m["value"]), m["unit"], rid, stamp,
                        epoch)
            for name, m in reading["measurements"].items() if m is not None]


class Scorer(ABC):
    """Scores observations as they arrive; keeps whatever state it needs between them."""

    name: str = "scorer"
    version: str = "1"

    @abstractmethod
    def score(self, obs: Observation) -> list[Finding]:
        """Findings for this observation (empty when it looks normal)."""

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state, persisted with the monitoring cursor."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore what :meth:`state` returned."""


class _Series:
    """Per equipment/measurement state of the statistical scorer."""

    __slots__ = ("cneg", "cpos", "dn", "dvar", "last", "level", "n", "prev_t", "ring", "run",
                 "smooth", "step", "trend", "var")

    def __init__(self) -> None:
        self.n = self.run = self.dn = 0
        self.level = self.trend = self.var = self.smooth = self.dvar = 0.0
        self.cpos = self.cneg = self.prev_t = self.step = 0.0
        self.last: float | None = None
        self.ring: dict[str, list[float]] = {}  # time-of-day bin -> [smoothed level, epoch]

    def to_list(self) -> list[Any]:
        return [getattr(self, k) for k in self.__slots__]

    @classmethod
    def from_list(cls, values: list[Any]) -> _Series:
        s = cls()
        for k, v in zip(cls.__slots__, values, strict=True):
            setattr(s, k, v)
        return s


class StatisticalScorer(Scorer):
    """Holt-residual z-score spikes, stuck-sensor runs and seasonal CUSUM drift.

    ``warmup`` values seed the forecast before spikes are scored. Drift compares the smoothed
    level with the same time of day one day earlier (``seasonal=True``) or with the mean of
    the first ``baseline`` values (``seasonal=False``, for processes without daily cycles);
    ``drift_warmup`` such differences calibrate their spread before the CUSUM runs.
    """

    name = "statistical"

    def __init__(self, alpha: float = 0.3, beta: float = 0.05, alpha_var: float = 0.02,
                 alpha_smooth: float = 0.05, warmup: int = 30, z_warn: float = 5.0,
                 z_crit: float = 8.0, stuck_after: int = 20, seasonal: bool = True,
                 baseline: int = 200, drift_warmup: int = 72, drift_every: int = 0,
                 cusum_k: float = 0.5, cusum_h: float = 6.0, name: str | None = None) -> None:
        self.alpha, self.beta, self.alpha_var, self.alpha_smooth = alpha, beta, alpha_var, \
            alpha_smooth
        self.warmup, self.z_warn, self.z_crit, self.stuck_after = warmup, z_warn, z_crit, \
            stuck_after
        self.seasonal, self.baseline, self.drift_warmup = seasonal, baseline, drift_warmup
        self.k, self.h = cusum_k, cusum_h
        self.drift_every = drift_every or max(1, round(2 / alpha_smooth))
        if name:
            self.name = name
        self.series: dict[str, _Series] = {}

    @staticmethod
    def _spread(var: float, level: float) -> float:
        return max(math.sqrt(max(var, 0.0)), 1e-4 * abs(level), 1e-9)

    def score(self, obs: Observation) -> list[Finding]:
        s = self.series.get(obs.key)
        if s is None:
            s = self.series[obs.key] = _Series()
        x, t = obs.value, obs.epoch
        s.run = s.run + 1 if s.last is not None and x == s.last else 0
        s.last = x
        if t > s.prev_t > 0:
            s.step = t - s.prev_t if s.step <= 0 else min(s.step, t - s.prev_t)
        s.prev_t = t
        if s.n == 0:
            s.level, s.smooth, s.n = x, x, 1
            return []
        found: list[Finding] = []
        forecast = s.level + s.trend
        r = x - forecast
        z = r / self._spread(s.var, forecast)
        spike = s.n > self.warmup and abs(z) >= self.z_warn
        if spike:
            found.append(Finding("zscore", "critical" if abs(z) >= self.z_crit else "warning", z,
                                 forecast, f"{obs.measurement} {x:g} {obs.unit} is {z:+.1f} σ "
                                 f"from the expected {forecast:.4g}"))
        else:  # spikes move neither the forecast nor the drift level
            level = forecast + self.alpha * r
            s.trend = self.beta * (level - s.level) + (1 - self.beta) * s.trend
            s.level = level
            w = 1.0 / s.n if s.n <= self.warmup else self.alpha_var
            s.var += w * (r * r - s.var)
            s.smooth += self.alpha_smooth * (x - s.smooth)
            s.n += 1
        if s.run == self.stuck_after:
            found.append(Finding("stuck", "warning", float(s.run), s.level,
                                 f"{obs.measurement} has read exactly {x:g} {obs.unit} for "
                                 f"{s.run + 1} readings"))
        if not spike:
            found += self._drift(s, obs, t)
        return found

    def _reference(self, s: _Series, t: float) -> float | None:
        """What the smoothed level is compared with: yesterday at this time, or the baseline."""
        if not self.seasonal:
            if s.n <= self.baseline:
                s.ring["base"] = [s.smooth, t]
                return None
            return s.ring["base"][0]
        if s.step <= 0 or s.step > 3600:
            return None
        bin_s = max(s.step, 300.0)
        slot = str(int((t % DAY) // bin_s))
        prev = s.ring.get(slot)
        s.ring[slot] = [s.smooth, t]
        if prev is None or not 0.75 * DAY <= t - prev[1] <= 1.25 * DAY:
            return None
        return prev[0]

    def _drift(self, s: _Series, obs: Observation, t: float) -> list[Finding]:
        ref = self._reference(s, t)
        if ref is None:
            return []
        d = s.smooth - ref
        s.dn += 1
        if s.dn <= self.drift_warmup:  # calibrate the spread of day-over-day changes
            s.dvar += (d * d - s.dvar) / s.dn
            return []
        # floor: what white residual noise alone would give the smoothed day-over-day change
        floor = 2 * self.alpha_smooth / (2 - self.alpha_smooth) * s.var
        sd = self._spread(max(s.dvar, floor), s.smooth)
        zd = d / sd
        if s.dn % self.drift_every:  # the smoothed level is autocorrelated: decimate it so
            return []                # the CUSUM sees (nearly) independent samples
        s.cpos = max(0.0, s.cpos + zd - self.k)
        s.cneg = max(0.0, s.cneg - zd - self.k)
        if s.cpos <= self.h and s.cneg <= self.h:
            if max(s.cpos, s.cneg) < self.k:  # quiet: keep learning the normal spread
                s.dvar += 0.01 * (d * d - s.dvar)
            return []
        up = s.cpos > self.h
        score = s.cpos if up else -s.cneg
        s.cpos = s.cneg = 0.0
        what = "yesterday at this time" if self.seasonal else "its baseline"
        return [Finding("drift", "critical" if abs(zd) >= 6 else "warning", score, ref,
                        f"{obs.measurement} drifting {'up' if up else 'down'}: level "
                        f"{s.smooth:.4g} vs {ref:.4g} {what} ({zd:+.1f} σ)")]

    def state(self) -> dict[str, Any]:
        return {k: v.to_list() for k, v in self.series.items()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.series = {k: _Series.from_list(v) for k, v in state.items()}


ScorerFactory = Callable[..., Scorer]
_FACTORIES: dict[str, ScorerFactory] = {"statistical": StatisticalScorer}


def register_scorer(kind: str, factory: ScorerFactory) -> None:
    """Make a scorer available to ``SITE_AGENT_SCORER`` / ``SITE_AGENT_SHADOW_SCORER``."""
    _FACTORIES[kind] = factory


def make_scorer(spec: str) -> Scorer:
    """Build a scorer from ``kind`` or ``kind:param=value,…`` (e.g. ``statistical:z_warn=3``)."""
    kind, _, params = spec.partition(":")
    if kind not in _FACTORIES:
        raise ValueError(f"unknown scorer {kind!r}; known: {', '.join(sorted(_FACTORIES))}")
    kwargs: dict[str, Any] = {}
    for item in filter(None, params.split(",")):
        key, _, raw = item.partition("=")
        kwargs[key.strip()] = float(raw) if raw.replace(".", "", 1).isdigit() else raw
    for key in ("warmup", "baseline", "stuck_after", "drift_warmup", "drift_every"):
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
    scorer = _FACTORIES[kind](**kwargs)
    if params and "name" not in kwargs:
        scorer.name = f"{kind}-{params.replace('=', '').replace(',', '-')}"[:120]
    return scorer
