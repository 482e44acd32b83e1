"""Plant simulator and task `equipment-anomaly`: readings, labels, windows, detection, edge."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np
import pytest

from site_agent.simulators.plant import FAULT_KINDS, UNITS, FaultSpec, simulate
from standards.tasks import equipment_anomaly as ea
from standards.tasks.anomaly_metrics import alarm_metrics

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _series(sim: object) -> ea.SensorSeries:
    a = sim.arrays  # type: ignore[attr-defined]
    return ea.SensorSeries(a.values, a.hours, a.fault, tuple(a.equipment_ids), 300)


def test_simulator_is_deterministic_for_a_seed() -> None:
    a = simulate("plant-basel", 3, duration=timedelta(days=2), faults=4, seed=5)
    b = simulate("plant-basel", 3, duration=timedelta(days=2), faults=4, seed=5)
    c = simulate("plant-basel", 3, duration=timedelta(days=2), faults=4, seed=6)
    np.testing.assert_array_equal(a.arrays.values, b.arrays.values)
    assert a.labels == b.labels
    assert list(a.readings()) == list(b.readings())
    assert not np.array_equal(a.arrays.values, c.arrays.values)
    d = simulate("plant-lyon", 3, duration=timedelta(days=2), faults=4, seed=5)
    assert (
        abs(float(np.nanmean(a.arrays.values[..., 2]) - np.nanmean(d.arrays.values[..., 2]))) > 0.01
    )


def test_readings_follow_the_sensor_reading_layout() -> None:
    sim = simulate("plant-basel", 2, duration=timedelta(hours=2), faults=0, seed=1)
    readings = list(sim.readings())
    assert len(readings) == 2 * 24 == len(sim)
    r = readings[0]
    assert set(r) == {"reading_id", "site_id", "equipment", "timestamp", "measurements"}
    assert UUID.match(r["reading_id"]) and r["site_id"] == "plant-basel"
    assert set(r["equipment"]) == {"enterprise", "site", "area", "unit", "equipment"}
    assert r["equipment"]["site"] == "plant-basel"
    assert datetime.fromisoformat(r["timestamp"]).utcoffset() is not None
    for name, m in r["measurements"].items():
        assert m["unit"] == UNITS[name] and isinstance(m["value"], float)
    assert len({x["reading_id"] for x in readings}) == len(readings)
    stamps = sorted({x["timestamp"] for x in readings})
    gap = datetime.fromisoformat(stamps[1]) - datetime.fromisoformat(stamps[0])
    assert gap == timedelta(minutes=5)


def test_missing_measurements_are_omitted_but_each_reading_keeps_one() -> None:
    sim = simulate("plant-basel", 2, duration=timedelta(days=1), faults=0, seed=1, missing_rate=0.2)
    sizes = [len(r["measurements"]) for r in sim.readings()]
    assert min(sizes) >= 1 and any(s < 5 for s in sizes)


def test_fault_labels_sit_beside_the_readings() -> None:
    sim = simulate("plant-basel", 4, duration=timedelta(days=10), faults=8, seed=2)
    assert len(sim.labels) == 8
    assert {lb.kind for lb in sim.labels} == set(FAULT_KINDS)
    a = sim.arrays
    for lb in sim.labels:
        e = a.equipment_ids.index(lb.equipment)
        assert (a.fault[e, lb.start_index : lb.end_index] > 0).all()
        assert datetime.fromisoformat(lb.start) == a.timestamps[lb.start_index]
    assert int((a.fault > 0).sum()) == sum(lb.end_index - lb.start_index for lb in sim.labels)
    pairs = list(sim)
    labelled = [label for reading, label in pairs if label]
    assert labelled and all("reading_id" not in lb and lb["kind"] in FAULT_KINDS for lb in labelled)
    assert all("label" not in reading and "fault" not in reading for reading, _ in pairs)


def test_explicit_faults_change_the_signal_where_injected() -> None:
    clean = simulate("plant-x", 2, duration=timedelta(days=1), faults=0, seed=3)
    faults = [
        FaultSpec("stuck", 0, 100, 40, "temperature"),
        FaultSpec("spike", 1, 200, 2, "vibration", 12.0),
    ]
    sim = simulate("plant-x", 2, duration=timedelta(days=1), faults=faults, seed=3)
    stuck = sim.arrays.values[0, 100:140, 0]
    assert np.all(stuck == stuck[0])
    jump = np.abs(sim.arrays.values[1, 200:202, 4] - clean.arrays.values[1, 200:202, 4])
    assert jump.min() > 0.3
    np.testing.assert_array_equal(sim.arrays.values[1, :200], clean.arrays.values[1, :200])


def test_cli_style_call_yields_reading_label_pairs() -> None:
    items = list(simulate(n_readings=40, seed=1, site_id="plant-cli"))
    assert len(items) >= 40
    reading, label = items[0]
    assert reading["site_id"] == "plant-cli" and (label is None or "kind" in label)


def test_series_from_readings_rebuilds_the_array_form() -> None:
    sim = simulate("plant-basel", 3, duration=timedelta(hours=6), faults=0, seed=4)
    series = ea.series_from_readings(list(sim.readings()))
    assert series.equipment_ids == tuple(sorted(sim.arrays.equipment_ids))
    order = [sim.arrays.equipment_ids.index(e) for e in series.equipment_ids]
    np.testing.assert_allclose(series.values, sim.arrays.values[order], atol=1e-3)
    np.testing.assert_allclose(series.hours, sim.arrays.hours, atol=1e-4)


def test_alarm_metrics_on_a_hand_made_case() -> None:
    fault = np.zeros((1, 100), dtype=np.int8)
    fault[0, 10:20] = 1
    fault[0, 60:65] = 1
    alarms = np.zeros((1, 100), dtype=bool)
    alarms[0, 13:16] = True  # detects the first fault after 3 readings
    alarms[0, 40] = True  # false alarm
    m = alarm_metrics(alarms, fault, grace=5)
    assert (m["faults"], m["detected"], m["episodes"], m["true_episodes"]) == (2, 1, 2, 1)
    assert m["recall"] == 0.5 and m["precision"] == 0.5 and m["delay"] == 3


def test_normalizer_and_windows_ignore_labelled_fault_periods() -> None:
    sim = simulate("plant-basel", 2, duration=timedelta(days=3), faults=2, seed=9)
    series = _series(sim)
    data = ea.PlantData.from_series(series)
    w = data.spec["window"]
    n_train_all = len(ea.make_windows(series.slice(0, int(series.steps * 0.55)), data.norm, w)[0])
    assert 0 < len(data.train) <= n_train_all
    assert data.train.shape[1] == ea.feature_dim(w)


@pytest.fixture(scope="module")
def trained() -> tuple[ea.WindowAutoencoder, ea.PlantData]:
    sim = simulate("plant-basel", 4, duration=timedelta(days=16), faults=12, seed=11)
    data = ea.PlantData.from_series(_series(sim))
    model = ea.build_model(data.spec, seed=0)
    for epoch in range(5):
        ea.train(model, data.train, epochs=1, lr=2e-3 * 0.6**epoch, seed=epoch)
    return model, data


def test_autoencoder_catches_injected_faults(
    trained: tuple[ea.WindowAutoencoder, ea.PlantData],
) -> None:
    model, data = trained
    m = ea.evaluate(model, data)
    assert m["faults"] >= 3
    assert m["recall"] >= 0.8 and m["precision"] >= 0.8
    assert all(r.passed for r in ea.TASK.judge(m))


def test_untrained_autoencoder_reconstructs_worse(
    trained: tuple[ea.WindowAutoencoder, ea.PlantData],
) -> None:
    model, data = trained
    fresh = ea.build_model(data.spec, seed=0)
    assert (
        ea.feature_errors(model, data.val).mean() < 0.5 * ea.feature_errors(fresh, data.val).mean()
    )


def test_edge_scoring_matches_the_batch_path(
    trained: tuple[ea.WindowAutoencoder, ea.PlantData],
) -> None:
    model, data = trained
    cal = ea.calibrate(model, data.val, data.spec)
    scorer = ea.EdgeScorer(model, data.spec, cal)
    w = data.spec["window"]
    feats, eq, ends = ea.make_windows(data.test, data.norm, w)
    batch = ea.score(model, feats, cal)
    for i in (0, 57, len(feats) - 1):
        e, t = int(eq[i]), int(ends[i])
        window = data.test.values[e, t - w + 1 : t + 1]
        s, per_sensor = ea.score_window(scorer, window, data.norm, e, float(data.test.hours[t]))
        assert s == pytest.approx(float(batch[i]), rel=1e-4)
        assert per_sensor.shape == (5,) and per_sensor.max() == pytest.approx(s)


def test_model_bundle_round_trip(trained: tuple[ea.WindowAutoencoder, ea.PlantData]) -> None:
    model, data = trained
    restored, bundle = ea.model_from_bytes(ea.model_to_bytes(model, data.spec))
    np.testing.assert_array_equal(
        ea.feature_errors(restored, data.val), ea.feature_errors(model, data.val)
    )
    assert bundle.task == "equipment-anomaly"


def test_pooled_alarm_metrics_sum_counts() -> None:
    a = {"faults": 4, "detected": 3, "episodes": 5, "true_episodes": 4, "delay_sum": 30, "days": 2}
    b = {"faults": 1, "detected": 1, "episodes": 1, "true_episodes": 1, "delay_sum": 2, "days": 2}
    m = ea.pool_alarm_metrics([a, b])
    assert m["recall"] == 4 / 5 and m["precision"] == 5 / 6 and m["delay"] == 8.0
    assert m["false_alarms_per_day"] == 0.25
