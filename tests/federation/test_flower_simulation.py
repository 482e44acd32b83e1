"""Real Flower Simulation Engine runs (Ray): progress per site, consent, FedProx + DP."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hub.federation.engine import RunSpec, SimulationEngine
from standards.tasks import molecular_property as mp

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flower-simulation")]

ALLOW_ALL = [{"task": "molecular-property", "code-hash": "*"}, {"task": "equipment-anomaly"}]


def test_simulation_reports_each_site_and_excludes_a_non_consenting_one(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    threads: set[int] = set()

    def progress(event: dict[str, Any]) -> None:
        seen.append(event)
        threads.add(threading.get_ident())

    policies = {
        0: {"site-id": "lab-a", "allow": ALLOW_ALL},
        1: {
            "site-id": "lab-b",
            "allow": [{"task": "molecular-property", "code-hash": mp.TASK.code_hash()}],
        },
        2: {"site-id": "lab-c", "allow": [{"task": "equipment-anomaly"}]},
    }
    spec = RunSpec(
        task="molecular-property",
        num_sites=3,
        num_rounds=2,
        min_sites=2,
        round_timeout=300,
        train={"epochs": 1},
        data={"holdout-fraction": 0.2},
        site_policies=policies,
    )
    res = SimulationEngine(tmp_path, timeout_s=900).run(spec, progress=progress)

    assert res.status == "completed", res.reason
    assert threads == {threading.get_ident()}  # callbacks run in the caller's thread
    assert [e["type"] for e in seen] == [e["type"] for e in res.events]
    assert seen[0]["type"] == "run_started" and seen[-1]["type"] == "run_completed"
    assert sorted(s["site_id"] for s in res.sites) == ["lab-a", "lab-b"]
    assert [r["site_id"] for r in res.refused] == ["lab-c"]
    assert "allow-list" in res.refused[0]["reason"]

    assert [r.round for r in res.rounds] == [1, 2]
    for rnd in res.rounds:
        assert sorted(s.site_id for s in rnd.train) == ["lab-a", "lab-b"]
        assert sorted(s.site_id for s in rnd.evaluate) == ["lab-a", "lab-b"]
        assert all(s.metrics["train_loss"] > 0 and s.metrics["num-examples"] > 0 for s in rnd.train)
        assert all(0 < s.metrics["rmse"] < 10 for s in rnd.evaluate)
        assert not rnd.dropped
        assert {"rmse", "r2", "mae"} <= set(rnd.central)
    assert res.rounds[-1].central["rmse"] < res.initial_central["rmse"]
    assert res.final_metrics["rmse"] == res.rounds[-1].central["rmse"]
    assert [i["metric"] for i in res.indicators] == ["rmse", "r2"]

    assert res.model_bundle is not None
    model, bundle = mp.model_from_bytes(res.model_bundle)
    test = mp.solubility_data("test", bundle.spec)
    rmse = float(np.sqrt(np.mean((mp.predict(model, test.x) - test.y) ** 2)))
    assert rmse == pytest.approx(res.final_metrics["rmse"], rel=1e-4)
    assert bundle.spec["scaler"] is not None  # scaling came from the sites' merged summaries


def test_equipment_anomaly_with_fedprox_and_client_side_dp(tmp_path: Path) -> None:
    spec = RunSpec(
        task="equipment-anomaly",
        num_sites=2,
        num_rounds=2,
        min_sites=2,
        strategy="fedprox",
        proximal_mu=0.01,
        dp_noise_multiplier=0.01,
        dp_clipping_norm=5.0,
        round_timeout=300,
        evaluate_every=2,
        train={"epochs": 1},
        data={"plant-days": 6, "plant-equipment": 2, "plant-faults": 4},
    )
    res = SimulationEngine(tmp_path, timeout_s=900).run(spec)
    assert res.status == "completed", res.reason
    assert [len(r.train) for r in res.rounds] == [2, 2]
    assert [len(r.evaluate) for r in res.rounds] == [0, 2]  # evaluated on the last round only
    site = res.rounds[-1].evaluate[0].metrics
    assert {"recall", "precision", "delay", "faults", "val_loss"} <= set(site)
    assert res.final_metrics["faults"] == sum(s.metrics["faults"] for s in res.rounds[-1].evaluate)
    log = (tmp_path / "runs" / spec.run_id / "flower.log").read_text()
    assert (
        log.count("fixedclipping_mod: parameters are clipped by value: 5.0000") == 4
    )  # 2 sites x 2
    assert "central DP noise" in log
