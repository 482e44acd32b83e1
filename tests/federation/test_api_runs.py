"""Runs API: request, QA e-signature, executor, live progress, consent exclusions, dropouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.audit.models import AuditEntry, ESignature
from hub.config import Settings
from hub.federation.flows import RunExecutor
from hub.federation.models import FederatedRun, RunStatus
from hub.sites.models import SiteStatus
from tests.factories import PASSWORD, assert_problem, login, make_org, make_user
from tests.federation.test_api_support import ScriptedEngine, make_site, rounds_script

GOOD = {"rmse": 0.55, "r2": 0.9, "mae": 0.4}


@pytest.fixture
def world(session: Session, settings: Settings, client: TestClient, app: Any,
          db: Any, tmp_path: Path) -> dict[str, Any]:
    lab_org, other_org, op = make_org(session), make_org(session), make_org(session, "operator")
    labs = [make_site(session, lab_org if i < 2 else other_org, f"lab-{i}",
                      ["molecular-property"]) for i in range(3)]
    make_site(session, lab_org, "plant-x", ["equipment-anomaly"], kind="plant")
    make_site(session, lab_org, "lab-pending", ["molecular-property"], SiteStatus.pending)
    qa = make_user(session, settings, op, "qa", "hub_admin")
    researcher = make_user(session, settings, lab_org, "researcher")
    outsider = make_user(session, settings, make_org(session), "researcher")
    w: dict[str, Any] = {"labs": labs, "qa": qa, "session": session, "app": app, "db": db,
                         "settings": settings, "tmp": tmp_path,
                         "qa_h": login(client, qa.username),
                         "res_h": login(client, researcher.username),
                         "out_h": login(client, outsider.username)}
    w["engine"] = None

    def use(script: Any) -> ScriptedEngine:
        eng = ScriptedEngine(tmp_path / "fed", script, "molecular-property")
        app.state.federation_executor = RunExecutor(db, settings, engine=lambda run: eng)
        w["engine"] = eng
        return eng

    w["use"] = use
    use(rounds_script(GOOD))
    return w


def _start(client: TestClient, w: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"task": "molecular-property", "rounds": 3, "min_sites": 2, **extra}
    resp = client.post("/federation/runs", json=body, headers=w["res_h"])
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def _approve(client: TestClient, w: dict[str, Any], run_id: str) -> dict[str, Any]:
    resp = client.post(f"/federation/runs/{run_id}/approve", headers=w["qa_h"],
                       json={"password": PASSWORD, "comment": "protocol reviewed"})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _execute(w: dict[str, Any]) -> int:
    n: int = w["app"].state.federation_executor.run_pending()
    return n


def test_run_waits_for_signed_qa_approval_then_runs_and_reports_per_site_rounds(
        client: TestClient, world: dict[str, Any]) -> None:
    w = world
    run = _start(client, w)
    assert run["status"] == "pending_approval"
    assert sorted(run["site_ids"]) == sorted(s.id for s in w["labs"])  # active + offers task
    assert _execute(w) == 0  # nothing starts without approval

    bad = client.post(f"/federation/runs/{run['id']}/approve", headers=w["res_h"],
                      json={"password": PASSWORD})
    assert_problem(bad, 403)
    wrong = client.post(f"/federation/runs/{run['id']}/approve", headers=w["qa_h"],
                        json={"password": "not-it"})
    body = assert_problem(wrong, 403)
    assert body["errors"][0]["pointer"] == "/password"

    assert _approve(client, w, run["id"])["status"] == "queued"
    sig = w["session"].exec(select(ESignature).where(ESignature.entity_id == run["id"])).one()
    assert sig.entity_type == "federated_run" and sig.signer_id == w["qa"].id
    assert _execute(w) == 1

    done = client.get(f"/federation/runs/{run['id']}", headers=w["res_h"]).json()
    assert done["status"] == "completed", done["status_reason"]
    assert done["final_metrics"] == GOOD and done["current_round"] == 3
    assert [i["metric"] for i in done["indicators"]] == ["rmse", "r2"]
    assert done["model_version_id"]

    prog = client.get(f"/federation/runs/{run['id']}/progress", headers=w["res_h"]).json()
    names = sorted(s.name for s in w["labs"])
    assert sorted(prog["joined"]) == names
    assert [r["round"] for r in prog["rounds"]] == [1, 2, 3]
    for r in prog["rounds"]:
        assert [s["site_label"] for s in r["sites"]] == names
        assert all(s["site_id"] and s["train"]["train_loss"] > 0 and "rmse" in s["evaluate"]
                   for s in r["sites"])
        assert r["central"] == GOOD
    spec = w["engine"].specs[0]
    assert spec.num_rounds == 3 and spec.min_sites == 2 and spec.run_id == run["id"]

    actions = w["session"].exec(select(AuditEntry.action).where(
        AuditEntry.entity_id == run["id"])).all()
    assert "sign" in actions and actions.count("update") >= 3  # queued, running, completed


def test_sse_stream_replays_progress_and_ends_with_the_outcome(
        client: TestClient, world: dict[str, Any]) -> None:
    w = world
    run = _start(client, w, rounds=2)
    _approve(client, w, run["id"])
    _execute(w)
    with client.stream("GET", f"/federation/runs/{run['id']}/events", headers=w["res_h"]) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = [b.split("\n")[0] for b in text.split("\n\n") if b.startswith("id:")]
    kinds = [line.split("event: ")[1] for line in text.splitlines() if line.startswith("event:")]
    assert kinds[0] == "started" and kinds[-2:] == ["completed", "end"]
    assert kinds.count("train") == 6 and kinds.count("central") == 2
    assert [int(e.split(": ")[1]) for e in events] == list(range(1, len(events) + 1))
    # resuming after the last seen id sends only the rest
    with client.stream("GET", f"/federation/runs/{run['id']}/events",
                       headers={**w["res_h"], "Last-Event-ID": str(len(events) - 1)}) as r:
        rest = "".join(r.iter_text())
    assert rest.count("id: ") == 1 and "event: end" in rest


def test_non_consenting_site_is_excluded_and_recorded(client: TestClient,
                                                      world: dict[str, Any]) -> None:
    w = world
    w["use"](rounds_script(GOOD, refuse={1: "site lab-1 refused: task not in the allow-list"}))
    run = _start(client, w, rounds=2)
    _approve(client, w, run["id"])
    _execute(w)
    done = client.get(f"/federation/runs/{run['id']}", headers=w["qa_h"]).json()
    assert done["status"] == "completed"
    assert done["excluded"] == [{"site_id": w["labs"][1].id, "site": "lab-1",
                                 "reason": "site lab-1 refused: task not in the allow-list"}]
    prog = client.get(f"/federation/runs/{run['id']}/progress", headers=w["qa_h"]).json()
    assert all("lab-1" not in [s["site_label"] for s in r["sites"]] for r in prog["rounds"])


def test_dropout_is_recorded_and_a_run_below_the_minimum_fails_with_the_reason(
        client: TestClient, world: dict[str, Any]) -> None:
    w = world
    w["use"](rounds_script(GOOD, drop={2: "no reply within the round timeout (5 s)"}))
    run = _start(client, w, rounds=3, min_sites=2, round_timeout_s=5)
    _approve(client, w, run["id"])
    _execute(w)
    prog = client.get(f"/federation/runs/{run['id']}/progress", headers=w["qa_h"]).json()
    assert prog["status"] == "completed"
    r2 = {s["site_label"]: s for s in prog["rounds"][1]["sites"]}
    assert r2["lab-2"]["dropped"] == "train: no reply within the round timeout (5 s)"
    assert r2["lab-2"]["train"] == {} and r2["lab-0"]["train"]

    w["use"](rounds_script(GOOD, drop={1: "gone", 2: "gone"}, fail_at=2))
    run = _start(client, w, rounds=3, min_sites=2)
    _approve(client, w, run["id"])
    _execute(w)
    failed = client.get(f"/federation/runs/{run['id']}", headers=w["qa_h"]).json()
    assert failed["status"] == "failed"
    assert "only 1 site(s) returned a model update" in failed["status_reason"]
    assert failed["model_version_id"] is None


def test_requests_are_validated_and_name_the_field(client: TestClient,
                                                   world: dict[str, Any]) -> None:
    w = world
    url, h = "/federation/runs", w["res_h"]
    body = assert_problem(client.post(url, headers=h, json={
        "task": "molecular-property", "privacy": {"secure_aggregation": True}}), 422)
    assert body["errors"][0]["pointer"] == "/privacy/secure_aggregation"
    assert "legacy workflow" in body["errors"][0]["message"]
    body = assert_problem(client.post(url, headers=h, json={"task": "weather"}), 422)
    assert body["errors"][0]["pointer"] == "/task"
    body = assert_problem(client.post(url, headers=h, json={
        "task": "molecular-property", "min_sites": 4}), 422)
    assert body["errors"][0]["pointer"] == "/min_sites"
    plant = w["session"].exec(select(FederatedRun)).all()
    assert plant == []
    pending = client.get("/sites?status=pending", headers=w["qa_h"]).json()
    body = assert_problem(client.post(url, headers=h, json={
        "task": "molecular-property", "site_ids": [w["labs"][0].id, pending[0]["id"]]}), 422)
    assert body["errors"][0]["pointer"] == "/site_ids/1"
    body = assert_problem(client.post(url, headers=h, json={
        "task": "molecular-property", "strategy": "fedprox"}), 422)
    assert_problem(client.post(url, headers=w["out_h"], json={
        "task": "molecular-property", "privacy": {"dp_noise_multiplier": 1.0}}), 422)


def test_runs_are_visible_to_participating_organizations_and_qa_only(
        client: TestClient, world: dict[str, Any]) -> None:
    w = world
    run = _start(client, w)
    assert [r["id"] for r in client.get("/federation/runs", headers=w["qa_h"]).json()] == [
        run["id"]]
    assert client.get("/federation/runs", headers=w["out_h"]).json() == []
    assert_problem(client.get(f"/federation/runs/{run['id']}", headers=w["out_h"]), 404)
    assert_problem(client.get(f"/federation/runs/{run['id']}/progress", headers=w["out_h"]),
                   404)
    assert_problem(client.get("/federation/runs"), 401)


def test_restart_fails_runs_left_running(world: dict[str, Any], client: TestClient) -> None:
    w = world
    run = _start(client, w)
    _approve(client, w, run["id"])
    session = w["session"]
    row = session.get(FederatedRun, run["id"])
    from hub.audit import service as audit

    with audit.reason(session, "test: executor claimed it"):
        row.status = RunStatus.running
        session.add(row)
    session.commit()
    fresh = RunExecutor(w["db"], w["settings"])
    assert fresh.recover() == 1
    after = client.get(f"/federation/runs/{run['id']}", headers=w["qa_h"]).json()
    assert after["status"] == "failed" and "restarted" in after["status_reason"]


class HungEngine(ScriptedEngine):
    """Reports the start, then never returns on its own (as an engine whose Ray died)."""

    def run(self, spec: Any, progress: Any = None, cancel: Any = None) -> Any:
        from hub.federation.engine import RunResult

        progress({"type": "run_started", "code_hash": "sha256:x", "num_rounds": 1})
        assert cancel is not None and cancel.wait(30)  # only the hub's watchdog ends it
        return RunResult(run_id=spec.run_id, status="cancelled", reason="cancelled")


def test_an_engine_that_stops_reporting_is_stopped_and_the_run_fails(
        client: TestClient, world: dict[str, Any]) -> None:
    w = world
    hung = HungEngine(w["tmp"] / "fed", rounds_script(GOOD), "molecular-property")
    w["app"].state.federation_executor = RunExecutor(
        w["db"], w["settings"], engine=lambda run: hung, stall=lambda run: 0.5)
    run = _start(client, w)
    _approve(client, w, run["id"])
    _execute(w)
    failed = client.get(f"/federation/runs/{run['id']}", headers=w["qa_h"]).json()
    assert failed["status"] == "failed"
    assert failed["status_reason"].startswith("no progress from the Flower engine for 0 s")
