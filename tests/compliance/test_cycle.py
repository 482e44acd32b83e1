"""The full cycle: pre-filled draft, review, site-admin signature, QA co-signature, regulator
pull and download, offline verification of the evidence bundle."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.audit import service as audit
from hub.compliance.providers import (
    SectionContext,
    SectionResult,
    register_section_provider,
    unregister_section_provider,
)
from hub.compliance.verify import verify_bundle
from tests.compliance.conftest import (
    IN_PERIOD,
    PERIOD,
    World,
    add_alert,
    add_work_order,
    cosign,
    draft,
    review_all,
    sign,
)
from tests.factories import assert_problem
from tests.traceability import docs


def training_section(ctx: SectionContext) -> SectionResult:
    """What the training portal contributes: coverage per qualification and the records."""
    from training_portal.records import training_coverage

    report = training_coverage(ctx.session, ctx.organization_id, None, as_of=ctx.until,
                               requirements=ctx.settings.qualification_requirements)
    per_qualification: dict[str, list[int]] = {}
    for row in report.coverage:
        counts = per_qualification.setdefault(row.qualification, [0, 0])
        counts[0] += row.required
        counts[1] += row.qualified
    records = [*report.records, {  # a record as the portal shapes it: name and id included
        "record_id": "cert-0001", "organization_id": ctx.organization_id,
        "person": {"person_id": "user-42", "name": "Tess Trainee", "role": "qa"},
        "qualification": "gmp-basics", "course": {"course_id": "gmp", "version": "1.0.0",
                                                  "title": "GMP basics"},
        "assessment_score": 91.0, "pass_mark": 80.0, "issued_at": "2026-01-05T09:00:00+00:00",
        "valid_until": "2027-01-05T09:00:00+00:00", "certificate_id": "cert-0001",
        "status": "active", "email": "tess@example.org"}]
    return SectionResult([{"qualification": q, "required": r, "qualified": n}
                          for q, (r, n) in sorted(per_qualification.items())],
                         "training portal records", evidence=records)


@pytest.fixture
def training_provider() -> Iterator[None]:
    """Stands in for the portal's provider to plant a record with a name, e-mail and score."""
    from training_portal import compliance as portal

    unregister_section_provider("training_coverage", portal.training_section)
    register_section_provider("training_coverage", training_section)
    yield
    unregister_section_provider("training_coverage", training_section)
    register_section_provider("training_coverage", portal.training_section)


def _excursion_document() -> dict[str, Any]:
    """The plant commissions a lot and its own logger reads 9.4 °C (allowed 2–8 °C)."""
    return docs.document(
        docs.event("ObjectEvent", 0, "urn:uuid:7a0e4b1e-0000-4000-8000-000000000001",
                   action="ADD", bizStep="commissioning", disposition="active",
                   epcList=docs.sgtins(), readPoint={"id": docs.PLANT},
                   bizLocation={"id": docs.PLANT}, ilmd={"cbvmda:lotNumber": docs.LOT}),
        docs.event("ObjectEvent", 4.5, "urn:uuid:7a0e4b1e-0000-4000-8000-000000000002",
                   action="OBSERVE", bizStep="storing", disposition="in_progress",
                   epcList=docs.sgtins(), readPoint={"id": docs.PLANT},
                   sensorElementList=docs.temperatures(2.5, [5.1, 6.0, 8.9, 9.4, 7.0])),
    )


