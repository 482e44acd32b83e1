"""Login, lockout, password policy, roles, organization scoping and API keys."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from hub.identity.models import User
from tests.factories import PASSWORD, assert_problem, login, make_org, make_user


def test_login_returns_short_lived_token_and_me(client: TestClient, session: Session,
                                                settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="alice")
    resp = client.post("/auth/token", data={"username": "alice", "password": PASSWORD})
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    me = client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert me["username"] == "alice" and me["organization"]["id"] == org.id


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, session: Session,
                                                       settings: Settings) -> None:
    make_user(session, settings, make_org(session), username="bob")
    a = client.post("/auth/token", data={"username": "bob", "password": "nope"})
    b = client.post("/auth/token", data={"username": "nobody", "password": "nope"})
    assert_problem(a, 401, "invalid-credentials")
    assert_problem(b, 401, "invalid-credentials")
    assert a.json()["detail"] == b.json()["detail"]


def test_lockout_after_repeated_failures(client: TestClient, session: Session,
                                         settings: Settings) -> None:
    user = make_user(session, settings, make_org(session), username="carol")
    for _ in range(settings.lockout_threshold):
        client.post("/auth/token", data={"username": "carol", "password": "wrong"})
    # even the right password is refused while locked
    resp = client.post("/auth/token", data={"username": "carol", "password": PASSWORD})
    assert_problem(resp, 423, "account-locked")
    session.expire_all()
    locked = session.get(User, user.id)
    assert locked is not None and locked.locked_until is not None
    # the lock expires
    locked.locked_until = locked.locked_until - timedelta(minutes=settings.lockout_minutes + 1)
    session.add(locked)
    session.commit()
    assert client.post("/auth/token", data={"username": "carol",
                                            "password": PASSWORD}).status_code == 200


def test_invalid_and_forged_tokens_are_refused(client: TestClient, session: Session,
                                               settings: Settings) -> None:
    make_user(session, settings, make_org(session), username="dave")
    good = login(client, "dave")["Authorization"]
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for header in (forged, "Bearer not-a-token", ""):
        resp = client.get("/me", headers={"Authorization": header} if header else {})
        assert_problem(resp, 401)


def test_password_policy_and_no_reuse(client: TestClient, session: Session,
                                      settings: Settings) -> None:
    org = make_org(session)
    admin = make_user(session, settings, org, "hub_admin", username="root1")
    auth = login(client, admin.username)
    resp = client.post("/users", headers=auth, json={
        "username": "weak", "full_name": "W", "email": "w@example.org",
        "organization_id": org.id, "roles": ["trainee"], "password": "short"})
    body = assert_problem(resp, 422, "password-policy")
    assert {e["pointer"] for e in body["errors"]} == {"/password"}
    # change password: the current one cannot be reused, a new good one can
    same = client.post("/me/password", headers=auth,
                       json={"current_password": PASSWORD, "new_password": PASSWORD})
    assert_problem(same, 422, "password-policy")
    ok = client.post("/me/password", headers=auth,
                     json={"current_password": PASSWORD, "new_password": "Another-Good-Pass-9"})
    assert ok.status_code == 204
    back = client.post("/me/password", headers=login(client, "root1", "Another-Good-Pass-9"),
                       json={"current_password": "Another-Good-Pass-9",
                             "new_password": PASSWORD})
    assert_problem(back, 422, "password-policy")


def test_user_ids_are_unique_forever(client: TestClient, session: Session,
                                     settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "hub_admin", username="admin2")
    resp = client.post("/users", headers=login(client, "admin2"), json={
        "username": "admin2", "full_name": "Other", "email": "o@example.org",
        "organization_id": org.id, "roles": ["qa"], "password": "Valid-Password-77"})
    body = assert_problem(resp, 409, "conflict")
    assert body["errors"][0]["pointer"] == "/username"


def test_roles_are_enforced(client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="res1")
    resp = client.post("/organizations", headers=login(client, "res1"),
                       json={"name": "Evil Corp", "kind": "pharma"})
    assert_problem(resp, 403, "permission-denied")


def test_organization_scoping_hides_other_orgs_users(client: TestClient, session: Session,
                                                     settings: Settings) -> None:
    a, b = make_org(session), make_org(session)
    make_user(session, settings, a, "site_admin", username="a-admin")
    other = make_user(session, settings, b, "researcher", username="b-res")
    auth = login(client, "a-admin")
    names = [u["username"] for u in client.get("/users", headers=auth).json()]
    assert "b-res" not in names and "a-admin" in names
    resp = client.get(f"/users/{other.id}", headers=auth)
    body = assert_problem(resp, 404, "not-found")
    assert "b-res" not in resp.text and other.email not in str(body)


def test_api_key_shown_once_authenticates_and_revokes(client: TestClient, session: Session,
                                                      settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "site_admin", username="sadmin")
    auth = login(client, "sadmin")
    issued = client.post("/api-keys", headers=auth, json={"name": "plant-1 agent"})
    assert issued.status_code == 201
    key = issued.json()["key"]
    assert key.startswith("fhk_")
    listed = client.get("/api-keys", headers=auth).json()
    assert listed and all("key" not in k for k in listed) and key not in str(listed)
    assert client.get("/organizations", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/organizations",
                      headers={"Authorization": f"Bearer {key}"}).status_code == 200
    # machines are not people
    assert_problem(client.get("/me", headers={"X-API-Key": key}), 403)
    bad = key[:-3] + "xyz"
    assert_problem(client.get("/organizations", headers={"X-API-Key": bad}), 401)
    kid = issued.json()["id"]
    assert_problem(client.post(f"/api-keys/{kid}/revoke", headers=auth, json={}), 422)
    rev = client.post(f"/api-keys/{kid}/revoke", headers=auth, json={"reason": "agent retired"})
    assert rev.status_code == 200 and rev.json()["revoked_at"]
    body = assert_problem(client.get("/organizations", headers={"X-API-Key": key}), 401)
    assert "revoked" in body["detail"]


def test_api_keys_of_other_orgs_cannot_be_revoked(client: TestClient, session: Session,
                                                  settings: Settings) -> None:
    a, b = make_org(session), make_org(session)
    make_user(session, settings, a, "site_admin", username="sa-a")
    make_user(session, settings, b, "site_admin", username="sa-b")
    kid = client.post("/api-keys", headers=login(client, "sa-a"), json={"name": "k"}).json()["id"]
    resp = client.post(f"/api-keys/{kid}/revoke", headers=login(client, "sa-b"),
                       json={"reason": "hostile"})
    assert_problem(resp, 404)
