"""From findings to alerts (one per episode) and maintenance work orders for degradations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from site_agent.monitoring.scoring import Finding, Observation, Scorer

DEGRADATIONS = {"drift", "stuck"}

# (measurement, detector) -> failure mode, priority, days until due, recommended action
RULES: dict[tuple[str, str], tuple[str, str, int, str]] = {
    ("vibration", "drift"): (
        "bearing_wear", "high", 7,
        "Vibration is trending up: inspect bearings and lubrication, check alignment and "
        "balance, and schedule a vibration spectrum analysis."),
    ("temperature", "drift"): (
        "hvac_degradation", "medium", 14,
        "Temperature is drifting from its baseline: check HVAC coils, dampers and the "
        "temperature controller; verify the probe against a calibrated reference."),
    ("relative_humidity", "drift"): (
        "hvac_degradation", "medium", 14,
        "Humidity is drifting: check the dehumidifier/humidifier and HVAC air handling; "
        "verify the sensor against a reference hygrometer."),
    ("differential_pressure", "drift"): (
        "filter_clogging", "high", 7,
        "Differential pressure is drifting: inspect and replace pre-filters/HEPA filters and "
        "verify the room pressure cascade."),
    ("dispensing_accuracy", "drift"): (
        "calibration_drift", "high", 3,
        "Dispensing accuracy is drifting: recalibrate the dispenser and load cell against "
        "reference weights before the next batch."),
}
STUCK_RULE = ("sensor_stuck", "medium", 3,
              "The sensor reports a constant value: check wiring and transmitter, then "
              "recalibrate or replace the sensor.")


class AlertPolicy:
    """Raises one alert per episode: a (series, detector) stays quiet until it clears."""

    def __init__(self, clear_after: int = 20, clear_drift_after: int = 300) -> None:
        # drift is judged every few dozen readings, so its episodes need a longer quiet spell
        self.clear = {"drift": clear_drift_after}
        self.clear_after = clear_after
        self.active: dict[str, dict[str, int]] = {}  # series -> detector -> quiet readings

    def decide(self, obs: Observation, findings: list[Finding]) -> list[Finding]:
        """The findings that open a new episode (the rest are repeats)."""
        open_ = self.active.get(obs.key)
        if open_ is None:
            if not findings:
                return []
            open_ = self.active[obs.key] = {}
        fresh = []
        hit = set()
        for f in findings:
            if f.detector not in open_:
                fresh.append(f)
            open_[f.detector] = 0
            hit.add(f.detector)
        for detector in [d for d in open_ if d not in hit]:
            open_[detector] += 1
            if open_[detector] >= self.clear.get(detector, self.clear_after):
                del open_[detector]
        if not open_:
            del self.active[obs.key]
        return fresh

    def state(self) -> dict[str, dict[str, int]]:
        return {k: dict(v) for k, v in self.active.items()}

    def load_state(self, state: dict[str, dict[str, int]]) -> None:
        self.active = {k: dict(v) for k, v in state.items() if isinstance(v, dict)}


def alert_message(site_code: str, obs: Observation, f: Finding, scorer: Scorer) -> dict[str, Any]:
    """A ``monitoring-alert/1.0.0`` message for one finding."""
    return {
        "alert_id": str(uuid.uuid4()), "site_id": site_code, "asset": dict(obs.asset),
        "measurement": obs.measurement, "detector": f.detector, "severity": f.severity,
        "score": round(f.score, 4), "value": obs.value,
        "expected": None if f.expected is None else round(f.expected, 6), "unit": obs.unit,
        "message": f.message, "raised_at": datetime.now(UTC).isoformat(),
        "reading_id": obs.reading_id, "scorer": scorer.name,
    }


def work_order(site_code: str, alert: dict[str, Any], scorer: Scorer,
               today: date | None = None) -> dict[str, Any] | None:
    """A proposed ``maintenance-work-order/1.0.0`` for a degradation alert (else None)."""
    if alert["detector"] not in DEGRADATIONS:
        return None
    rule = STUCK_RULE if alert["detector"] == "stuck" else RULES.get(
        (alert["measurement"], alert["detector"]))
    if rule is None:
        return None
    mode, priority, days, action = rule
    if alert["severity"] == "critical" and priority != "critical":
        priority, days = ("critical" if priority == "high" else "high"), max(1, days // 2)
    created = datetime.now(UTC)
    return {
        "work_order_id": f"WO-{uuid.uuid4().hex[:16]}", "site_id": site_code,
        "asset": dict(alert["asset"]), "predicted_failure_mode": mode,
        "failure_mode_detail": alert["message"], "priority": priority,
        "recommended_action": action,
        "due_date": ((today or created.date()) + timedelta(days=days)).isoformat(),
        "source_alert_ids": [alert["alert_id"]], "created_at": created.isoformat(),
        "model": {"name": scorer.name, "version": scorer.version}, "status": "proposed",
    }


@dataclass
class Tally:
    alerts: int = 0
    flagged: int = 0


@dataclass
class ShadowComparison:
    """Running comparison of the acting scorer with a shadow scorer (which never acts)."""

    readings: int = 0
    agree: int = 0
    only_current: int = 0
    only_shadow: int = 0
    current: Tally = field(default_factory=Tally)
    shadow: Tally = field(default_factory=Tally)
    window_start: str | None = None

    def add(self, flagged_current: bool, flagged_shadow: bool, new_current: int,
            new_shadow: int) -> None:
        if self.window_start is None:
            self.window_start = datetime.now(UTC).isoformat()
        self.readings += 1
        self.agree += flagged_current == flagged_shadow
        self.only_current += flagged_current and not flagged_shadow
        self.only_shadow += flagged_shadow and not flagged_current
        self.current.flagged += flagged_current
        self.shadow.flagged += flagged_shadow
        self.current.alerts += new_current
        self.shadow.alerts += new_shadow

    def report(self, site_code: str, current: Scorer, shadow: Scorer) -> dict[str, Any]:
        """A ``shadow-report/1.0.0`` message for the window so far."""
        return {
            "report_id": str(uuid.uuid4()), "site_id": site_code,
            "window_start": self.window_start or datetime.now(UTC).isoformat(),
            "window_end": datetime.now(UTC).isoformat(), "readings": self.readings,
            "agreement": round(self.agree / self.readings, 6) if self.readings else 1.0,
            "current": {"name": current.name, "alerts": self.current.alerts,
                        "flagged_readings": self.current.flagged},
            "shadow": {"name": shadow.name, "alerts": self.shadow.alerts,
                       "flagged_readings": self.shadow.flagged},
            "only_current": self.only_current, "only_shadow": self.only_shadow,
        }
