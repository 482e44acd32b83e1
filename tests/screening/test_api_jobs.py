"""Screen jobs and refusals through the API: qualification gate, input and option errors,
progress, cancel, audit, restart recovery, registry predictions with applicability domain."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from sqlmodel import col, select

from hub.audit import service as audit
from hub.audit.models import AuditEntry
from hub.screening.flows import ScreenRunner
from hub.screening.models import Screen, ScreenStatus
from tests.factories import assert_problem
from tests.screening.test_api_screens import hub, nci, results, submit, wait

__all__ = ["hub"]  # the module-scoped hub fixture, shared with the screening API tests


def test_gate_refuses_unqualified_naming_qualification(hub: dict[str, Any]) -> None:
    resp = hub["client"].post("/screens", json={"smiles": ["CCO"]},
                              headers=hub["h"]["unqualified"])
    body = assert_problem(resp, 403, "qualification-required")
    assert body["qualification"] == "molecular-screening-model-application"
    assert "molecular-screening-model-application" in body["detail"]


def test_input_refusals_name_the_field(hub: dict[str, Any]) -> None:
    c, h = hub["client"], hub["h"]["lab"]
    big = "".join(f"{s}\n" for s in nci(5000)) * 3
    assert len(big) > hub["settings"].max_body_bytes
    too_big = c.post("/screens", content=big,
                     headers={**h, "content-type": "chemical/x-daylight-smiles"})
    assert_problem(too_big, 413, "payload-too-large")
    empty = c.post("/screens", files={"file": ("empty.smi", b"\n\n", "text/plain")}, headers=h)
    body = assert_problem(empty, 422)
    assert body["errors"][0]["pointer"] == "/file" and body["input_error"] == "empty-input"
    wrong = c.post("/screens", files={"file": ("lib.xlsx", b"PK\x03\x04", "application/zip")},
                   headers=h)
    assert assert_problem(wrong, 415, "unsupported-media-type")["errors"][0]["pointer"] == \
        "/format"
    xml = c.post("/screens", content="<mol/>", headers={**h, "content-type": "application/xml"})
    assert assert_problem(xml, 415)["errors"][0]["pointer"] == "/headers/content-type"
    nocol = c.post("/screens", files={"file": ("t.csv", "id,name\n1,x\n", "text/csv")},
                   headers=h)
    assert assert_problem(nocol, 422)["errors"][0]["pointer"] == "/smiles_column"
    blank = c.post("/screens", json={"smiles": ["CCO", " "]}, headers=h)
    assert assert_problem(blank, 422)["errors"][0]["pointer"] == "/body/smiles/1"
    mismatch = c.post("/screens", json={"smiles": ["CCO"], "ids": ["a", "b"]}, headers=h)
    assert_problem(mismatch, 422)


def test_options_validated_with_pointers(hub: dict[str, Any]) -> None:
    c, h = hub["client"], hub["h"]["lab"]
    bad = {"top_n": 0, "similarity_threshold": 1.5, "catalogs": ["PAINS_A", "FOO"],
           "weights": {"qed": -1}, "colour": "red"}
    resp = c.post("/screens", json={"smiles": ["CCO"], "options": bad}, headers=h)
    pointers = {e["pointer"] for e in assert_problem(resp, 422)["errors"]}
    assert pointers == {"/body/options/top_n", "/body/options/similarity_threshold",
                        "/body/options/catalogs", "/body/options/weights/qed",
                        "/body/options/colour"}
    form = c.post("/screens", files={"file": ("a.smi", "CCO\n", "text/plain")},
                  data={"options": '{"max_tautomers": 0}'}, headers=h)
    assert assert_problem(form, 422)["errors"][0]["pointer"] == "/options/max_tautomers"
    notjson = c.post("/screens", files={"file": ("a.smi", "CCO\n", "text/plain")},
                     data={"options": "{top_n: 3"}, headers=h)
    assert assert_problem(notjson, 422)["errors"][0]["pointer"] == "/options"


def test_progress_reaches_total(hub: dict[str, Any]) -> None:
    screen = submit(hub, smiles=nci(1500, 1000))
    assert screen["status"] == "queued" and screen["progress"]["total"] == 1500
    seen: list[tuple[int, float | None]] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        s = hub["client"].get(f"/screens/{screen['id']}", headers=hub["h"]["lab"]).json()
        seen.append((s["progress"]["done"], s["progress"]["eta_seconds"]))
        if s["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert s["status"] == "completed", s
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 1500 and s["progress"]["percent"] == 100.0
    assert all(eta is not None for d, eta in seen[:-1] if 0 < d < 1500)
    assert s["progress"]["eta_seconds"] is None


def test_cancel_is_audited_and_sticks(hub: dict[str, Any]) -> None:
    c, h = hub["client"], hub["h"]["lab"]
    screen = submit(hub, smiles=nci(3000, 2000))
    resp = c.post(f"/screens/{screen['id']}/cancel", json={"reason": "wrong library"},
                  headers=h)
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    runner = hub["app"].state.screen_runner
    assert runner.wait(screen["id"], 120)
    final = c.get(f"/screens/{screen['id']}", headers=h).json()
    assert final["status"] == "cancelled" and final["status_reason"] == "wrong library"
    assert final["done"] < 3000
    again = c.post(f"/screens/{screen['id']}/cancel", headers=h)
    assert assert_problem(again, 409)["errors"][0]["pointer"] == "/status"
    with hub["db"].session() as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.entity_type == "screen",
                                                  AuditEntry.entity_id == screen["id"])
                         .order_by(col(AuditEntry.seq))).all()
    actions = [(e.action, e.reason) for e in entries]
    assert actions[0][0] == "create"
    assert ("update", "wrong library") in actions
    user_ids = {e.actor_id for e in entries if e.reason == "wrong library"}
    assert user_ids == {screen["created_by"]}


def test_restart_fails_running_screens(hub: dict[str, Any]) -> None:
    screen = submit(hub, smiles=["CCO", "CCN"])
    wait(hub, screen["id"])
    with hub["db"].session() as s:
        stale = Screen(organization_id=screen["organization_id"], created_by="x",
                       created_by_name="x", name="left running", input_format="smiles",
                       input_sha256="sha256:0", status=ScreenStatus.running, total=10, done=4)
        s.add(stale)
        s.commit()
    failed, _ = ScreenRunner(hub["db"], hub["settings"]).recover()
    assert failed == 1
    body = hub["client"].get(f"/screens/{stale.id}", headers=hub["h"]["lab"]).json()
    assert body["status"] == "failed" and "restarted" in body["status_reason"]


def test_production_model_predictions_marked_out_of_domain(hub: dict[str, Any]) -> None:
    from hub.registry.models import ModelArtifact, ModelStatus, ModelVersion
    from hub.screening.model_source import production_predictors
    from standards.tasks import molecular_property as mp

    with hub["db"].session() as s:
        assert production_predictors(s) == []
        spec = mp.apply_stats(mp.default_spec(), mp.data_stats(mp.solubility_data("train")))
        data = mp.model_to_bytes(mp.build_model(spec), spec)
        model = ModelVersion(task="molecular-property", version=900, status=ModelStatus.production,
                             code_hash=mp.TASK.code_hash(), task_version=mp.TASK.version,
                             artifact_sha256="sha256:" + hashlib.sha256(data).hexdigest(),
                             artifact_size=len(data))
        s.add(model)
        s.flush()
        s.add(ModelArtifact(model_id=model.id, data=data))
        s.commit()
    try:
        long_chain = "C" * 60 + "O"
        screen = submit(hub, smiles=["CCO", "c1ccccc1O", long_chain], ids=["a", "b", "far"])
        done = wait(hub, screen["id"])
        assert done["models"][0]["name"] == "molecular-property-v900"
        rows = {r["input_id"]: r for r in results(hub, screen["id"])["items"]}
        for r in rows.values():
            (pred,) = r["predictions"]
            assert pred["property"] == "log_s" and isinstance(pred["value"], float)
        assert rows["far"]["predictions"][0]["in_domain"] is False
        assert rows["far"]["out_of_domain"] == 1
        assert rows["b"]["predictions"][0]["in_domain"] is True
        inside = results(hub, screen["id"], in_domain="true")["items"]
        assert "far" not in {r["input_id"] for r in inside}
    finally:
        with hub["db"].session() as s:
            m = s.get(ModelVersion, model.id)
            assert m is not None
            with audit.reason(s, "test model retired"):
                m.status = ModelStatus.retired
                s.add(m)
            s.commit()
