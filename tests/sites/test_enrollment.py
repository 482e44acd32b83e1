"""Enrollment: token submission, signed approval/rejection, sealed credentials, org scoping."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.audit.models import AuditEntry, ESignature
from hub.config import Settings
from hub.identity.models import ApiKey
from site_agent import keys
from tests.factories import assert_problem, login, make_org, make_user
from tests.sites.helpers import (
    agent_enroll,
    approve,
    enrolled_site,
    new_keys,
    poll,
    site_body,
    token_for,
    world,
)


def test_agent_enrolls_admin_approves_with_signature_agent_gets_sealed_key(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    k = new_keys(tmp_path)
    token = token_for(client, w.site_admin)
    resp = agent_enroll(client, token, site_body(k.public, name="Basel Fill-Finish"))
    assert resp.status_code == 201, resp.text
    site = resp.json()
    assert site["status"] == "pending" and site["organization_id"] == w.member.id
    assert site["key_fingerprint"] == keys.fingerprint(k.private)
    assert site["location"]["work_center"] == "line-3"
    # a token is single use
    again = agent_enroll(client, token, site_body(new_keys(tmp_path).public))
    assert_problem(again, 401, "authentication-required")
    # pending: the agent learns it is waiting, no key yet
    pending = poll(client, site["id"], k).json()
    assert pending["status"] == "pending" and pending["api_key"] is None
    # wrong password: not approved, nothing issued
    bad = approve(client, w.hub_admin, site["id"], password="Not-The-Password-1")
    assert_problem(bad, 403, "signature-rejected")
    assert client.get(f"/sites/{site['id']}", headers=w.hub_admin).json()["status"] == "pending"
    ok = approve(client, w.hub_admin, site["id"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "active" and "key" not in ok.text.lower().replace(
        "key_fingerprint", "")
    sig = session.exec(select(ESignature).where(ESignature.entity_id == site["id"])).one()
    assert sig.meaning == "approved" and sig.printed_name == "Dr. Hub Admin"
    check = client.get(f"/signatures/{sig.id}/verify", headers=w.hub_admin).json()
    assert check["valid"] is True
    # the agent opens the sealed key with its private key; nobody else can
    body = poll(client, site["id"], k).json()
    assert body["status"] == "active"
    api_key = keys.open_sealed(k.private, body["api_key"], site["id"]).decode()
    assert api_key.startswith("fhk_") and api_key not in str(body)
    other = new_keys(tmp_path)
    try:
        keys.open_sealed(other.private, body["api_key"], site["id"])
        raise AssertionError("a different key opened the sealed API key")
    except Exception as exc:  # InvalidTag
        assert type(exc).__name__ == "InvalidTag"
    # the key works and belongs to this site; first use erases the sealed copy
    me = client.get("/sites/me", headers={"X-API-Key": api_key})
    assert me.status_code == 200 and me.json()["id"] == site["id"]
    assert poll(client, site["id"], k).json()["api_key"] is None
    row = session.exec(select(ApiKey).where(ApiKey.site_id == site["id"])).one()
    assert row.organization_id == w.member.id


def test_heartbeat_updates_last_contact_and_agent_version(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    site_id, _, api_key = enrolled_site(client, w, tmp_path)
    hb = client.post("/sites/me/heartbeat", headers={"X-API-Key": api_key},
                     json={"agent_version": "0.2.0", "outbox_pending": 3})
    assert hb.status_code == 200, hb.text
    detail = client.get(f"/sites/{site_id}", headers=w.site_admin).json()
    assert detail["agent_version"] == "0.2.0"
    seen = datetime.fromisoformat(detail["last_contact_at"].replace("Z", "+00:00"))
    assert seen == datetime.fromisoformat(hb.json()["server_time"].replace("Z", "+00:00"))
    # heartbeats are not audited changes needing reasons, and people cannot send them
    assert_problem(client.post("/sites/me/heartbeat", headers=w.site_admin,
                               json={"agent_version": "x"}), 403)


def test_proof_of_possession_is_required_for_credentials(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    k = new_keys(tmp_path)
    site_id = agent_enroll(client, token_for(client, w.site_admin),
                           site_body(k.public)).json()["id"]
    approve(client, w.hub_admin, site_id)
    intruder = new_keys(tmp_path)
    assert_problem(poll(client, site_id, intruder), 401)
    stale = keys.proof(k.private, site_id, "credentials")
    stale["timestamp"] = "2020-01-01T00:00:00+00:00"
    assert_problem(client.post(f"/sites/{site_id}/credentials", json=stale), 401)
    wrong_purpose = keys.proof(k.private, site_id, "something-else")
    assert_problem(client.post(f"/sites/{site_id}/credentials", json=wrong_purpose), 401)
    assert_problem(poll(client, "no-such-site", k), 401)


def test_only_flower_compatible_public_keys_are_accepted(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    ssh = serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    rsa_pub = rsa.generate_private_key(65537, 2048).public_key().public_bytes(*ssh).decode()
    ed_pub = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(*ssh).decode()
    k1_pem = ec.generate_private_key(ec.SECP256K1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    for pub in (rsa_pub, ed_pub, k1_pem, "ecdsa-sha2-nistp384 not-base64-at-all"):
        resp = client.post("/sites", headers=w.site_admin, json=site_body(pub))
        body = assert_problem(resp, 422, "validation-error")
        assert body["errors"][0]["pointer"] == "/public_key", body
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(*ssh).decode()
    assert client.post("/sites", headers=w.site_admin, json=site_body(p256)).status_code == 201
    dup = client.post("/sites", headers=w.site_admin, json=site_body(p256))
    assert_problem(dup, 409, "conflict")


def test_request_validation_names_every_offending_field(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    body = site_body(new_keys(tmp_path).public, kind="warehouse")
    body["location"] = {"site": "Basel Plant"}
    body["capabilities"] = {"datasets": ["not a standard"], "tasks": ["Bad Task!"]}
    resp = client.post("/sites", headers=w.site_admin, json=body)
    pointers = {e["pointer"] for e in assert_problem(resp, 422)["errors"]}
    assert {"/body/kind", "/body/location/enterprise", "/body/location/site",
            "/body/capabilities/datasets",
            "/body/capabilities/tasks"} <= pointers


def test_rejection_is_signed_with_a_reason(client: TestClient, session: Session,
                                           settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    k = new_keys(tmp_path)
    site_id = client.post("/sites", headers=w.site_admin,
                          json=site_body(k.public)).json()["id"]
    no_reason = client.post(f"/sites/{site_id}/reject", headers=w.hub_admin,
                            json={"password": "Correct-Horse-42!"})
    assert assert_problem(no_reason, 422)["errors"][0]["pointer"] == "/comment"
    resp = client.post(f"/sites/{site_id}/reject", headers=w.hub_admin,
                       json={"password": "Correct-Horse-42!", "comment": "unknown plant"})
    assert resp.status_code == 200 and resp.json()["status"] == "rejected"
    assert resp.json()["status_reason"] == "unknown plant"
    sig = session.exec(select(ESignature).where(ESignature.entity_id == site_id)).one()
    assert sig.meaning == "reviewed" and "unknown plant" in (sig.comment or "")
    assert_problem(approve(client, w.hub_admin, site_id), 409, "conflict")
    polled = poll(client, site_id, k).json()
    assert polled["status"] == "rejected" and polled["api_key"] is None


def test_only_hub_admins_decide(client: TestClient, session: Session, settings: Settings,
                                tmp_path: Path) -> None:
    w = world(client, session, settings)
    site_id = client.post("/sites", headers=w.site_admin,
                          json=site_body(new_keys(tmp_path).public)).json()["id"]
    assert_problem(approve(client, w.site_admin, site_id), 403, "permission-denied")
    researcher = make_user(session, settings, w.member, "researcher")
    resp = client.post("/sites", headers=login(client, researcher.username),
                       json=site_body(new_keys(tmp_path).public))
    assert_problem(resp, 403, "permission-denied")


def test_sites_are_scoped_to_the_organization(client: TestClient, session: Session,
                                              settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    mine = client.post("/sites", headers=w.site_admin,
                       json=site_body(new_keys(tmp_path).public, name="Mine")).json()
    other_org = make_org(session)
    other_admin = login(client, make_user(session, settings, other_org, "site_admin").username)
    theirs = client.post("/sites", headers=other_admin,
                         json=site_body(new_keys(tmp_path).public, name="Theirs")).json()
    names = {s["name"] for s in client.get("/sites", headers=w.site_admin).json()}
    assert "Mine" in names and "Theirs" not in names
    assert_problem(client.get(f"/sites/{theirs['id']}", headers=w.site_admin), 404)
    assert_problem(client.post(f"/sites/{theirs['id']}/revoke", headers=w.site_admin,
                               json={"reason": "hostile"}), 404)
    everyone = {s["id"] for s in client.get("/sites", headers=w.hub_admin).json()}
    assert {mine["id"], theirs["id"]} <= everyone
    pending = client.get("/sites", headers=w.hub_admin, params={"status": "pending"}).json()
    assert all(s["status"] == "pending" for s in pending)
    # a site admin cannot file a request for another organization
    resp = client.post("/sites", headers=w.site_admin, json=site_body(
        new_keys(tmp_path).public, organization_id=other_org.id))
    assert_problem(resp, 403)


def test_enrollment_is_audited(client: TestClient, session: Session, settings: Settings,
                               tmp_path: Path) -> None:
    w = world(client, session, settings)
    site_id, _, _ = enrolled_site(client, w, tmp_path)
    actions = [(e.entity_type, e.action) for e in session.exec(
        select(AuditEntry).where(AuditEntry.entity_id == site_id))]
    assert ("site", "create") in actions and ("site", "sign") in actions
    assert ("site", "update") in actions
    api_keys = session.exec(select(AuditEntry).where(AuditEntry.entity_type == "api_key")).all()
    assert api_keys and all("fhk_" not in str(e.new_values) for e in api_keys)
