"""Organizations with something in every domain, made through the real API.

``populate`` gives one pharma organization its people (one per role), an enrolled site with
its machine key, an organization API key, a screen, a requested federated run, a compliance
draft (reviewed and signed, so it has a signature), a course of its own with an attachment, a
trainee's enrollment, attempt, certificate and notice, traceability product, events, a cold-chain
alert, a monitoring alert and a work order. ``Member.ids`` names each object by the path
parameter that addresses it (``site_id``, ``screen_id``, ``trace_alert_id``, ...).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from hub.identity.models import Organization
from tests.factories import PASSWORD, login, make_user
from tests.sites.helpers import World, enrolled_site
from tests.traceability import docs
from tests.training_portal.conftest import answer_key

PEOPLE = ("site_admin", "qa", "researcher", "instructor", "trainee")
SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "CC(=O)Nc1ccc(O)cc1"]


@dataclass
class Member:
    """One organization: its people's headers (and its site's key as ``machine``), its ids."""

    org_id: str
    name: str
    headers: dict[str, dict[str, str]]
    ids: dict[str, str] = field(default_factory=dict)


def ok(resp: Any, *status: int) -> Any:
    assert resp.status_code in (status or (200, 201)), f"{resp.request.url}: {resp.text}"
    return resp.json() if resp.content else None


def gtin_check(body: str) -> str:
    """GS1 check digit for the 13 digits of a GTIN-14 without it."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def epcis(prefix: str, lot: str, tag: str) -> tuple[str, list[dict[str, Any]]]:
    """The cold-chain documents of ``tests.traceability.docs`` under another GS1 company
    prefix, lot and event ids: (GTIN, [plant, carrier] documents)."""
    gtin = gtin_check("0" + prefix + "45678")
    out = []
    for doc in (docs.plant_document(), docs.carrier_document()):
        text = json.dumps(doc).replace("9520123", prefix).replace(docs.LOT, lot)
        out.append(json.loads(text.replace("6f0e4b1e-", f"{tag}-")))
    return gtin, out


def monitoring_alert() -> dict[str, Any]:
    return {
        "alert_id": str(uuid.uuid4()), "site_id": "basel",
        "asset": {"enterprise": "helix-pharma", "site": "basel", "area": "granulation",
                  "unit": "line-1", "equipment": "fbd-101"},
        "measurement": "vibration", "detector": "zscore", "severity": "critical",
        "score": 7.5, "value": 9.1, "expected": 2.0, "unit": "mm/s",
        "message": "vibration 9.1 mm/s is +7.5 sigma from its recent level 2",
        "raised_at": datetime.now(UTC).isoformat(), "reading_id": str(uuid.uuid4()),
        "scorer": "statistical"}


def work_order(alert_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "work_order_id": f"WO-{uuid.uuid4().hex[:12]}", "site_id": "basel",
        "asset": monitoring_alert()["asset"], "predicted_failure_mode": "bearing_wear",
        "priority": "high", "recommended_action": "Inspect bearings and lubrication.",
        "due_date": (now + timedelta(days=7)).date().isoformat(),
        "source_alert_ids": [alert_id], "created_at": now.isoformat(), "status": "proposed"}


def course(slug: str) -> dict[str, Any]:
    """A small course of the organization's own (two modules, two questions a draw)."""
    return {
        "slug": slug, "title": f"Cleanroom gowning ({slug})",
        "summary": "Gown for a grade B cleanroom without contaminating the garment.",
        "qualification_name": f"Grade B gowning {slug}", "validity_months": 12,
        "pass_mark": 0.5, "attempt_limit": 3, "time_limit_minutes": 15,
        "questions_per_attempt": 2,
        "modules": [{"slug": "order", "title": "Gowning order", "minutes": 10,
                     "body": "Hood, mask, coverall, boots, gloves."},
                    {"slug": "glove", "title": "Glove changes", "minutes": 5,
                     "body": "Change gloves after touching any non-sterile surface."}],
        "questions": [
            {"id": "g1", "type": "single_choice", "module": "order", "prompt": "First item?",
             "options": [{"id": "a", "text": "Hood"}, {"id": "b", "text": "Boots"}],
             "answer": "a"},
            {"id": "g2", "type": "numeric", "module": "glove",
             "prompt": "Minutes per hand wash?", "value": 2, "tolerance": 0, "unit": "min"}]}