def _zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_full_cycle_prefill_sign_cosign_pull_and_verify(
        client: TestClient, session: Session, world: World, training_provider: None) -> None:
    helix = world.helix
    critical = add_alert(session, helix.site, "critical", IN_PERIOD)
    drift = add_alert(session, helix.site, "warning", IN_PERIOD + timedelta(days=3),
                      detector="drift", received_after=timedelta(hours=30))
    add_alert(session, helix.site, "warning", IN_PERIOD + timedelta(days=5))  # noise only
    add_work_order(session, helix.site, drift, due="2026-03-01")
    resp = client.post("/traceability/capture", headers=helix.admin,
                       json=_excursion_document())
    assert resp.status_code == 201, resp.text

    report = draft(client, helix)
    assert report["status"] == "draft" and report["period_label"] == PERIOD
    content = report["content"]
    # ALCOA+ checks from the audit trail, signatures and alert timeliness
    checks = {c["check"]: c for c in content["alcoa_checks"]}
    chain = checks["Audit trail hash chain recomputed end to end"]
    assert chain["result"] == "pass" and chain["records_checked"] > 0
    late = checks["Site alerts recorded at the hub within 24 h of detection"]
    assert (late["records_checked"], late["findings"], late["result"]) == (3, 1, "fail")
    assert 0 < content["data_integrity_score"] < 1
    # deviations: the critical alert and the drift alert with its work order as CAPA
    devs = {d["deviation_id"]: d for d in content["deviations"]}
    assert set(devs) == {f"ALERT-{critical.source_alert_id}", f"ALERT-{drift.source_alert_id}"}
    capa = devs[f"ALERT-{drift.source_alert_id}"]["capa"]
    assert [c["status"] for c in capa] == ["overdue"]  # due 1 March, still proposed at 1 April
    assert devs[f"ALERT-{critical.source_alert_id}"]["severity"] == "major"
    # the cold-chain excursion of the plant's lot
    [exc] = content["traceability_excursions"]
    assert exc["lot"] == docs.LOT and exc["max_temperature_cel"] == 9.4
    assert exc["handling"] == "under_review"
    # training coverage from the registered provider; evidence is pseudonymized
    assert any(row["required"] >= 1 for row in content["training_coverage"])
    assert report["sections"]["equipment_qualification"]["prefilled"] is False
    assert report["evidence_counts"]["training_coverage"] == 1

    # signing before every section is reviewed names the missing ones
    body = assert_problem(sign(client, helix, report["id"]), 422, "validation-error")
    assert "/sections/deviations/reviewed" in {e["pointer"] for e in body["errors"]}

    # the site admin completes the excursion handling and an OQ result, then reviews all
    exc["handling"] = "released"
    exc["justification"] = "Stability data cover 2 h at up to 10 °C; QA released the lot."
    resp = client.patch(f"/compliance/submissions/{report['id']}/sections/"
                        "traceability_excursions", headers=helix.admin,
                        json={"items": [exc], "reason": "handling decided by QA"})
    assert resp.status_code == 200, resp.text
    oq = {"protocol_id": "OQ-DRY-01", "equipment": "helix/basel/gran/l1/dryer-1", "stage": "OQ",
          "executed_at": "2026-02-20T10:00:00+00:00", "steps_total": 12, "steps_passed": 12,
          "result": "passed"}
    bad = client.patch(f"/compliance/submissions/{report['id']}/sections/"
                       "equipment_qualification", headers=helix.admin,
                       json={"items": [{**oq, "steps_passed": 11}]})
    problem = assert_problem(bad, 422, "validation-error")
    assert problem["errors"][0]["pointer"] == "/items/0/result"
    resp = client.patch(f"/compliance/submissions/{report['id']}/sections/"
                        "equipment_qualification", headers=helix.admin, json={"items": [oq]})
    assert resp.status_code == 200, resp.text
    report = review_all(client, helix, resp.json())

    # QA cannot co-sign before the site admin signed; then sign and co-sign
    assert_problem(cosign(client, helix, report["id"]), 409)
    signed = sign(client, helix, report["id"])
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed" and len(signed.json()["content_hash"]) == 64
    # the regulator cannot see it until QA co-signed
    assert client.get("/compliance/submissions", headers=world.regulator).json() == []
    approved = cosign(client, helix, report["id"])
    assert approved.status_code == 200, approved.text
    sigs = approved.json()["signatures"]
    assert [s["meaning"] for s in sigs] == ["responsible", "approved"]
    assert sigs[0]["signer_id"] == helix.admin_id and sigs[1]["signer_id"] == helix.qa_id

    # the regulator of the jurisdiction lists, reads and downloads it
    listed = client.get("/compliance/submissions", headers=world.regulator,
                        params={"since": "2026-01-01", "period": PERIOD, "status": "approved"})
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()] == [report["id"]]
    assert listed.json()[0]["organization_name"] == "Helix Pharma"
    read = client.get(f"/compliance/submissions/{report['id']}", headers=world.regulator)
    assert read.status_code == 200 and read.json()["content"]["traceability_excursions"][0][
        "handling"] == "released"
    dl = client.get(f"/compliance/submissions/{report['id']}/bundle", headers=world.regulator)
    assert dl.status_code == 200, dl.text
    assert dl.headers["content-type"] == "application/zip"
    assert "attachment" in dl.headers["content-disposition"]

    # offline verification against the JWKS the hub publishes
    jwks = client.get("/.well-known/jwks.json").json()
    result = verify_bundle(dl.content, jwks)
    assert result.ok, result.problems
    assert result.key_source == "given"
    files = _zip(dl.content)
    assert {"report.json", "report.pdf", "audit-excerpt.json", "model-lineage.json",
            "training-records.json", "jwks.json", "manifest.json", "manifest.jws"} <= set(files)
    assert files["report.pdf"].startswith(b"%PDF")
    manifest = json.loads(files["manifest.json"])
    assert {f["name"] for f in manifest["files"]} == set(files) - {"manifest.json",
                                                                    "manifest.jws"}
    exported = json.loads(files["report.json"])
    assert exported["report"] == read.json()["content"]
    assert [s["valid"] for s in exported["signatures"]] == [True, True]
    # personal data minimized: pseudonymous ids, role, qualification, validity only
    [record] = json.loads(files["training-records.json"])
    assert set(record) <= {"record_id", "person", "qualification", "course", "site_id",
                           "issued_at", "valid_until", "status"}
    assert record["person"]["role"] == "qa" and record["person"]["person_id"].startswith("p-")
    text = files["training-records.json"].decode()
    for leaked in ("Tess", "tess@example.org", "user-42", "cert-0001", "91.0"):
        assert leaked not in text
    # the audit excerpt covers the period and chains from the entry before it
    excerpt = json.loads(files["audit-excerpt.json"])
    assert excerpt["since"].startswith("2026-01-01") and excerpt["until"].startswith("2026-04-01")
    assert excerpt["chain_verification"]["ok"] is True


