"""Hostile input: oversize and deeply nested bodies, wrong standards, bad tokens, wrong types.

Every answer is a clean 4xx problem document: no 500, no stack trace, no data.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.app import create_app
from hub.config import Settings
from hub.db import Database, utcnow
from hub.deps import MAX_INDEX
from hub.identity.security import TOKEN_ALG
from tests.factories import assert_problem
from tests.security import world
from tests.site_agent.readings import reading

DEEP = 10_000


@pytest.fixture
def hub(real_client: TestClient, real_session: Session, real_settings: Settings,
        tmp_path: Path) -> world.Hub:
    return world.build(real_client, real_session, real_settings, tmp_path)


@pytest.fixture
def small_client(real_settings: Settings) -> Iterator[TestClient]:
    """The same database behind an app that accepts at most 4 KiB bodies."""
    settings = real_settings.model_copy(update={"max_body_bytes": 4096})
    db = Database(settings)
    with TestClient(create_app(settings, db=db), raise_server_exceptions=False) as c:
        yield c
    db.engine.dispose()


def _site(hub: world.Hub) -> dict[str, str]:
    """The site's API key and a fresh idempotency key (site messages need one)."""
    return {**hub.headers["machine"], "Idempotency-Key": f"hostile-{uuid.uuid4()}"}


def _batch(hub: world.Hub, n: int = 1) -> list[dict[str, Any]]:
    return [reading("basel", "fbd-101", i, {"temperature": 21.0}) for i in range(n)]  # site code


def test_oversize_body_is_refused_with_413(hub: world.Hub, small_client: TestClient) -> None:
    big = json.dumps(_batch(hub, 40)).encode()
    assert len(big) > 4096
    resp = small_client.post("/monitoring/readings", content=big,
                             headers={**_site(hub), "Content-Type": "application/json"})
    assert_problem(resp, 413, "payload-too-large")
    small = small_client.post("/monitoring/readings", json=_batch(hub, 1), headers=_site(hub))
    assert small.status_code == 201, small.text


def test_oversize_body_without_length_is_refused(hub: world.Hub,
                                                 small_client: TestClient) -> None:
    """A chunked upload (no Content-Length) cannot slip past the size limit."""
    chunk = json.dumps(_batch(hub, 40)).encode()

    def stream() -> Iterator[bytes]:
        for i in range(0, len(chunk), 512):
            yield chunk[i:i + 512]

    resp = small_client.post("/monitoring/readings", content=stream(),
                             headers={**_site(hub), "Content-Type": "application/json"})
    assert resp.status_code in (413, 422), resp.text
    assert resp.status_code != 201


@pytest.mark.parametrize("path,who", [
    ("/monitoring/readings", "machine"),          # raw JSON parsed by the service
    ("/traceability/capture", "machine"),         # EPCIS documents
    ("/organizations", "hub_admin"),              # a pydantic body
    ("/standards/sensor-reading/1.0.0/validate", "researcher"),
])
def test_deeply_nested_json_is_a_clean_4xx(hub: world.Hub, real_client: TestClient, path: str,
                                           who: str) -> None:
    for body in ("[" * DEEP + "]" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP):
        resp = real_client.post(path, content=body.encode(),
                                headers={**(_site(hub) if who == "machine" else hub.headers[who]),
                                         "Content-Type": "application/json"})
        assert 400 <= resp.status_code < 500, f"{path}: {resp.status_code} {resp.text[:200]}"
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert "recursion" not in resp.text.lower()


def test_wrong_standard_version_names_the_field(hub: world.Hub,
                                                real_client: TestClient) -> None:
    for schema in ("sensor-reading/9.0.0", "sensor-reading/x", "quality-alert/1.0.0"):
        resp = real_client.post("/monitoring/readings", json=_batch(hub),
                                headers={**_site(hub), "X-Fedhub-Schema": schema})
        body = assert_problem(resp, 422, "validation-error")
        assert [e["pointer"] for e in body["errors"]] == ["/headers/X-Fedhub-Schema"], body
    bad = _batch(hub, 2)
    bad[1]["measurements"]["temperature"]["value"] = "hot"
    del bad[0]["timestamp"]
    resp = real_client.post("/monitoring/readings", json=bad, headers=_site(hub))
    body = assert_problem(resp, 422)
    pointers = {e["pointer"] for e in body["errors"]}
    assert any(p.startswith("/0") and "timestamp" in p for p in pointers), pointers
    assert any(p.startswith("/1/measurements/temperature") for p in pointers), pointers