def _wait_screen(client: TestClient, auth: dict[str, str], screen_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = ok(client.get(f"/screens/{screen_id}", headers=auth))
        if body["status"] not in ("queued", "running"):
            assert body["status"] == "completed", body
            return
        time.sleep(0.2)
    raise AssertionError(f"screen {screen_id} did not finish")


def populate(client: TestClient, session: Session, settings: Settings, tmp: Path,
             org: Organization, tag: str, operator: Organization,
             hub_admin: dict[str, str], gs1_prefix: str) -> Member:
    """Give ``org`` people and one object of every kind (see the module docstring)."""
    h: dict[str, dict[str, str]] = {}
    ids: dict[str, str] = {"org_id": org.id}
    for role in PEOPLE:
        user = make_user(session, settings, org, role, username=f"{tag}-{role}",
                         full_name=f"{tag.title()} {role.replace('_', ' ').title()}")
        h[role] = login(client, user.username)
        ids[f"{role}_user_id"] = user.id
    ids["user_id"] = ids["researcher_user_id"]
    m = Member(org.id, org.name, h, ids)

    # sites: an enrolled site with its machine key, the site key, an organization API key
    w = World(org, operator, h["site_admin"], hub_admin)
    caps = {"datasets": [], "tasks": ["anomaly-detection", "equipment-anomaly"]}
    site_id, _keys, api_key = enrolled_site(client, w, tmp, capabilities=caps,
                                            name=f"{org.name} plant")
    h["machine"] = {"X-API-Key": api_key}
    ids["site_id"] = site_id
    ids["key_id"] = ok(client.get(f"/sites/{site_id}/keys", headers=h["site_admin"]))[0]["id"]
    ids["api_key_id"] = ok(client.post("/api-keys", headers=h["site_admin"],
                                       json={"name": f"{tag} gateway"}))["id"]

    # monitoring: an alert and a work order sent by the site
    def site_msg() -> dict[str, str]:
        return {**h["machine"], "Idempotency-Key": f"{tag}-{uuid.uuid4()}"}

    alert = ok(client.post("/monitoring/alerts", headers=site_msg(), json=monitoring_alert()))
    ids["alert_id"] = alert["id"]
    ids["wo_id"] = ok(client.post("/monitoring/work-orders", headers=site_msg(),
                                  json=work_order(alert["source_alert_id"])))["id"]

    # screening: a small screen run to completion
    screen = ok(client.post("/screens", headers=h["machine"],
                            json={"name": f"{tag} hits", "smiles": SMILES}), 202)
    ids["screen_id"] = screen["id"]
    _wait_screen(client, h["researcher"], screen["id"])

    # federation: a requested run on the organization's own site (not executed)
    ids["run_id"] = ok(client.post("/federation/runs", headers=h["researcher"], json={
        "task": "equipment-anomaly", "site_ids": [site_id], "min_sites": 1, "rounds": 1}))["id"]

    # compliance: a draft for the site, reviewed section by section, signed by the site admin
    report = ok(client.post("/compliance/submissions", headers=h["site_admin"],
                            json={"site_id": site_id, "period": "2026-Q1"}))
    ids["report_id"] = report["id"]
    ids["section"] = next(iter(report["sections"]))
    for name in report["sections"]:
        ok(client.patch(f"/compliance/submissions/{report['id']}/sections/{name}",
                        headers=h["site_admin"],
                        json={"reviewed": True, "reason": "checked against site records"}))
    ok(client.post(f"/compliance/submissions/{report['id']}/sign", headers=h["site_admin"],
                   json={"password": PASSWORD, "comment": "complete and accurate"}))
    sigs = ok(client.get("/signatures", headers=h["site_admin"],
                         params={"entity_type": "compliance_report", "entity_id": report["id"]}))
    ids["sig_id"] = sigs[0]["id"]

    # training: the organization's own course (with an attachment), passed by its trainee
    slug = f"gowning-{tag}"
    created = ok(client.post("/training/courses", headers=h["instructor"], json=course(slug)))
    ids["course_ref"] = slug
    ids["course_id"] = created["id"]
    ids["qualification_id"] = created["qualification_id"]
    ids["module_id"] = created["modules"][0]["id"]
    ids["attachment_id"] = ok(client.post(
        f"/training/modules/{ids['module_id']}/attachments", headers=h["instructor"],
        files={"file": (f"{tag}-sop.txt", b"gowning SOP", "text/plain")}))["id"]
    ok(client.post(f"/training/courses/{slug}/publish", headers=h["instructor"]))
    enrollment = ok(client.post("/training/enrollments", headers=h["trainee"],
                                json={"course_id": slug}))
    ids["enrollment_id"] = enrollment["id"]
    detail = ok(client.get(f"/training/enrollments/{enrollment['id']}", headers=h["trainee"]))
    for module in detail["modules"]:
        ok(client.post(f"/training/enrollments/{enrollment['id']}/modules/{module['slug']}"
                       "/complete", headers=h["trainee"]))
    ids["module_ref"] = detail["modules"][0]["slug"]
    attempt = ok(client.post(f"/training/enrollments/{enrollment['id']}/attempts",
                             headers=h["trainee"]))
    ids["attempt_id"] = attempt["id"]
    answers = answer_key(session, attempt["id"])
    session.rollback()  # release SQLite's write lock (every transaction begins IMMEDIATE)
    grade = ok(client.post(f"/training/attempts/{attempt['id']}/submit", headers=h["trainee"],
                           json={"answers": answers}))
    assert grade["passed"], grade
    certs = ok(client.get("/training/certificates", headers=h["trainee"]))
    ids["certificate_id"] = certs[0]["id"]
    notes = ok(client.get("/training/notifications", headers=h["trainee"]))
    if notes:
        ids["notification_id"] = notes[0]["id"]

    # traceability: a product, the plant's and the carrier's events, the excursion's alert
    lot = f"LOT-{tag.upper()}-1"
    gtin, documents = epcis(gs1_prefix, lot, uuid.uuid4().hex[:8])
    ids["gtin"], ids["lot"] = gtin, lot
    ok(client.put(f"/traceability/products/{gtin}", headers=h["site_admin"],
                  json={"name": f"Vaccine {tag}", "min_celsius": 2, "max_celsius": 8}))
    for doc in documents:
        ok(client.post("/traceability/capture", headers=h["site_admin"], json=doc))
    events = ok(client.get("/traceability/events", headers=h["site_admin"],
                           params={"lot": lot}))
    ids["event_pk"] = str(events[0]["id"])
    ids["trace_alert_id"] = ok(client.get("/traceability/alerts",
                                          headers=h["site_admin"]))[0]["id"]
    return m
