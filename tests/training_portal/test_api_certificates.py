"""Certificates fail verification when tampered with, revoked or expired — online and offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import respx
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from hub import cli
from hub.audit.models import AuditEntry
from hub.config import Settings
from hub.keys import b64url, b64url_decode
from tests.factories import assert_problem, login, make_org, make_user
from tests.training_portal.conftest import Clock, pass_course
from training_portal.status_list import StatusList

runner = CliRunner()


def _checks(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["outcome"] for c in body["checks"]}


def _issue(client: TestClient, session: Session, settings: Settings,
           username: str) -> tuple[dict[str, str], str, str]:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username=username)
    make_user(session, settings, org, "site_admin", username=f"{username}.admin")
    h = login(client, username)
    cert_id = pass_course(client, session, h)["certificate_id"]
    token = client.get(f"/training/certificates/{cert_id}/credential", headers=h).text
    return h, cert_id, token


def _files(client: TestClient, tmp_path: Path, token: str) -> tuple[Path, Path]:
    cert = tmp_path / "certificate.jwt"
    cert.write_text(token)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(client.get("/.well-known/jwks.json").text)
    return cert, jwks


def _status_file(client: TestClient, tmp_path: Path, token: str,
                 name: str = "status.jwt") -> Path:
    payload = json.loads(b64url_decode(token.split(".")[1]))
    url = payload["credentialStatus"]["statusListCredential"]
    path = tmp_path / name
    path.write_text(client.get("/certificates/status/" + url.rsplit("/", 1)[1]).text)
    return path


def test_tampered_credential_fails_everywhere(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    _, _, token = _issue(client, session, settings, "tom")
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["credentialSubject"]["achievement"]["name"] = "Aseptic processing supervisor"
    forged = ".".join([header, b64url(json.dumps(claims).encode()), signature])

    online = client.post("/certificates/verify", json={"credential": forged})
    assert online.status_code == 200
    assert online.json()["valid"] is False and _checks(online.json())["signature"] == "fail"
    assert online.json()["credential"] is None  # nothing unverified is echoed as a claim
    genuine = client.post("/certificates/verify", json={"credential": token}).json()
    assert genuine["valid"] is True and _checks(genuine)["status"] == "pass"

    cert_file, jwks = _files(client, tmp_path, token)
    status = _status_file(client, tmp_path, token)
    ok = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", str(jwks),
                                  "--status-list", str(status)])
    assert ok.exit_code == 0, ok.output
    assert "VALID" in ok.output and "NOT VALID" not in ok.output
    cert_file.write_text(forged)
    bad = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", str(jwks),
                                   "--status-list", str(status)])
    assert bad.exit_code == 1 and "NOT VALID" in bad.output

    other_keys = tmp_path / "other.json"  # a JWKS without the hub's key
    other_keys.write_text(json.dumps({"keys": []}))
    cert_file.write_text(token)
    unknown = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", str(other_keys),
                                       "--json", "--no-status"])
    assert unknown.exit_code == 1
    assert _checks(json.loads(unknown.output))["kid_known"] == "fail"
    unreadable = runner.invoke(cli.app, ["cert", "verify", str(tmp_path / "missing.jwt"),
                                          "--jwks", str(jwks)])
    assert unreadable.exit_code == 2


def test_revoked_credential_fails_online_and_offline(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    h, cert_id, token = _issue(client, session, settings, "rob")
    cert_file, jwks = _files(client, tmp_path, token)
    before = _status_file(client, tmp_path, token, "before.jwt")

    assert_problem(client.post(f"/training/certificates/{cert_id}/revoke", headers=h,
                               json={"reason": "not mine to revoke"}), 403, "permission-denied")
    outsider_org = make_org(session)
    make_user(session, settings, outsider_org, "site_admin", username="eve.admin")
    assert_problem(client.post(f"/training/certificates/{cert_id}/revoke",
                               headers=login(client, "eve.admin"),
                               json={"reason": "other organization"}), 404)
    admin = login(client, "rob.admin")
    assert_problem(client.post(f"/training/certificates/{cert_id}/revoke", headers=admin,
                               json={}), 422)
    revoked = client.post(f"/training/certificates/{cert_id}/revoke", headers=admin,
                          json={"reason": "assessment answers were shared"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_id == cert_id,
                                                  AuditEntry.action == "update")).one()
    assert entry.reason == "assessment answers were shared"
    assert entry.new_values is not None and entry.new_values["revoked_at"]
    assert_problem(client.post(f"/training/certificates/{cert_id}/revoke", headers=admin,
                               json={"reason": "twice"}), 409)

    online = client.get(f"/certificates/{cert_id}/verify").json()
    assert online["valid"] is False and _checks(online)["status"] == "fail"
    assert _checks(online)["signature"] == "pass"  # still genuine, just revoked
    page = client.get(f"/certificates/{cert_id}/verify", headers={"accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-valid="false"' in page.text and "revoked" in page.text

    status_jwt = client.get("/certificates/status/r1")
    assert status_jwt.headers["content-type"].startswith("application/vc+jwt")
    vc = json.loads(b64url_decode(status_jwt.text.split(".")[1]))
    index = int(json.loads(b64url_decode(token.split(".")[1]))["credentialStatus"]
                ["statusListIndex"])
    assert StatusList.decode(vc["credentialSubject"]["encodedList"]).set_indices() == [index]

    after = _status_file(client, tmp_path, token)
    result = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", str(jwks),
                                      "--status-list", str(after), "--json"])
    assert result.exit_code == 1
    assert _checks(json.loads(result.output))["status"] == "fail"
    stale = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", str(jwks),
                                     "--status-list", str(before)])
    assert stale.exit_code == 0  # the list saved before the revocation did not know yet


def test_cli_fetches_keys_and_status_list_by_url(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    _, cert_id, token = _issue(client, session, settings, "ursula")
    cert_file = tmp_path / "c.jwt"
    cert_file.write_text(token)
    jwks_url = f"{settings.public_url}/.well-known/jwks.json"
    status_url = f"{settings.public_url}/certificates/status/r1"
    with respx.mock(assert_all_called=True) as mock:
        mock.get(jwks_url).mock(return_value=httpx.Response(
            200, text=client.get("/.well-known/jwks.json").text))
        route = mock.get(status_url).mock(return_value=httpx.Response(
            200, text=client.get("/certificates/status/r1").text))
        ok = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", jwks_url])
        assert ok.exit_code == 0, ok.output
        client.post(f"/training/certificates/{cert_id}/revoke",
                    headers=login(client, "ursula.admin"), json={"reason": "left the company"})
        route.mock(return_value=httpx.Response(
            200, text=client.get("/certificates/status/r1").text))
        revoked = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", jwks_url])
        assert revoked.exit_code == 1 and "revoked" in revoked.output
        route.mock(return_value=httpx.Response(503))
        down = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", jwks_url])
        assert down.exit_code == 1  # revocation state unknown: not accepted as valid


def test_expired_credential_fails_online_and_offline(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path,
        clock: Clock) -> None:
    clock.set(timedelta(days=-(365 * 2 + 10)))  # passed 24 months and 10 days ago
    _, cert_id, token = _issue(client, session, settings, "olga")
    clock.set(timedelta(0))
    online = client.get(f"/certificates/{cert_id}/verify").json()
    assert online["valid"] is False and _checks(online)["not_expired"] == "fail"
    cert_file, jwks = _files(client, tmp_path, token)
    status = _status_file(client, tmp_path, token)
    offline = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", str(jwks),
                                       "--status-list", str(status), "--json"])
    assert offline.exit_code == 1
    assert _checks(json.loads(offline.output))["not_expired"] == "fail"
    back_then = (datetime.now(UTC) - timedelta(days=365)).isoformat()
    ok_then = runner.invoke(cli.app, ["cert", "verify", str(cert_file), "--jwks", str(jwks),
                                       "--no-status", "--at", back_then, "--json"])
    assert ok_then.exit_code == 0, ok_then.output
    assert _checks(json.loads(ok_then.output))["status"] == "skip"


def test_unknown_certificate_and_status_list(client: TestClient) -> None:
    assert_problem(client.get("/certificates/00000000-0000-0000-0000-000000000000/verify"), 404)
    page = client.get("/certificates/nope/verify", headers={"accept": "text/html"})
    assert page.status_code == 404 and "Not found" in page.text
    assert_problem(client.get("/certificates/status/r999"), 404)
    garbage = client.post("/certificates/verify", json={"credential": "not-a-jwt-at-all"})
    assert garbage.status_code == 200 and garbage.json()["valid"] is False
