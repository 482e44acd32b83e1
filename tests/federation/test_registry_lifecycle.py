"""Model registry: lineage from runs, shadow, signed promotion, rollback, artifacts for sites."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import col, select

from hub.audit.models import AuditEntry, ESignature
from hub.db import utcnow
from hub.identity import service as identity
from hub.identity.schemas import ApiKeyCreate
from hub.monitoring.models import ShadowReport
from hub.registry import service as registry
from standards.tasks import molecular_property as mp
from standards.tasks.common import ModelBundle
from tests.factories import PASSWORD, assert_problem
from tests.federation.test_api_runs import GOOD, _approve, _execute, _start
from tests.federation.test_api_runs import world as world  # the shared fixture
from tests.federation.test_api_support import rounds_script


def _finished_model(client: TestClient, w: dict[str, Any], **extra: Any) -> dict[str, Any]:
    run = _start(client, w, **extra)
    _approve(client, w, run["id"])
    _execute(w)
    done = client.get(f"/federation/runs/{run['id']}", headers=w["qa_h"]).json()
    assert done["status"] == "completed", done["status_reason"]
    model = client.get(f"/registry/models/{done['model_version_id']}", headers=w["qa_h"])
    return dict(model.json())


def _sign(client: TestClient, w: dict[str, Any], url: str, password: str = PASSWORD) -> Any:
    return client.post(url, headers=w["qa_h"], json={"password": password,
                                                     "comment": "QA review done"})


def test_finished_run_registers_a_candidate_with_lineage(client: TestClient,
                                                         world: dict[str, Any]) -> None:
    w = world
    m = _finished_model(client, w, rounds=2, strategy="fedprox", proximal_mu=0.01)
    assert (m["task"], m["version"], m["status"]) == ("molecular-property", 1, "candidate")
    lin = m["lineage"]
    assert lin["rounds"] == 2 and lin["strategy"] == "fedprox" and lin["proximal_mu"] == 0.01
    assert sorted(s["name"] for s in lin["sites"]) == ["lab-0", "lab-1", "lab-2"]
    assert lin["code_hash"] == mp.TASK.code_hash() == m["code_hash"]
    assert lin["standards"]["task_version"] == mp.TASK.version
    assert [r["round"] for r in lin["per_round"]] == [1, 2]
    assert sorted(lin["per_round"][0]["sites"]) == ["lab-0", "lab-1", "lab-2"]
    assert m["final_metrics"] == GOOD and m["passed"] is True
    assert [(i["metric"], i["passed"]) for i in m["indicators"]] == [("rmse", True), ("r2", True)]
    again = _finished_model(client, w, rounds=1)
    assert again["version"] == 2


def test_lifecycle_shadow_signed_promotion_rollback(client: TestClient,
                                                   world: dict[str, Any]) -> None:
    w = world
    v1 = _finished_model(client, w, rounds=1)
    v2 = _finished_model(client, w, rounds=1)
    base = "/registry/models"
    assert_problem(client.post(f"{base}/{v1['id']}/shadow", headers=w["res_h"],
                               json={"reason": "try it"}), 403)
    shadow = client.post(f"{base}/{v1['id']}/shadow", headers=w["qa_h"],
                         json={"reason": "compare at the labs"})
    assert shadow.json()["status"] == "shadow"
    assert [m["id"] for m in client.get("/registry/tasks/molecular-property/shadow",
                                        headers=w["res_h"]).json()] == [v1["id"]]
    assert_problem(client.get("/registry/tasks/molecular-property/production",
                              headers=w["res_h"]), 404)

    body = assert_problem(_sign(client, w, f"{base}/{v1['id']}/promote", "wrong"), 403)
    assert body["errors"][0]["pointer"] == "/password"
    assert _sign(client, w, f"{base}/{v1['id']}/promote").json()["status"] == "production"
    prod = client.get("/registry/tasks/molecular-property/production", headers=w["res_h"])
    assert prod.json()["id"] == v1["id"]

    p2 = _sign(client, w, f"{base}/{v2['id']}/promote").json()
    assert p2["status"] == "production" and p2["previous_production_id"] == v1["id"]
    assert client.get(f"{base}/{v1['id']}", headers=w["qa_h"]).json()["status"] == "retired"

    back = _sign(client, w, "/registry/tasks/molecular-property/rollback").json()
    assert back["id"] == v1["id"] and back["status"] == "production"
    assert client.get(f"{base}/{v2['id']}", headers=w["qa_h"]).json()["status"] == "retired"
    assert_problem(_sign(client, w, "/registry/tasks/molecular-property/rollback"), 409)

    s = w["session"]
    sigs = s.exec(select(ESignature).where(ESignature.entity_type == "model_version")).all()
    assert sorted(x.entity_id for x in sigs) == sorted([v1["id"], v2["id"], v1["id"]])
    reasons = s.exec(select(AuditEntry.reason).where(AuditEntry.entity_id == v1["id"],
                                                     AuditEntry.action == "update")
                     .order_by(col(AuditEntry.seq))).all()
    assert reasons == ["compare at the labs", "QA review done", "replaced by v2: QA review done",
                       "QA review done"]  # shadow, promotion, retired by v2, rollback


def test_a_model_failing_its_indicators_cannot_go_to_production(
        client: TestClient, world: dict[str, Any]) -> None:
    w = world
    w["use"](rounds_script({"rmse": 2.0, "r2": 0.1, "mae": 1.5}))
    m = _finished_model(client, w, rounds=1)
    assert m["passed"] is False
    body = assert_problem(_sign(client, w, f"/registry/models/{m['id']}/promote"), 409)
    assert "rmse" in body["detail"]
    retired = client.post(f"/registry/models/{m['id']}/retire", headers=w["qa_h"],
                          json={"reason": "too weak"})
    assert retired.json()["status"] == "retired"


def test_site_agent_pulls_the_production_artifact_with_its_api_key(
        client: TestClient, world: dict[str, Any]) -> None:
    w = world
    m = _finished_model(client, w, rounds=1)
    _sign(client, w, f"/registry/models/{m['id']}/promote")
    s, site = w["session"], w["labs"][0]
    _, secret = identity.issue_api_key(s, identity.principal_for_user(w["qa"]), ApiKeyCreate(
        name="site:lab-0", organization_id=site.organization_id, site_id=site.id))
    s.commit()
    agent = {"X-API-Key": secret}
    prod = client.get("/registry/tasks/molecular-property/production", headers=agent).json()
    art = client.get(f"/registry/models/{prod['id']}/artifact", headers=agent)
    assert art.status_code == 200
    digest = "sha256:" + hashlib.sha256(art.content).hexdigest()
    assert digest == art.headers["x-content-sha256"] == prod["artifact_sha256"]
    _, bundle = mp.TASK.load_bundle(art.content)
    assert bundle.task == "molecular-property" and isinstance(ModelBundle.from_bytes(
        art.content), ModelBundle)
    # the screening hook
    found = registry.production_models(s, "molecular-property")
    assert [x.id for x in found] == [m["id"]]
    assert registry.load_artifact(s, found[0]) == art.content
    assert_problem(client.get(f"/registry/models/{m['id']}/artifact"), 401)


def test_shadow_reports_of_a_model_are_linked(client: TestClient,
                                             world: dict[str, Any]) -> None:
    w = world
    m = _finished_model(client, w, rounds=1)
    s, site = w["session"], w["labs"][0]
    now = utcnow()
    for i, scorer in enumerate([f"model:{m['id']}", "statistical-other"]):
        s.add(ShadowReport(site_id=site.id, organization_id=site.organization_id,
                           report_id=f"r{i}", window_start=now - timedelta(hours=1),
                           window_end=now, readings=100, agreement=0.9, current_scorer="stat",
                           current_alerts=1, current_flagged=2, shadow_scorer=scorer,
                           shadow_alerts=2, shadow_flagged=3, only_current=0, only_shadow=1))
    s.commit()
    got = client.get(f"/registry/models/{m['id']}/shadow-reports", headers=w["qa_h"]).json()
    assert [r["report_id"] for r in got["reports"]] == ["r0"]
    assert got["readings"] == 100 and got["mean_agreement"] == 0.9
    assert client.get(f"/registry/models/{m['id']}/shadow-reports",
                      headers=w["out_h"]).json()["reports"] == []
