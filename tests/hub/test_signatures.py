"""Electronic signatures: password re-entry, meaning, binding to the record hash."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.audit import service as audit
from hub.config import Settings
from hub.identity.models import Organization
from tests.factories import PASSWORD, assert_problem, login, make_org, make_user


def _sign(client: TestClient, auth: dict[str, str], org_id: str, password: str = PASSWORD,
          meaning: str = "approved") -> object:
    return client.post("/signatures", headers=auth, json={
        "entity_type": "organization", "entity_id": org_id, "meaning": meaning,
        "password": password, "comment": "membership approved"})


def test_signature_records_name_time_meaning_and_verifies(client: TestClient, session: Session,
                                                          settings: Settings) -> None:
    op = make_org(session, kind="operator")
    make_user(session, settings, op, "hub_admin", username="signer1", full_name="Dr. Ada Signer")
    member = make_org(session, name="Helix Pharma")
    auth = login(client, "signer1")
    resp = _sign(client, auth, member.id)
    assert resp.status_code == 201, resp.text  # type: ignore[attr-defined]
    sig = resp.json()  # type: ignore[attr-defined]
    assert sig["printed_name"] == "Dr. Ada Signer" and sig["meaning"] == "approved"
    assert sig["signed_at"] and len(sig["record_hash"]) == 64
    check = client.get(f"/signatures/{sig['id']}/verify", headers=auth).json()
    assert check == {"signature_id": sig["id"], "valid": True, "problems": []}
    listed = client.get("/signatures", headers=auth,
                        params={"entity_type": "organization", "entity_id": member.id}).json()
    assert [s["id"] for s in listed] == [sig["id"]]
    signs = [e for e in session.exec(audit.select(audit.AuditEntry)) if e.action == "sign"]
    assert signs and signs[-1].entity_id == member.id


def test_wrong_password_does_not_sign(client: TestClient, session: Session,
                                      settings: Settings) -> None:
    op = make_org(session, kind="operator")
    make_user(session, settings, op, "hub_admin", username="signer2")
    member = make_org(session)
    resp = _sign(client, login(client, "signer2"), member.id, password="not-my-password")
    body = assert_problem(resp, 403, "signature-rejected")
    assert body["errors"][0]["pointer"] == "/password"
    assert client.get("/signatures", headers=login(client, "signer2"), params={
        "entity_type": "organization", "entity_id": member.id}).json() == []


def test_signature_breaks_when_the_record_changes(client: TestClient, session: Session,
                                                  settings: Settings) -> None:
    op = make_org(session, kind="operator")
    make_user(session, settings, op, "hub_admin", username="signer3")
    member = make_org(session, name="Original Name")
    auth = login(client, "signer3")
    sig = _sign(client, auth, member.id).json()  # type: ignore[attr-defined]
    org = session.get(Organization, member.id)
    assert org is not None
    with audit.reason(session, "renamed after merger"):
        org.name = "Renamed Pharma"
        session.add(org)
    session.commit()
    check = client.get(f"/signatures/{sig['id']}/verify", headers=auth).json()
    assert check["valid"] is False
    assert "changed since it was signed" in check["problems"][0]


def test_only_permitted_roles_sign(client: TestClient, session: Session,
                                   settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="nosigner")
    assert_problem(_sign(client, login(client, "nosigner"), org.id), 403, "permission-denied")


def test_unknown_record_type_is_a_clear_error(client: TestClient, session: Session,
                                              settings: Settings) -> None:
    op = make_org(session, kind="operator")
    make_user(session, settings, op, "hub_admin", username="signer4")
    resp = client.post("/signatures", headers=login(client, "signer4"), json={
        "entity_type": "nonsense", "entity_id": "x", "meaning": "approved",
        "password": PASSWORD})
    assert_problem(resp, 403)
