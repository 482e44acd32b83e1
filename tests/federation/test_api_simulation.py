"""A hub-coordinated run on Flower's real Simulation Engine: consent refusal, registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hub.federation.engine import SimulationEngine
from hub.federation.flows import RunExecutor
from hub.federation.models import FederatedRun
from hub.sites.models import Site
from standards.tasks import molecular_property as mp
from tests.federation.test_api_runs import _approve, _start
from tests.federation.test_api_runs import world as world  # the shared fixture

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flower-simulation")]


def test_real_simulation_through_the_hub(client: TestClient, world: dict[str, Any],
                                         tmp_path: Path) -> None:
    w = world
    refusing = w["labs"][2].id

    def policy(site: Site, run: FederatedRun) -> dict[str, Any]:
        allow = [] if site.id == refusing else [{"task": run.task, "code-hash": "*"}]
        return {"site-id": site.id, "allow": allow}

    w["app"].state.federation_executor = RunExecutor(
        w["db"], w["settings"], engine=lambda run: SimulationEngine(tmp_path, timeout_s=900),
        policy_for=policy)
    run = _start(client, w, rounds=2, min_sites=2, train={"epochs": 1},
                 data={"holdout-fraction": 0.2})
    _approve(client, w, run["id"])
    assert w["app"].state.federation_executor.run_pending() == 1

    done = client.get(f"/federation/runs/{run['id']}", headers=w["qa_h"]).json()
    assert done["status"] == "completed", done["status_reason"]
    assert [e["site"] for e in done["excluded"]] == ["lab-2"]
    assert "allow-list" in done["excluded"][0]["reason"]
    assert done["code_hash"] == mp.TASK.code_hash()
    prog = client.get(f"/federation/runs/{run['id']}/progress", headers=w["qa_h"]).json()
    assert [r["round"] for r in prog["rounds"]] == [1, 2]
    for r in prog["rounds"]:
        assert [s["site_label"] for s in r["sites"]] == ["lab-0", "lab-1"]
        assert all(0 < s["evaluate"]["rmse"] < 10 for s in r["sites"])
        assert {"rmse", "r2"} <= set(r["central"])
    model = client.get(f"/registry/models/{done['model_version_id']}",
                       headers=w["qa_h"]).json()
    assert model["final_metrics"]["rmse"] == prog["rounds"][-1]["central"]["rmse"]
    art = client.get(f"/registry/models/{model['id']}/artifact", headers=w["qa_h"])
    net, bundle = mp.model_from_bytes(art.content)
    test = mp.solubility_data("test", bundle.spec)
    rmse = float(np.sqrt(np.mean((mp.predict(net, test.x) - test.y) ** 2)))
    assert rmse == pytest.approx(model["final_metrics"]["rmse"], rel=1e-4)
