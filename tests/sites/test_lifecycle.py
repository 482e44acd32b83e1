"""Site lifecycle: revocation refuses at once, suspension, key and API key rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.audit.models import AuditEntry
from hub.config import Settings
from hub.identity.models import ApiKey
from hub.sites import flows
from hub.sites.models import Site, SiteKey, SiteKind
from site_agent import keys
from tests.factories import assert_problem
from tests.sites.helpers import enrolled_site, new_keys, poll, world


class RecordingRegistrar(flows.SuperNodeRegistrar):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def register(self, site: Site, key: SiteKey) -> str | None:
        self.calls.append(("register", key.fingerprint))
        return str(len(self.calls))

    def unregister(self, site: Site, key: SiteKey) -> None:
        self.calls.append(("unregister", key.fingerprint))


@pytest.fixture
def registrar() -> Any:
    rec = RecordingRegistrar()
    flows.set_registrar(rec)
    yield rec
    flows.set_registrar(flows.RecordOnlyRegistrar())


def test_revoked_site_is_refused_at_once(client: TestClient, session: Session,
                                         settings: Settings, tmp_path: Path,
                                         registrar: RecordingRegistrar) -> None:
    w = world(client, session, settings)
    site_id, k, api_key = enrolled_site(client, w, tmp_path)
    agent = {"X-API-Key": api_key}
    assert client.get("/sites/me", headers=agent).status_code == 200
    assert_problem(client.post(f"/sites/{site_id}/revoke", headers=w.site_admin, json={}), 422)
    resp = client.post(f"/sites/{site_id}/revoke", headers=w.site_admin,
                       json={"reason": "plant decommissioned"})
    assert resp.status_code == 200 and resp.json()["status"] == "revoked"
    assert resp.json()["key_fingerprint"] is None
    # the very next call from the agent is refused, on every route
    body = assert_problem(client.get("/sites/me", headers=agent), 401)
    assert "revoked" in body["detail"]
    assert_problem(client.post("/sites/me/heartbeat", headers=agent,
                               json={"agent_version": "0.1.0"}), 401)
    # API keys and site keys were revoked in the same transaction, with the reason audited
    session.expire_all()
    rows = session.exec(select(ApiKey).where(ApiKey.site_id == site_id)).all()
    assert rows and all(r.revoked_at is not None for r in rows)
    sk = session.exec(select(SiteKey).where(SiteKey.site_id == site_id)).all()
    assert all(s.status == "revoked" for s in sk)
    assert ("unregister", keys.fingerprint(k.private)) in registrar.calls
    reasons = {e.reason for e in session.exec(select(AuditEntry).where(
        AuditEntry.entity_id == site_id, AuditEntry.action == "update"))}
    assert "plant decommissioned" in reasons
    # the proof of possession no longer gets anything either
    assert_problem(poll(client, site_id, k), 401)


def test_suspended_site_is_refused_until_resumed(client: TestClient, session: Session,
                                                 settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    site_id, _, api_key = enrolled_site(client, w, tmp_path)
    agent = {"X-API-Key": api_key}
    assert_problem(client.post(f"/sites/{site_id}/suspend", headers=w.site_admin,
                               json={"reason": "audit"}), 403)
    assert client.post(f"/sites/{site_id}/suspend", headers=w.hub_admin,
                       json={"reason": "GMP audit finding"}).json()["status"] == "suspended"
    body = assert_problem(client.get("/sites/me", headers=agent), 403)
    assert "suspended" in body["detail"]
    assert client.post(f"/sites/{site_id}/resume", headers=w.hub_admin,
                       json={"reason": "finding closed"}).json()["status"] == "active"
    assert client.get("/sites/me", headers=agent).status_code == 200


def test_agent_rotates_its_public_key(client: TestClient, session: Session, settings: Settings,
                                      tmp_path: Path, registrar: RecordingRegistrar) -> None:
    w = world(client, session, settings)
    site_id, old, api_key = enrolled_site(client, w, tmp_path)
    new = new_keys(tmp_path)
    resp = client.post(f"/sites/{site_id}/keys", headers={"X-API-Key": api_key},
                       json={"public_key": new.public, "reason": "yearly rotation"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["fingerprint"] == keys.fingerprint(new.private)
    assert resp.json()["status"] == "active"
    listed = {k["fingerprint"]: k["status"] for k in
              client.get(f"/sites/{site_id}/keys", headers=w.site_admin).json()}
    assert listed == {keys.fingerprint(old.private): "retired",
                      keys.fingerprint(new.private): "active"}
    assert registrar.calls[-2:] == [("unregister", keys.fingerprint(old.private)),
                                    ("register", keys.fingerprint(new.private))]
    assert_problem(poll(client, site_id, old), 401)
    assert poll(client, site_id, new).status_code == 200
    # a key used before can never come back
    again = client.post(f"/sites/{site_id}/keys", headers=w.site_admin,
                        json={"public_key": old.public})
    assert_problem(again, 409)
    # the enrollment signature still verifies: it covers the request as approved
    sigs = client.get("/signatures", headers=w.hub_admin,
                      params={"entity_type": "site", "entity_id": site_id}).json()
    check = client.get(f"/signatures/{sigs[0]['id']}/verify", headers=w.hub_admin).json()
    assert check["valid"] is True


def test_other_sites_cannot_touch_a_sites_keys(client: TestClient, session: Session,
                                               settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    site_a, _, _ = enrolled_site(client, w, tmp_path)
    _, _, key_b = enrolled_site(client, w, tmp_path)
    resp = client.post(f"/sites/{site_a}/keys", headers={"X-API-Key": key_b},
                       json={"public_key": new_keys(tmp_path).public})
    assert_problem(resp, 404)


def test_api_key_rotation_revokes_the_old_and_seals_a_new_one(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    w = world(client, session, settings)
    site_id, k, api_key = enrolled_site(client, w, tmp_path)
    resp = client.post(f"/sites/{site_id}/api-key/rotate", headers={"X-API-Key": api_key},
                       json={"reason": "key file copied to a shared drive"})
    assert resp.status_code == 200, resp.text
    assert "fhk_" not in resp.text
    assert_problem(client.get("/sites/me", headers={"X-API-Key": api_key}), 401)
    sealed = poll(client, site_id, k).json()["api_key"]
    fresh = keys.open_sealed(k.private, sealed, site_id).decode()
    assert fresh != api_key and fresh.split("_")[1] == resp.json()["api_key_prefix"]
    assert client.get("/sites/me", headers={"X-API-Key": fresh}).status_code == 200


def test_flwr_cli_registrar_drives_the_flwr_command(tmp_path: Path) -> None:
    log = tmp_path / "calls.txt"
    fake = tmp_path / "flwr"
    fake.write_text("#!/bin/sh\n"
                    f"echo \"$@\" >> {log}\n"
                    "if [ \"$2\" = register ]; then cat \"$3\" >> " + str(log) + "; fi\n"
                    "echo '{\"success\": true, \"node-id\": 4242}'\n")
    fake.chmod(0o755)
    k = new_keys(tmp_path)
    reg = flows.FlwrCliRegistrar("fedhub-link", flwr=str(fake))
    site = Site(name="Basel", organization_id="o", kind=SiteKind.plant, requested_by="u")
    key = SiteKey(site_id="s", public_key=keys.public_text(k.private), fingerprint="fp")
    assert reg.register(site, key) == "4242"
    key.supernode_id = "4242"
    reg.unregister(site, key)
    text = log.read_text()
    assert "supernode register" in text and "fedhub-link --name Basel --format json" in text
    assert keys.public_text(k.private) in text
    assert "supernode unregister 4242 fedhub-link --format json" in text
    failing = tmp_path / "flwr-fail"
    failing.write_text("#!/bin/sh\necho 'SuperLink unreachable' >&2\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(flows.RegistrarFailed, match="unreachable"):
        flows.FlwrCliRegistrar("x", flwr=str(failing)).register(site, key)