def _token(settings: Settings, hub: world.Hub, **overrides: Any) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": hub.user_ids["hub_admin"], "org": hub.org_a, "roles": ["hub_admin"],
        "typ": "access", "iat": now, "nbf": now, "exp": now + timedelta(minutes=5),
        "jti": "x", "iss": "fedhub"}
    key = overrides.pop("_key", settings.secret_key)
    alg = overrides.pop("_alg", TOKEN_ALG)
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=alg)


def test_expired_forged_and_malformed_tokens_get_401(hub: world.Hub, real_client: TestClient,
                                                     real_settings: Settings) -> None:
    good = _token(real_settings, hub)
    assert real_client.get("/users", headers={"Authorization": f"Bearer {good}"}).status_code \
        == 200  # the same construction is accepted when intact
    header, payload, _sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["hub_admin", "regulator"]
    tampered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    bad = {
        "expired": _token(real_settings, hub, exp=utcnow() - timedelta(seconds=5),
                          iat=utcnow() - timedelta(minutes=20)),
        "other key": _token(real_settings, hub, _key="k" * 40),
        "tampered": f"{header}.{tampered}.{_sig}",
        "alg none": f"{none_header}.{payload}.",
        "wrong issuer": _token(real_settings, hub, iss="elsewhere"),
        "not access": _token(real_settings, hub, typ="refresh"),
        "no expiry": _token(real_settings, hub, exp=None),
        "unknown user": _token(real_settings, hub, sub="00000000-0000-0000-0000-000000000000"),
        "garbage": "not.a.token",
        "huge": "a" * 20_000,
    }
    for name, token in bad.items():
        resp = real_client.get("/users", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code in (401, 431), f"{name}: {resp.status_code}"
        if resp.status_code == 401:
            assert_problem(resp, 401)
            assert resp.headers.get("www-authenticate", "").startswith("Bearer"), name
    for key in ("fh_nope_nope", "fedhub_" + "0" * 64, "", "x" * 5000):
        resp = real_client.get("/users", headers={"X-API-Key": key} if key else {})
        assert_problem(resp, 401)


def test_wrong_content_types_are_clear_4xx(hub: world.Hub, real_client: TestClient) -> None:
    admin = hub.headers["hub_admin"]
    org = {"name": "Org X", "kind": "pharma", "jurisdiction": "EU"}
    cases = [
        ("/organizations", admin, "text/plain", json.dumps(org).encode()),
        ("/organizations", admin, "application/x-www-form-urlencoded", b"name=Org+X"),
        ("/organizations", admin, "application/json", b"{not json"),
        ("/organizations", admin, "application/json", b"\xff\xfe\x00garbage"),
        ("/monitoring/readings", _site(hub), "application/json", b"{oops"),
        ("/monitoring/readings", _site(hub), "application/json", b'{"a": 1}'),
        ("/auth/token", {}, "application/json", b'{"username": "a", "password": "b"}'),
    ]
    for path, headers, ctype, body in cases:
        resp = real_client.post(path, content=body, headers={**headers, "Content-Type": ctype})
        assert 400 <= resp.status_code < 500, f"{path} {ctype}: {resp.status_code} {resp.text}"
        assert resp.headers["content-type"].startswith("application/problem+json"), path
    assert real_client.get("/organizations", headers=admin).status_code == 200
    names = [o["name"] for o in real_client.get("/organizations", headers=admin).json()]
    assert "Org X" not in names  # nothing was created by a mistyped request


def test_huge_offsets_and_sequence_numbers_are_422_not_500(hub: world.Hub,
                                                           real_client: TestClient) -> None:
    """Beyond 64-bit SQL integers the driver failed (500); now the range is validated."""
    for path, param, who in (("/monitoring/alerts", "offset", "site_admin"),
                             ("/monitoring/work-orders", "offset", "site_admin"),
                             ("/traceability/events", "offset", "site_admin"),
                             ("/audit", "after_seq", "qa")):
        big = real_client.get(path, params={param: 2**63}, headers=hub.headers[who])
        body = assert_problem(big, 422, "validation-error")
        assert [e["pointer"] for e in body["errors"]] == [f"/query/{param}"], path
        edge = real_client.get(path, params={param: MAX_INDEX}, headers=hub.headers[who])
        assert edge.status_code == 200 and edge.json() == [], f"{path}: {edge.text}"
