"""Signed submissions are immutable through the API (409) and in the database (triggers);
a correction is a new version referencing the old one with a reason."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.audit.models import AuditEntry
from hub.compliance.models import ComplianceReport
from hub.config import Settings
from tests.compliance.conftest import Member, World, cosign, draft, review_all, sign, submitted
from tests.factories import PASSWORD, assert_problem, login, make_user


def _refused(session: Session, sql: str, **params: object) -> str:
    """Run raw SQL in a savepoint; the database must refuse it. Returns the error text."""
    with pytest.raises(sa.exc.DBAPIError) as info, session.begin_nested():
        session.execute(sa.text(sql), params)
    return str(info.value.orig)


def test_api_refuses_edits_and_deletion_once_signed(client: TestClient, world: World) -> None:
    helix = world.helix
    report = review_all(client, helix, draft(client, helix))
    assert sign(client, helix, report["id"]).status_code == 200
    url = f"/compliance/submissions/{report['id']}"
    edits: list[dict[str, object]] = [{"items": []}, {"reviewed": False}, {"note": "late"}]
    for body in edits:
        resp = client.patch(f"{url}/sections/deviations", headers=helix.admin, json=body)
        problem = assert_problem(resp, 409, "conflict")
        assert "immutable" in problem["detail"]
    assert_problem(client.delete(url, headers=helix.admin, params={"reason": "tidy up"}), 409)
    assert_problem(sign(client, helix, report["id"]), 409)  # no second "responsible" signature
    # still possible: QA co-signature, after which nothing changes either
    assert cosign(client, helix, report["id"]).status_code == 200
    assert_problem(cosign(client, helix, report["id"]), 409)
    assert_problem(client.patch(f"{url}/sections/deviations", headers=helix.admin,
                                json={"reviewed": True}), 409)


def test_database_refuses_changes_to_signed_rows(client: TestClient, session: Session,
                                                 world: World) -> None:
    helix = world.helix
    approved = submitted(client, helix)
    open_draft = draft(client, helix, "2026-Q2")
    rid = approved["id"]
    for sql in (
        "UPDATE compliance_report SET content = '{}' WHERE id = :id",
        "UPDATE compliance_report SET period_end = period_start WHERE id = :id",
        "UPDATE compliance_report SET signed_by = NULL WHERE id = :id",
        "UPDATE compliance_report SET status = 'draft' WHERE id = :id",
        "UPDATE compliance_report SET approved_at = NULL WHERE id = :id",
        "DELETE FROM compliance_report WHERE id = :id",
    ):
        assert "immutable" in _refused(session, sql, id=rid), sql
    # the draft stays editable in the database, and nothing changed on the signed row
    with session.begin_nested():
        session.execute(sa.text("UPDATE compliance_report SET correction_reason = 'x' "
                                "WHERE id = :id"), {"id": open_draft["id"]})
    session.expire_all()
    row = session.get(ComplianceReport, rid)
    assert row is not None and row.status == "approved" and row.content == approved["content"]
    # the access log is append-only as well
    resp = client.get(f"/compliance/submissions/{rid}", headers=world.regulator)
    assert resp.status_code == 200
    assert "append-only" in _refused(session, "DELETE FROM compliance_access")


def test_correction_is_a_new_version_and_supersedes_when_approved(
        client: TestClient, session: Session, world: World) -> None:
    helix = world.helix
    v1 = submitted(client, helix)
    url = f"/compliance/submissions/{v1['id']}/corrections"
    assert_problem(client.post(url, headers=helix.admin, json={"reason": "no"}), 422)
    resp = client.post(url, headers=helix.admin,
                       json={"reason": "Deviation DEV-7 was closed on 28 March, not open"})
    assert resp.status_code == 201, resp.text
    v2 = resp.json()
    assert (v2["version"], v2["supersedes_id"], v2["status"]) == (2, v1["id"], "draft")
    assert v2["correction_reason"].startswith("Deviation DEV-7")
    assert v2["content"]["report_id"] == v2["id"]
    assert not any(s["reviewed"] for s in v2["sections"].values())
    # only the latest version can be corrected, and only one draft at a time
    assert_problem(client.post(url, headers=helix.admin, json={"reason": "second try"}), 409)
    # a new draft for the same period is refused: corrections are the way
    resp = client.post("/compliance/submissions", headers=helix.admin,
                       json={"site_id": helix.site.id, "period": "2026-Q1"})
    assert_problem(resp, 409)
    v2 = review_all(client, helix, v2)
    assert sign(client, helix, v2["id"]).status_code == 200
    # until QA approves the correction, v1 is what regulators see
    ids = [r["id"] for r in client.get("/compliance/submissions",
                                       headers=world.regulator).json()]
    assert ids == [v1["id"]]
    assert cosign(client, helix, v2["id"]).status_code == 200
    listed = {r["id"]: r for r in client.get("/compliance/submissions",
                                             headers=world.regulator).json()}
    assert listed[v1["id"]]["status"] == "superseded"
    assert listed[v1["id"]]["superseded_by_id"] == v2["id"]
    assert listed[v2["id"]]["status"] == "approved"
    # v1's signatures are still valid: what they signed did not change
    for sig in client.get(f"/compliance/submissions/{v1['id']}",
                          headers=helix.qa).json()["signatures"]:
        check = client.get(f"/signatures/{sig['id']}/verify", headers=helix.qa).json()
        assert check["valid"], check
    # every step is in the audit trail with its reason
    reasons = {e.reason for e in session.exec(select(AuditEntry).where(
        col(AuditEntry.entity_id) == v1["id"]))}
    assert "co-signed by QA (approved)" in reasons


def test_separation_of_duties_and_roles(client: TestClient, session: Session, world: World,
                                        settings: Settings) -> None:
    helix = world.helix
    report = review_all(client, helix, draft(client, helix))
    # QA cannot sign as responsible, the regulator cannot touch drafts, meaning is fixed
    assert_problem(client.post(f"/compliance/submissions/{report['id']}/sign",
                               headers=helix.qa, json={"password": "x"}), 403)
    assert_problem(client.patch(f"/compliance/submissions/{report['id']}/sections/deviations",
                                headers=world.regulator, json={"reviewed": True}), 403)
    resp = client.post(f"/compliance/submissions/{report['id']}/sign", headers=helix.admin,
                       json={"password": "Correct-Horse-42!", "meaning": "approved"})
    assert assert_problem(resp, 422)["errors"][0]["pointer"] == "/meaning"
    wrong = client.post(f"/compliance/submissions/{report['id']}/sign", headers=helix.admin,
                        json={"password": "not-the-password"})
    assert_problem(wrong, 403, "signature-rejected")
    # the generic signature endpoint cannot bypass the flow
    resp = client.post("/signatures", headers=helix.admin, json={
        "entity_type": "compliance_report", "entity_id": report["id"], "meaning": "approved",
        "password": "Correct-Horse-42!"})
    assert_problem(resp, 403)
    assert client.get(f"/compliance/submissions/{report['id']}",
                      headers=helix.admin).json()["status"] == "draft"

    # one person holding both roles cannot co-sign what they signed as responsible
    both = make_user(session, settings, helix.org, "site_admin", "qa", username="sam.both")
    auth = login(client, both.username)
    solo = Member(helix.org, helix.site, auth, auth, both.id, both.id)
    assert sign(client, solo, report["id"]).status_code == 200
    problem = assert_problem(cosign(client, solo, report["id"]), 403)
    assert "someone other" in problem["detail"]
    assert cosign(client, helix, report["id"]).status_code == 200
    assert PASSWORD


def test_a_concurrent_second_draft_is_a_conflict_not_an_error(
        client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two site admins starting the same period at once: the unique version number decides."""
    from hub.compliance import service

    helix = world.helix
    draft(client, helix)
    monkeypatch.setattr(service, "versions", lambda *a, **k: [])  # the race: neither saw it
    resp = client.post("/compliance/submissions", headers=helix.admin,
                       json={"site_id": helix.site.id, "period": "2026-Q1"})
    assert "just started" in assert_problem(resp, 409, "conflict")["detail"]
