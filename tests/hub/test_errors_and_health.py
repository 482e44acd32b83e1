"""Problem documents for every error class; health and readiness."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from tests.factories import assert_problem, login, make_org, make_user


def test_health_and_ready_are_public(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_routes_are_authenticated_by_default(client: TestClient, app: Any) -> None:
    # public on purpose: each authenticates by other means or serves public material
    public = {
        "/health", "/ready", "/auth/token",
        "/sites/enroll",  # single-use enrollment token issued to a site admin
        "/sites/{site_id}/credentials",  # proof of possession of the site's private key
        "/.well-known/jwks.json", "/certificates/{cert_id}/verify",  # anyone verifies
        "/certificates/verify",  # verify a presented credential (token in the body)
        "/certificates/status/{list_id}",  # revocation status list
    }
    checked = 0
    shape = re.compile(r"\{[^}]+\}")
    public = {shape.sub("{}", p) for p in public}
    for path, ops in app.openapi()["paths"].items():
        if shape.sub("{}", path) in public:
            continue
        for method in ops:
            url = path.replace("{", "").replace("}", "")
            resp = client.request(method.upper(), url)
            assert resp.status_code == 401, f"{method} {path} answered {resp.status_code}"
            checked += 1
    assert checked >= 10


def test_problem_shapes(client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="shapes")
    auth = login(client, "shapes")
    assert_problem(client.get("/me"), 401, "authentication-required")
    assert client.get("/me").headers["www-authenticate"] == "Bearer"
    assert_problem(client.post("/organizations", headers=auth,
                               json={"name": "X", "kind": "pharma"}), 403, "permission-denied")
    assert_problem(client.get("/users/does-not-exist", headers=auth), 404, "not-found")
    assert_problem(client.get("/no/such/route"), 404, "not-found")
    assert_problem(client.delete("/health"), 405)
    bad = client.post("/auth/token", data={"username": "shapes"})
    body = assert_problem(bad, 422, "validation-error")
    assert [e["pointer"] for e in body["errors"]] == ["/body/password"]


def test_validation_names_every_offending_field(client: TestClient, session: Session,
                                                settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "hub_admin", username="val-admin")
    resp = client.post("/users", headers=login(client, "val-admin"), json={
        "username": "A B", "full_name": "", "email": "nope", "organization_id": org.id,
        "roles": ["wizard"], "password": "x", "surprise": 1})
    body = assert_problem(resp, 422, "validation-error")
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/body/username", "/body/full_name", "/body/email", "/body/roles/0",
            "/body/surprise"} <= pointers


def test_conflict_and_oversize(client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session, name="Dup Org")
    make_user(session, settings, org, "hub_admin", username="dup-admin")
    auth = login(client, "dup-admin")
    assert_problem(client.post("/organizations", headers=auth,
                               json={"name": "Dup Org", "kind": "pharma"}), 409, "conflict")
    huge = b"x" * (settings.max_body_bytes + 1)
    resp = client.post("/organizations", headers={**auth, "content-type": "application/json"},
                       content=huge)
    assert_problem(resp, 413, "payload-too-large")


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/health").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"


def test_unhandled_errors_leak_nothing(app: Any, client: TestClient) -> None:
    @app.get("/boom-test")
    def boom() -> None:
        raise RuntimeError("SELECT secret FROM vault")

    resp = client.get("/boom-test")
    body = assert_problem(resp, 500, "internal-error")
    assert "vault" not in resp.text and "RuntimeError" not in str(body)


def test_ready_is_503_until_migrated(tmp_path: Any) -> None:
    from hub.app import create_app
    from hub.config import Settings
    from hub.migrations import upgrade

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    settings = Settings(environment="test", data_dir=tmp_path, secret_key="r" * 40,
                        database_url=url)
    app = create_app(settings)
    with TestClient(app) as c:
        resp = c.get("/ready")
        assert resp.status_code == 503 and resp.json()["database"] == "schema not migrated"
        upgrade(url, engine=app.state.db.engine)
        assert c.get("/ready").status_code == 200
    app.state.db.engine.dispose()