def test_models_in_production_from_the_registry(client: TestClient, session: Session,
                                                world: World) -> None:
    """Versions of the site's tasks in production during the period, with their indicators;
    their lineage travels in the bundle as model-lineage.json."""
    from hub.registry.models import ModelStatus, ModelVersion

    helix = world.helix
    with audit.reason(session, "the plant joins the equipment-anomaly task"):
        helix.site.tasks = ["equipment-anomaly"]
        session.add(helix.site)
    session.commit()
    common: dict[str, Any] = {"task": "equipment-anomaly", "code_hash": "c0ffee",
                              "task_version": "1.0.0", "artifact_sha256": "sha256:ab",
                              "artifact_size": 10}
    old = ModelVersion(version=1, status=ModelStatus.retired, passed=True,
                       promoted_at=IN_PERIOD - timedelta(days=90),
                       retired_at=IN_PERIOD + timedelta(days=7), run_id="run-1",
                       lineage={"run_id": "run-1", "rounds": 5}, **common,
                       indicators=[{"metric": "auc", "op": ">=", "threshold": 0.8,
                                    "value": 0.86, "passed": True}])
    new = ModelVersion(version=2, status=ModelStatus.production, passed=True,
                       promoted_at=IN_PERIOD + timedelta(days=7), run_id="run-2",
                       lineage={"run_id": "run-2", "rounds": 8}, **common,
                       indicators=[{"metric": "false_alarm_rate", "op": "<=",
                                    "threshold": 0.05, "value": 0.031, "passed": True}])
    later = ModelVersion(version=3, status=ModelStatus.candidate, passed=True, **common,
                         indicators=[])
    session.add_all([old, new, later])
    session.commit()
    report = draft(client, helix)
    models = report["content"]["models_in_production"]
    assert [(m["model"]["version"], m["validation_status"]) for m in models] == [
        ("v1", "retired"), ("v2", "validated")]
    [indicator] = models[1]["indicators"]
    assert indicator == {"metric": "false_alarm_rate", "direction": "lower_is_better",
                         "threshold": 0.05, "split": "test", "measured": 0.031, "passed": True}
    assert report["sections"]["models_in_production"]["source"] == "model registry"
    report = review_all(client, helix, report)
    assert sign(client, helix, report["id"]).status_code == 200
    assert cosign(client, helix, report["id"]).status_code == 200
    dl = client.get(f"/compliance/submissions/{report['id']}/bundle", headers=world.regulator)
    lineage = json.loads(_zip(dl.content)["model-lineage.json"])
    assert [(r["version"], r["lineage"]["run_id"]) for r in lineage] == [(1, "run-1"),
                                                                         (2, "run-2")]
