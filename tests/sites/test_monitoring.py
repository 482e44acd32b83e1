"""Hub monitoring API: exactly-once site messages, validation, triage with audit, scoping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.audit.models import AuditEntry
from hub.config import Settings
from hub.monitoring.models import Alert, Reading
from tests.factories import assert_problem, login, make_org, make_user
from tests.site_agent.readings import series
from tests.sites.helpers import World, enrolled_site, world


def alert(**over: Any) -> dict[str, Any]:
    body = {
        "alert_id": str(uuid.uuid4()), "site_id": "basel",
        "asset": {"enterprise": "helix-pharma", "site": "basel", "area": "granulation",
                  "unit": "line-1", "equipment": "fbd-101"},
        "measurement": "vibration", "detector": "zscore", "severity": "critical",
        "score": 7.5, "value": 9.1, "expected": 2.0, "unit": "mm/s",
        "message": "vibration 9.1 mm/s is +7.5 σ from its recent level 2",
        "raised_at": datetime.now(UTC).isoformat(), "reading_id": str(uuid.uuid4()),
        "scorer": "statistical",
    }
    body.update(over)
    return body


def work_order(alert_id: str, **over: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {
        "work_order_id": f"WO-{uuid.uuid4().hex[:12]}", "site_id": "basel",
        "asset": alert()["asset"], "predicted_failure_mode": "bearing_wear",
        "priority": "high", "recommended_action": "Inspect bearings and lubrication.",
        "due_date": (now + timedelta(days=7)).date().isoformat(),
        "source_alert_ids": [alert_id], "created_at": now.isoformat(), "status": "proposed",
    }
    body.update(over)
    return body


def agent(key: str, idem: str | None = None) -> dict[str, str]:
    headers = {"X-API-Key": key}
    if idem:
        headers["Idempotency-Key"] = idem
    return headers


def _site(client: TestClient, session: Session, settings: Settings,
          tmp_path: Path) -> tuple[World, str, str]:
    w = world(client, session, settings)
    site_id, _, key = enrolled_site(client, w, tmp_path)
    return w, site_id, key


def test_alert_is_applied_once_per_idempotency_key(client: TestClient, session: Session,
                                                   settings: Settings, tmp_path: Path) -> None:
    w, site_id, key = _site(client, session, settings, tmp_path)
    body = alert()
    first = client.post("/monitoring/alerts", headers=agent(key, "k-00000001"), json=body)
    assert first.status_code == 201, first.text
    again = client.post("/monitoring/alerts", headers=agent(key, "k-00000001"), json=body)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(session.exec(select(Alert).where(Alert.site_id == site_id)).all()) == 1
    other = client.post("/monitoring/alerts", headers=agent(key, "k-00000001"),
                        json=alert(score=1.0))
    assert_problem(other, 422, "idempotency-key-reused")
    missing = client.post("/monitoring/alerts", headers=agent(key), json=alert())
    assert assert_problem(missing, 422)["errors"][0]["pointer"] == "/headers/Idempotency-Key"
    # the same alert under a new key is a conflict, not a second alert
    dup = client.post("/monitoring/alerts", headers=agent(key, "k-00000002"), json=body)
    assert_problem(dup, 409)
    # people cannot post as a site
    assert_problem(client.post("/monitoring/alerts", headers={**w.site_admin,
                                                             "Idempotency-Key": "k-00000003"},
                               json=alert()), 403)


def test_alert_validation_names_every_field_and_the_site(client: TestClient, session: Session,
                                                         settings: Settings,
                                                         tmp_path: Path) -> None:
    _, _, key = _site(client, session, settings, tmp_path)
    bad = alert(severity="apocalyptic", measurement="mood", score="high")
    body = assert_problem(client.post("/monitoring/alerts", headers=agent(key, "k-bad-0001"),
                                      json=bad), 422)
    assert {"/body/severity", "/body/measurement", "/body/score"} <= {
        e["pointer"] for e in body["errors"]}
    other_site = alert(site_id="cork")
    body = assert_problem(client.post("/monitoring/alerts", headers=agent(key, "k-bad-0002"),
                                      json=other_site), 422)
    assert {e["pointer"] for e in body["errors"]} == {"/site_id"}


def test_work_orders_are_validated_against_the_standard(client: TestClient, session: Session,
                                                        settings: Settings,
                                                        tmp_path: Path) -> None:
    w, _, key = _site(client, session, settings, tmp_path)
    a = client.post("/monitoring/alerts", headers=agent(key, "k-wo-00001"), json=alert()).json()
    wo = work_order(a["source_alert_id"])
    resp = client.post("/monitoring/work-orders", headers=agent(key, "k-wo-00002"), json=wo)
    assert resp.status_code == 201, resp.text
    assert resp.json()["document"]["recommended_action"].startswith("Inspect bearings")
    late = work_order(a["source_alert_id"], due_date="2000-01-01")
    body = assert_problem(client.post("/monitoring/work-orders",
                                      headers=agent(key, "k-wo-00003"), json=late), 422)
    assert body["errors"][0]["pointer"] == "/due_date"
    personal = work_order(a["source_alert_id"],
                          assigned_to={"person_id": "tech-7", "name": "J. Doe"})
    body = assert_problem(client.post("/monitoring/work-orders",
                                      headers=agent(key, "k-wo-00004"), json=personal), 422)
    assert body["errors"][0]["pointer"] == "/assigned_to"
    assert "J. Doe" not in str(client.get("/monitoring/work-orders", headers=w.site_admin).json())


def test_readings_ingest_reports_bad_fields_and_skips_duplicates(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    _, site_id, key = _site(client, session, settings, tmp_path)
    batch = series("basel", 50)
    resp = client.post("/monitoring/readings", headers=agent(key, "k-rd-00001"), json=batch)
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"schema_id": "sensor-reading/1.0.0", "received": 50, "stored": 50,
                           "duplicates": 0}
    overlap = series("basel", 60)
    resp = client.post("/monitoring/readings", headers=agent(key, "k-rd-00002"), json=overlap)
    assert resp.json()["stored"] == 10 and resp.json()["duplicates"] == 50
    assert len(session.exec(select(Reading).where(Reading.site_id == site_id)).all()) == 60
    broken = series("basel", 3)
    broken[1]["measurements"]["vibration"]["unit"] = "furlongs"
    del broken[2]["timestamp"]
    body = assert_problem(client.post("/monitoring/readings", headers=agent(key, "k-rd-00003"),
                                      json=broken), 422)
    pointers = {e["pointer"] for e in body["errors"]}
    assert "/1/measurements/vibration/unit" in pointers and "/2/timestamp" in pointers
    foreign = series("cork", 2)
    body = assert_problem(client.post("/monitoring/readings", headers=agent(key, "k-rd-00004"),
                                      json=foreign), 422)
    assert {e["pointer"] for e in body["errors"]} == {"/0/site_id", "/1/site_id"}


def test_triage_needs_a_reason_and_is_audited(client: TestClient, session: Session,
                                              settings: Settings, tmp_path: Path) -> None:
    w, _site_id, key = _site(client, session, settings, tmp_path)
    a = client.post("/monitoring/alerts", headers=agent(key, "k-tr-00001"), json=alert()).json()
    assert_problem(client.post(f"/monitoring/alerts/{a['id']}/acknowledge", headers=w.site_admin,
                               json={}), 422)
    ack = client.post(f"/monitoring/alerts/{a['id']}/acknowledge", headers=w.site_admin,
                      json={"reason": "maintenance informed"})
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    res = client.post(f"/monitoring/alerts/{a['id']}/resolve", headers=w.site_admin,
                      json={"reason": "bearing replaced"})
    assert res.json()["status"] == "resolved" and res.json()["status_reason"] == "bearing replaced"
    assert_problem(client.post(f"/monitoring/alerts/{a['id']}/acknowledge",
                               headers=w.site_admin, json={"reason": "again"}), 409)
    reasons = [e.reason for e in session.exec(select(AuditEntry).where(
        AuditEntry.entity_id == a["id"], AuditEntry.action == "update"))]
    assert reasons == ["maintenance informed", "bearing replaced"]
    researcher = make_user(session, settings, w.member, "researcher")
    assert_problem(client.post(f"/monitoring/alerts/{a['id']}/resolve",
                               headers=login(client, researcher.username),
                               json={"reason": "not mine"}), 403)


def test_views_are_org_scoped_with_anonymous_consortium_totals(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    w, site_a, key_a = _site(client, session, settings, tmp_path)
    client.post("/monitoring/alerts", headers=agent(key_a, "k-vw-00001"), json=alert())
    other = make_org(session)
    other_admin = login(client, make_user(session, settings, other, "site_admin").username)
    w2 = World(other, w.operator, other_admin, w.hub_admin)
    site_b, _, key_b = enrolled_site(client, w2, tmp_path)
    for i in range(2):
        client.post("/monitoring/alerts", headers=agent(key_b, f"k-vw-1000{i}"),
                    json=alert(severity="warning", measurement="temperature"))
    mine = client.get("/monitoring/alerts", headers=w.site_admin).json()
    assert {a["site_id"] for a in mine} == {site_a}
    assert_problem(client.get("/monitoring/alerts", headers=w.site_admin,
                              params={"site_id": site_b}), 404)
    theirs = client.get("/monitoring/alerts", headers=w2.site_admin).json()
    assert_problem(client.get(f"/monitoring/alerts/{theirs[0]['id']}", headers=w.site_admin),
                   404)
    summary = client.get("/monitoring/summary", headers=w.site_admin).json()
    assert [s["site_id"] for s in summary["sites"]] == [site_a]
    assert summary["sites"][0]["open_alerts"] == 1 and summary["sites"][0]["critical_open"] == 1
    assert summary["consortium"]["open_alerts"] >= 3
    assert summary["consortium"]["alerts_by_severity"].get("warning", 0) >= 2
    assert site_b not in str(summary)
    everything = client.get("/monitoring/summary", headers=w.hub_admin).json()
    assert {site_a, site_b} <= {s["site_id"] for s in everything["sites"]}
    # a site agent sees only its own site's alerts
    own = client.get("/monitoring/alerts", headers=agent(key_b)).json()
    assert {a["site_id"] for a in own} == {site_b}
