"""Production monitoring at the edge: score new readings, queue alerts and work orders.

Readings are taken from the local store in arrival order. The cursor, the scorers' state and
every message produced for a batch of readings are committed in one local transaction, so a
crash never loses or duplicates an alert.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from site_agent import messages
from site_agent.monitoring.alerts import (
    AlertPolicy,
    ShadowComparison,
    Tally,
    alert_message,
    work_order,
)
from site_agent.monitoring.scoring import Scorer, StatisticalScorer, observations
from site_agent.outbox import Outbox
from site_agent.store import LocalStore

CURSOR, STATE = "monitor.cursor", "monitor.state"


@dataclass
class MonitorReport:
    readings: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    work_orders: list[dict[str, Any]] = field(default_factory=list)
    shadow_reports: list[dict[str, Any]] = field(default_factory=list)


class Monitor:
    """Scores readings with the acting scorer (and optionally a shadow one that never acts)."""

    def __init__(self, store: LocalStore, outbox: Outbox, site_code: str,
                 scorer: Scorer | None = None, shadow: Scorer | None = None,
                 shadow_every: int = 500, share_readings: bool = False,
                 readings_batch: int = 500) -> None:
        self.store, self.outbox, self.site_code = store, outbox, site_code
        self.scorer = scorer or StatisticalScorer()
        self.shadow = shadow
        self.shadow_every, self.share_readings = shadow_every, share_readings
        self.readings_batch = readings_batch
        self.policy, self.shadow_policy = AlertPolicy(), AlertPolicy()
        self.comparison = ShadowComparison()
        self._load()

    def _load(self) -> None:
        """Restore the committed scorer state (a different scorer starts fresh)."""
        state = self.store.get_meta(STATE) or {}
        same = state.get("scorer_name") == self.scorer.name
        self.scorer.load_state(state.get("scorer", {}) if same else {})
        self.policy.load_state(state.get("policy", {}) if same else {})
        self.comparison = ShadowComparison()
        if self.shadow is None:
            return
        same = state.get("shadow_name") == self.shadow.name
        self.shadow.load_state(state.get("shadow", {}) if same else {})
        self.shadow_policy.load_state(state.get("shadow_policy", {}) if same else {})
        comp = state.get("comparison") if same else None
        if comp:
            self.comparison = ShadowComparison(**{
                **comp, "current": Tally(**comp["current"]), "shadow": Tally(**comp["shadow"])})

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"scorer_name": self.scorer.name, "scorer": self.scorer.state(),
                                 "policy": self.policy.state()}
        if self.shadow:
            state.update(shadow_name=self.shadow.name, shadow=self.shadow.state(),
                         shadow_policy=self.shadow_policy.state(),
                         comparison=dataclasses.asdict(self.comparison))
        return state

    def score_reading(self, reading: dict[str, Any], report: MonitorReport) -> None:
        """Score one reading; alerts and work orders go to ``report`` (not yet queued)."""
        flagged = flagged_shadow = False
        new_current = new_shadow = 0
        for obs in observations(reading):
            findings = self.scorer.score(obs)
            flagged = flagged or bool(findings)
            for f in self.policy.decide(obs, findings):
                alert = alert_message(self.site_code, obs, f, self.scorer)
                report.alerts.append(alert)
                new_current += 1
                order = work_order(self.site_code, alert, self.scorer)
                if order:
                    report.work_orders.append(order)
            if self.shadow is not None:
                seen = self.shadow.score(obs)
                flagged_shadow = flagged_shadow or bool(seen)
                new_shadow += len(self.shadow_policy.decide(obs, seen))
        report.readings += 1
        if self.shadow is not None:
            self.comparison.add(flagged, flagged_shadow, new_current, new_shadow)
            if self.comparison.readings >= self.shadow_every:
                report.shadow_reports.append(
                    self.comparison.report(self.site_code, self.scorer, self.shadow))
                self.comparison = ShadowComparison()

    def process(self, limit: int = 2000) -> MonitorReport:
        """Score readings stored since the last call and queue what they produced."""
        cursor = int(self.store.get_meta(CURSOR, 0))
        rows = self.store.records_after("sensor-reading", cursor, limit)
        report = MonitorReport()
        if not rows:
            return report
        try:
            for _, _, reading in rows:
                self.score_reading(reading, report)
            self._commit(rows, report)
        except BaseException:
            self._load()  # back to the last committed state
            raise
        return report

    def _commit(self, rows: list[tuple[int, str, dict[str, Any]]],
                report: MonitorReport) -> None:
        with self.store.transaction():
            for alert in report.alerts:
                self.store.add_alert({**alert, "equipment": "/".join(alert["asset"].values())})
                self.outbox.enqueue("/monitoring/alerts", messages.ALERT, alert,
                                    key=f"alert-{alert['alert_id']}")
            for order in report.work_orders:
                self.outbox.enqueue("/monitoring/work-orders", messages.WORK_ORDER, order,
                                    key=f"wo-{order['work_order_id']}")
            for shadow in report.shadow_reports:
                self.outbox.enqueue("/monitoring/shadow-reports", messages.SHADOW_REPORT, shadow,
                                    key=f"shadow-{shadow['report_id']}")
            if self.share_readings:
                self._share(rows)
            self.store.set_meta(CURSOR, rows[-1][0])
            self.store.set_meta(STATE, self._state())

    def _share(self, rows: list[tuple[int, str, dict[str, Any]]]) -> None:
        by_schema: dict[str, list[dict[str, Any]]] = {}
        for _, schema_id, reading in rows:
            by_schema.setdefault(schema_id, []).append(reading)
        last_id = rows[-1][0]
        for schema_id, batch in by_schema.items():
            step = self.readings_batch
            for i in range(0, len(batch), step):
                self.outbox.enqueue("/monitoring/readings", schema_id, batch[i:i + step],
                                    key=f"readings-{last_id}-{schema_id.replace('/', ':')}-{i}")
