"""Edge monitoring: detectors, one alert per episode, work orders, shadow mode, restarts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from site_agent import messages
from site_agent.egress import gate
from site_agent.monitoring.alerts import AlertPolicy
from site_agent.monitoring.pipeline import Monitor
from site_agent.monitoring.scoring import StatisticalScorer, make_scorer, observations
from site_agent.outbox import Outbox
from site_agent.store import LocalStore
from standards import registry
from tests.site_agent.readings import series

SITE = "plant-basel"


def findings(rows: list[dict[str, Any]], scorer: StatisticalScorer | None = None
             ) -> list[tuple[int, str, str]]:
    scorer = scorer or StatisticalScorer()
    out = []
    for i, r in enumerate(rows):
        for obs in observations(r):
            out += [(i, obs.measurement, f.detector) for f in scorer.score(obs)]
    return out


def test_clean_noise_raises_nothing() -> None:
    assert findings(series(SITE, 3000, seed=3)) == []


@pytest.mark.parametrize(("fault", "measurement", "detector"), [
    ("spike", "vibration", "zscore"), ("stuck", "temperature", "stuck"),
    ("drift", "vibration", "drift")])
def test_each_fault_is_found_soon_after_it_starts(fault: str, measurement: str,
                                                  detector: str) -> None:
    # readings every 5 minutes; drift is judged against the same time yesterday, so the
    # fault starts on the second day
    found = findings(series(SITE, 700, seed=5, fault=fault, at=400))
    hits = [i for i, m, d in found if (m, d) == (measurement, detector)]
    assert hits, found
    assert 400 <= hits[0] <= 400 + 80  # found within 80 readings (under 7 hours)
    assert all(i >= 400 for i, _, _ in found)  # nothing before the fault


def test_alert_policy_raises_once_per_episode() -> None:
    scorer, policy = StatisticalScorer(), AlertPolicy(clear_after=20)
    raised = []
    for r in series(SITE, 600, seed=5, fault="stuck", at=300):
        for obs in observations(r):
            raised += [f.detector for f in policy.decide(obs, scorer.score(obs))]
    assert raised == ["stuck"]


def _monitor(tmp_path: Path, **kw: Any) -> Monitor:
    store = LocalStore(tmp_path / "site.db")
    return Monitor(store, Outbox(store, tmp_path / "lock"), SITE, **kw)


def _queued(monitor: Monitor) -> list[tuple[str, dict[str, Any]]]:
    rows = monitor.store.conn.execute("SELECT schema_id, body FROM outbox ORDER BY id")
    return [(r["schema_id"], json.loads(r["body"])) for r in rows]


def test_degradation_alert_proposes_a_valid_work_order(tmp_path: Path) -> None:
    monitor = _monitor(tmp_path)
    monitor.store.add_records(messages.SENSOR_READING, [
        ("t", i, r) for i, r in enumerate(series(SITE, 700, seed=5, fault="drift", at=400))])
    report = monitor.process(limit=5000)
    assert report.readings == 700
    drift = [a for a in report.alerts if a["detector"] == "drift"]
    assert drift and drift[0]["measurement"] == "vibration"
    orders = report.work_orders
    assert orders and orders[0]["predicted_failure_mode"] == "bearing_wear"
    assert orders[0]["source_alert_ids"] == [drift[0]["alert_id"]]
    assert registry.get("maintenance-work-order", "1.0.0").validate(orders[0]).ok
    queued = _queued(monitor)
    assert [s for s, _ in queued].count(messages.WORK_ORDER) == len(orders)
    assert [s for s, _ in queued].count(messages.ALERT) == len(report.alerts)
    assert monitor.process().readings == 0  # the cursor moved on


def test_shadow_scorer_is_compared_but_never_acts(tmp_path: Path) -> None:
    shadow = make_scorer("statistical:z_warn=2.5,z_crit=4")
    monitor = _monitor(tmp_path, shadow=shadow, shadow_every=400)
    monitor.store.add_records(messages.SENSOR_READING, [
        ("t", i, r) for i, r in enumerate(series(SITE, 800, seed=9, fault="spike", at=500))])
    report = monitor.process(limit=5000)
    assert len(report.shadow_reports) == 2
    rep = report.shadow_reports[1]
    assert rep["shadow"]["name"] == shadow.name and rep["current"]["name"] == "statistical"
    # the sensitive shadow flags more, the acting scorer's alerts are the only ones queued
    assert rep["shadow"]["flagged_readings"] >= rep["current"]["flagged_readings"]
    assert rep["agreement"] == pytest.approx(1 - (rep["only_current"] + rep["only_shadow"])
                                             / rep["readings"])
    assert rep["agreement"] < 1.0 and rep["only_shadow"] > 0
    queued_alerts = [b for s, b in _queued(monitor) if s == messages.ALERT]
    assert {a["scorer"] for a in queued_alerts} == {"statistical"}
    assert len(queued_alerts) == sum(r["current"]["alerts"] for r in report.shadow_reports)
    gate(messages.SHADOW_REPORT, rep)


def test_restart_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    rows = series(SITE, 600, seed=5, fault="stuck", at=300)
    one = _monitor(tmp_path / "a")
    one.store.add_records(messages.SENSOR_READING, [("t", i, r) for i, r in enumerate(rows)])
    whole = [a["detector"] for a in one.process(limit=5000).alerts]
    two = _monitor(tmp_path / "b")
    two.store.add_records(messages.SENSOR_READING, [("t", i, r) for i, r in enumerate(rows)])
    parts = [a["detector"] for a in two.process(limit=250).alerts]
    two.store.close()
    three = _monitor(tmp_path / "b")  # a new process on the same store
    while (rep := three.process(limit=100)).readings:
        parts += [a["detector"] for a in rep.alerts]
    assert parts == whole == ["stuck"]


def _run_sim(sim: Any) -> list[tuple[int, str, str, str]]:
    """(step, equipment, measurement, detector) of every alert the acting policy raises."""
    scorer, policy, out = StatisticalScorer(), AlertPolicy(), []
    for i, (reading, _) in enumerate(sim):
        for obs in observations(reading):
            for f in policy.decide(obs, scorer.score(obs)):
                out.append((i // 4, obs.asset["equipment"], obs.measurement, f.detector))
    return out


def test_simulated_plant_faults_are_found_on_the_right_equipment() -> None:
    from site_agent.simulators.plant import FaultSpec, simulate

    day = 288  # readings per equipment per day (every 5 minutes)
    faults = [FaultSpec("spike", 0, day + 50, 2, "differential_pressure", 10.0),
              FaultSpec("stuck", 1, day + 100, 60, "temperature"),
              FaultSpec("drift", 2, day + 20, 200, "relative_humidity", 10.0),
              FaultSpec("degradation", 3, day + 10, 260, "vibration", 3.0)]
    sim = simulate(duration=timedelta(days=2), seed=11, faults=faults)
    alerts = _run_sim(sim)
    for f, detectors in zip(faults, ({"zscore"}, {"stuck"}, {"drift"}, {"drift", "zscore"}),
                            strict=True):
        eq = sim.arrays.equipment_ids[f.equipment]
        hits = [step for step, e, m, d in alerts if e == eq and m == f.sensor and d in detectors]
        assert hits and f.start <= hits[0] <= f.start + f.duration, (f, alerts)


def test_a_clean_simulated_plant_stays_quiet() -> None:
    from site_agent.simulators.plant import simulate

    alerts = _run_sim(simulate(duration=timedelta(days=3), seed=0, faults=0))
    assert len(alerts) <= 3  # 4 machines × 5 sensors × 3 days: at most one alert a day
