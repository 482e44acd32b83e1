"""Site pages: enrollment tokens, site list and detail, signed approvals, credentials actions."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.audit import signatures
from hub.audit.models import AuditEntry, ESignature
from hub.config import Settings
from hub.identity.models import ApiKey, User
from hub.registry.models import ModelStatus, ModelVersion
from hub.sites import pages as site_pages
from hub.sites.models import CredentialDelivery, EnrollmentToken, Site
from tests.factories import login, make_org, make_user
from tests.sites.helpers import agent_enroll, new_keys, poll, site_body
from tests.sites.test_monitoring import agent, alert, work_order
from tests.web.pages import Page, logged_in, page_token

PASSWORD = "Correct-Horse-42!"


@dataclass
class People:
    org_a: str
    org_b: str
    api: dict[str, dict[str, str]]  # username -> bearer header


@pytest.fixture
def people(client: TestClient, session: Session, settings: Settings) -> People:
    """Two member organizations (a site admin each), a researcher, and a hub admin."""
    a, b = make_org(session, name="Helix Pharma"), make_org(session, name="Borealis Bio")
    operator = make_org(session, kind="operator", name="Operator")
    make_user(session, settings, a, "site_admin", username="sam.a", full_name="Sam Alpha")
    make_user(session, settings, b, "site_admin", username="bea.b", full_name="Bea Beta")
    make_user(session, settings, a, "researcher", username="rex.a")
    make_user(session, settings, operator, "hub_admin", username="hub.root",
              full_name="Hana Root")
    api = {u: login(client, u) for u in ("sam.a", "bea.b", "hub.root")}
    return People(a.id, b.id, api)


def _post(client: TestClient, path: str, form_page: str, **data: Any) -> httpx.Response:
    return client.post(path, data={**data, "csrf_token": page_token(client, form_page)},
                       follow_redirects=False)


def _switch(client: TestClient, username: str) -> TestClient:
    client.cookies.clear()
    return logged_in(client, username)


def _pending_site(client: TestClient, people: People, tmp_path: Path, admin: str = "sam.a",
                  name: str = "Basel Solid Dose") -> tuple[str, Any]:
    token = client.post("/sites/enrollment-tokens", headers=people.api[admin], json={})
    assert token.status_code == 201, token.text
    keys = new_keys(tmp_path)
    resp = agent_enroll(client, token.json()["token"], site_body(keys.public, name=name))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"]), keys


def _field_error(html: str, field_id: str) -> str:
    """The error text tied to a control (the control must be marked invalid)."""
    page = Page(html)
    control = [a for _, a in page.tags if a.get("id") == field_id]
    assert control and control[0].get("aria-invalid") == "true", f"{field_id} not marked invalid"
    found = re.search(rf'id="{field_id}-error"[^>]*>(.*?)</p>', html, re.S)
    assert found, f"no error text for {field_id}"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def test_areas_and_pages_follow_roles(client: TestClient, people: People) -> None:
    logged_in(client, "rex.a")
    dash = client.get("/web/").text
    assert 'href="/web/sites"' not in dash and 'href="/web/monitoring"' not in dash
    for path in ("/web/sites", "/web/enrollments", "/web/monitoring", "/web/monitoring/alerts"):
        assert client.get(path).status_code == 403, path
    _switch(client, "sam.a")
    dash = client.get("/web/").text
    assert 'href="/web/sites"' in dash and 'href="/web/monitoring"' in dash
    assert 'href="/web/enrollments"' not in dash
    assert client.get("/web/enrollments").status_code == 403
    _switch(client, "hub.root")
    assert 'href="/web/enrollments"' in client.get("/web/").text


def test_site_admin_issues_token_and_the_page_shows_the_enroll_command(
        client: TestClient, session: Session, people: People, tmp_path: Path) -> None:
    logged_in(client, "sam.a")
    resp = _post(client, "/web/sites/enrollment-tokens", "/web/sites", valid_hours="6")
    assert resp.status_code == 200, resp.text
    token = re.search(r'id="issued-token" type="text" readonly value="(fhe_[^"]+)"', resp.text)
    assert token, "the token is shown once"
    commands = unescape(re.search(r'<pre[^>]*id="enroll-commands"[^>]*>(.*?)</pre>', resp.text,
                                  re.S).group(1))  # type: ignore[union-attr]
    assert f"site-agent enroll --token {token.group(1)}" in commands
    assert "site-agent init" in commands and "--hub http://testserver" in commands
    row = session.exec(select(EnrollmentToken).where(
        EnrollmentToken.organization_id == people.org_a)).one()
    assert timedelta(hours=5, minutes=59) < row.expires_at - row.created_at <= timedelta(hours=6)
    # the token is real: a site agent enrolls with it, once
    keys = new_keys(tmp_path)
    enrolled = agent_enroll(client, token.group(1), site_body(keys.public, name="Lyon Lab"))
    assert enrolled.status_code == 201, enrolled.text
    listing = client.get("/web/sites").text
    assert "Lyon Lab" in listing and token.group(1) not in listing  # never shown again
    assert f"fhe_{row.prefix}_…" in listing


@pytest.mark.parametrize("hours", ["0", "abc", "200"])
def test_bad_token_validity_re_renders_the_form_naming_the_field(
        client: TestClient, session: Session, people: People, hours: str) -> None:
    logged_in(client, "sam.a")
    resp = _post(client, "/web/sites/enrollment-tokens", "/web/sites", valid_hours=hours)
    assert resp.status_code == 422
    assert _field_error(resp.text, "f-valid_hours")
    assert 'href="#f-valid_hours"' in resp.text  # the summary links to the field
    assert f'value="{hours}"' in resp.text  # what was typed is kept
    assert session.exec(select(EnrollmentToken)).first() is None


def test_forms_without_csrf_token_are_refused(client: TestClient, session: Session,
                                              people: People, tmp_path: Path) -> None:
    site_id, _ = _pending_site(client, people, tmp_path)
    logged_in(client, "sam.a")
    resp = client.post("/web/sites/enrollment-tokens", data={"valid_hours": "24"})
    assert resp.status_code == 403 and "Form check failed" in resp.text
    _switch(client, "hub.root")
    resp = client.post(f"/web/sites/{site_id}/approve", data={"password": PASSWORD})
    assert resp.status_code == 403
    assert session.get(Site, site_id).status == "pending"  # type: ignore[union-attr]
    assert session.exec(select(EnrollmentToken).where(
        col(EnrollmentToken.used_at).is_(None))).first() is None


def test_site_admin_never_sees_another_organizations_sites(
        client: TestClient, people: People, tmp_path: Path) -> None:
    mine, _ = _pending_site(client, people, tmp_path, "sam.a", "Basel Solid Dose")
    theirs, _ = _pending_site(client, people, tmp_path, "bea.b", "Oslo Fill Finish")
    logged_in(client, "sam.a")
    listing = client.get("/web/sites").text
    assert "Basel Solid Dose" in listing and "Oslo Fill Finish" not in listing
    assert client.get(f"/web/sites/{mine}").status_code == 200
    other = client.get(f"/web/sites/{theirs}")
    assert other.status_code == 404 and "Oslo" not in other.text
    resp = _post(client, f"/web/sites/{theirs}/revoke", f"/web/sites/{mine}", reason="not ours")
    assert resp.status_code == 404
    _switch(client, "hub.root")
    everyone = client.get("/web/sites").text
    assert "Basel Solid Dose" in everyone and "Oslo Fill Finish" in everyone


def test_hub_admin_approves_with_the_same_signature_as_the_api(
        client: TestClient, session: Session, people: People, tmp_path: Path) -> None:
    site_id, keys = _pending_site(client, people, tmp_path)
    logged_in(client, "hub.root")
    queue = client.get("/web/enrollments").text
    assert "Basel Solid Dose" in queue and "Helix Pharma" in queue
    detail = client.get(f"/web/sites/{site_id}").text
    assert 'id="approve-site"' in detail and 'id="reject-site"' in detail
    wrong = _post(client, f"/web/sites/{site_id}/approve", f"/web/sites/{site_id}",
                  password="not-it", meaning="approved", comment="")
    assert wrong.status_code == 403
    assert 'id="approve-site" class="esign" aria-labelledby="approve-site-title" open' \
        in wrong.text and "Password check failed" in wrong.text
    admin = session.exec(select(User).where(User.username == "hub.root")).one()
    session.refresh(admin)
    assert admin.failed_attempts == 1  # counted although the page's transaction rolled back
    ok = _post(client, f"/web/sites/{site_id}/approve", f"/web/sites/{site_id}",
               password=PASSWORD, meaning="approved", comment="site audit passed")
    assert ok.status_code == 303 and ok.headers["location"] == f"/web/sites/{site_id}"
    page = client.get(f"/web/sites/{site_id}").text
    assert "Enrollment of Basel Solid Dose approved" in page
    assert re.search(r'id="site-status"><span class="badge ok">Active', page)
    assert "waiting for the agent to pick it up" in page
    sig = session.exec(select(ESignature).where(ESignature.entity_id == site_id)).one()
    assert (sig.entity_type, sig.meaning, sig.comment) == ("site", "approved",
                                                          "site audit passed")
    assert sig.printed_name == "Hana Root" and signatures.verify(session, sig).valid
    # the agent can open its sealed key: the page went through the service's approval flow
    assert poll(client, site_id, keys).json()["api_key"] is not None
    assert 'id="approve-site"' not in page  # decided: no more dialogs


def test_reject_needs_a_comment_and_signs_it(client: TestClient, session: Session,
                                             people: People, tmp_path: Path) -> None:
    site_id, _ = _pending_site(client, people, tmp_path)
    logged_in(client, "hub.root")
    bare = _post(client, f"/web/sites/{site_id}/reject", f"/web/sites/{site_id}",
                 password=PASSWORD, meaning="reviewed", comment="")
    assert bare.status_code == 422 and "needs a comment" in bare.text
    assert 'id="reject-site-comment"' in bare.text
    assert re.search(r'id="reject-site-comment"[^>]*aria-invalid="true"', bare.text)
    assert session.get(Site, site_id).status == "pending"  # type: ignore[union-attr]
    wrong_meaning = _post(client, f"/web/sites/{site_id}/reject", f"/web/sites/{site_id}",
                          password=PASSWORD, meaning="approved", comment="duplicate site")
    assert wrong_meaning.status_code == 422
    done = _post(client, f"/web/sites/{site_id}/reject", f"/web/sites/{site_id}",
                 password=PASSWORD, meaning="reviewed", comment="duplicate of Basel line 2")
    assert done.status_code == 303
    site = session.get(Site, site_id)
    session.refresh(site)
    assert site is not None and site.status == "rejected"
    sig = session.exec(select(ESignature).where(ESignature.entity_id == site_id)).one()
    assert sig.meaning == "reviewed" and sig.comment == "rejected: duplicate of Basel line 2"
    _switch(client, "sam.a")
    assert "duplicate of Basel line 2" in client.get(f"/web/sites/{site_id}").text


def test_site_admin_cannot_approve(client: TestClient, session: Session, people: People,
                                   tmp_path: Path) -> None:
    site_id, _ = _pending_site(client, people, tmp_path)
    logged_in(client, "sam.a")
    page = client.get(f"/web/sites/{site_id}").text
    assert 'id="approve-site"' not in page and "Awaiting a hub admin" in page
    resp = _post(client, f"/web/sites/{site_id}/approve", f"/web/sites/{site_id}",
                 password=PASSWORD)
    assert resp.status_code == 403
    assert session.exec(select(ESignature).where(ESignature.entity_id == site_id)).first() \
        is None


def _active_site(client: TestClient, people: People, tmp_path: Path) -> tuple[str, str]:
    site_id, keys = _pending_site(client, people, tmp_path)
    resp = client.post(f"/sites/{site_id}/approve", headers=people.api["hub.root"],
                       json={"password": PASSWORD, "comment": "ok"})
    assert resp.status_code == 200, resp.text
    from site_agent import keys as agent_keys

    sealed = poll(client, site_id, keys).json()["api_key"]
    return site_id, agent_keys.open_sealed(keys.private, sealed, site_id).decode()


def test_rotate_api_key_needs_a_reason_then_seals_a_new_key(
        client: TestClient, session: Session, people: People, tmp_path: Path) -> None:
    site_id, key = _active_site(client, people, tmp_path)
    beat = client.post("/sites/me/heartbeat", headers={"X-API-Key": key},
                       json={"agent_version": "0.3.1"})
    assert beat.status_code == 200
    logged_in(client, "sam.a")
    page = client.get(f"/web/sites/{site_id}").text
    assert re.search(r'id="agent-version">0\.3\.1<', page)
    assert "In use by the site agent" in page
    assert 'action="/web/sites/' + site_id + '/suspend"' not in page  # hub admins only
    short = _post(client, f"/web/sites/{site_id}/rotate-api-key", f"/web/sites/{site_id}",
                  reason="x")
    assert short.status_code == 422
    assert "at least 3" in _field_error(short.text, "f-reason-rotate-api-key")
    assert client.get("/sites/me", headers={"X-API-Key": key}).status_code == 200
    done = _post(client, f"/web/sites/{site_id}/rotate-api-key", f"/web/sites/{site_id}",
                 reason="laptop with the key was lost")
    assert done.status_code == 303
    assert client.get("/sites/me", headers={"X-API-Key": key}).status_code == 401
    delivery = session.get(CredentialDelivery, site_id)
    session.refresh(delivery)
    assert delivery is not None and delivery.sealed is not None
    assert "waiting for the agent to pick it up" in client.get(f"/web/sites/{site_id}").text
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_type == "api_key",
                                                  AuditEntry.action == "update")).all()
    assert any(e.reason == "laptop with the key was lost" for e in entry)
    suspend = _post(client, f"/web/sites/{site_id}/suspend", f"/web/sites/{site_id}",
                    reason="maintenance window")
    assert suspend.status_code == 403


def test_hub_admin_suspends_and_resumes_site_admin_revokes(
        client: TestClient, session: Session, people: People, tmp_path: Path) -> None:
    site_id, key = _active_site(client, people, tmp_path)
    logged_in(client, "hub.root")
    resp = _post(client, f"/web/sites/{site_id}/suspend", f"/web/sites/{site_id}",
                 reason="plant shutdown for audit")
    assert resp.status_code == 303
    assert client.get("/sites/me", headers={"X-API-Key": key}).status_code in (401, 403)
    assert "Suspended" in client.get(f"/web/sites/{site_id}").text
    again = _post(client, f"/web/sites/{site_id}/suspend", f"/web/sites/{site_id}",
                  reason="twice")
    assert again.status_code == 409  # only active sites can be suspended
    resp = _post(client, f"/web/sites/{site_id}/resume", f"/web/sites/{site_id}",
                 reason="audit finished")
    assert resp.status_code == 303
    assert client.get("/sites/me", headers={"X-API-Key": key}).status_code == 200
    _switch(client, "sam.a")
    resp = _post(client, f"/web/sites/{site_id}/revoke", f"/web/sites/{site_id}",
                 reason="line decommissioned")
    assert resp.status_code == 303
    assert client.get("/sites/me", headers={"X-API-Key": key}).status_code == 401
    page = client.get(f"/web/sites/{site_id}").text
    assert "Revoked: every API key" in page and 'id="manage"' not in page
    keys = session.exec(select(ApiKey).where(ApiKey.site_id == site_id)).all()
    assert keys and all(k.revoked_at is not None for k in keys)
    assert client.post(f"/web/sites/{site_id}/explode",
                       data={"csrf_token": page_token(client, f"/web/sites/{site_id}")}
                       ).status_code == 404


def _shadow_report(client: TestClient, key: str, agreement: float, end: datetime) -> None:
    body = {"report_id": str(uuid.uuid4()), "site_id": "basel",
            "window_start": (end - timedelta(hours=1)).isoformat(),
            "window_end": end.isoformat(), "readings": 1000, "agreement": agreement,
            "current": {"name": "statistical", "alerts": 3, "flagged_readings": 9},
            "shadow": {"name": "federated:equipment-anomaly@v4", "alerts": 5,
                       "flagged_readings": 14},
            "only_current": 2, "only_shadow": 7}
    resp = client.post("/monitoring/shadow-reports", json=body,
                       headers={"X-API-Key": key, "Idempotency-Key": body["report_id"]})
    assert resp.status_code == 201, resp.text


def _model(session: Session, task: str, version: int, status: str) -> None:
    session.add(ModelVersion(task=task, version=version, status=ModelStatus(status),
                             code_hash="sha256:c",
                             task_version="1.0.0", artifact_sha256="a" * 64, artifact_size=1,
                             promoted_at=datetime.now(UTC) if status == "production" else None))
    session.commit()


def test_models_in_use_come_from_the_registry_else_from_shadow_reports(
        client: TestClient, session: Session, people: People, tmp_path: Path) -> None:
    site_id, key = _active_site(client, people, tmp_path)  # declares task anomaly-detection
    logged_in(client, "sam.a")
    empty = client.get(f"/web/sites/{site_id}").text
    assert 'id="registry-slot"' in empty and "runs no shadow scorer" in empty
    now = datetime.now(UTC)
    for i, agreement in enumerate((0.97, 0.91, 0.88)):
        _shadow_report(client, key, agreement, now - timedelta(hours=3 - i))
    page = client.get(f"/web/sites/{site_id}").text
    assert _model_rows(page) == [("Production", "statistical", "—", "shadow report"),
                                 ("Shadow", "federated:equipment-anomaly@v4", "—",
                                  "shadow report")]
    assert 'id="registry-slot"' in page and "anomaly-detection" in page
    assert "88.0 %" in page and 'role="img"' in page  # the agreement chart
    _model(session, "anomaly-detection", 3, "production")
    _model(session, "anomaly-detection", 4, "shadow")
    _model(session, "anomaly-detection", 2, "retired")
    _model(session, "molecular-property", 9, "production")  # a task the site does not run
    page = client.get(f"/web/sites/{site_id}").text
    assert _model_rows(page) == [("Production", "anomaly-detection", "v3", "model registry"),
                                 ("Shadow", "anomaly-detection", "v4", "model registry")]
    assert 'id="registry-slot"' not in page
    site_pages.set_model_provider(lambda s, who, site: [
        site_pages.ModelInUse("production", "equipment-anomaly", "v5")])
    try:
        page = client.get(f"/web/sites/{site_id}").text
    finally:
        site_pages.set_model_provider(None)
    assert _model_rows(page) == [("Production", "equipment-anomaly", "v5", "model registry")]


def _model_rows(page: str) -> list[tuple[str, ...]]:
    table = re.search(r"<caption>Models at .*?</table>", page, re.S)
    assert table, "the models table is shown"
    return re.findall(r"<tr><td>(Production|Shadow)[^<]*</td><td class=\"mono\">([^<]+)</td>"
                      r"<td>([^<]+)</td><td>[^<]*</td><td>([^<]+)</td></tr>", table.group(0))


def check_page(html: str, path: str) -> None:
    """One h1, landmarks, every control labelled, unique ids, no inline or outside scripts."""
    page = Page(html)
    assert len(page.find("h1")) == 1, path
    assert len(page.find("main")) == 1 and page.find("main")[0].get("id") == "main", path
    assert page.unlabelled_controls() == [], (path, page.unlabelled_controls())
    ids = [a["id"] for _, a in page.tags if a.get("id")]
    assert len(ids) == len(set(ids)), f"duplicate ids on {path}"
    for script in page.find("script"):
        assert script.get("src", "").startswith("/web/static/"), path
    for table in re.findall(r"<table>(.*?)</table>", html, re.S):
        assert "<caption>" in table and 'scope="col"' in table, path
    posts = re.findall(r'<form method="post"[^>]*>\s*(<input[^>]*>)', html)
    assert all('name="csrf_token"' in first for first in posts), path


def test_site_pages_are_accessible(client: TestClient, people: People,
                                   tmp_path: Path) -> None:
    pending, _ = _pending_site(client, people, tmp_path, name="Lyon Lab")
    active, key = _active_site(client, people, tmp_path)
    body = alert()
    assert client.post("/monitoring/alerts", json=body,
                       headers=agent(key, body["alert_id"])).status_code == 201
    order = work_order(body["alert_id"])
    assert client.post("/monitoring/work-orders", json=order,
                       headers=agent(key, order["work_order_id"])).status_code == 201
    logged_in(client, "hub.root")
    assert "Acknowledge" in client.get(f"/web/sites/{active}").text
    paths = ["/web/sites", "/web/enrollments", f"/web/sites/{pending}", f"/web/sites/{active}"]
    for path in paths:
        resp = client.get(path)
        assert resp.status_code == 200, path
        check_page(resp.text, path)
    issued = _post(client, "/web/sites/enrollment-tokens", "/web/sites", valid_hours="2")
    check_page(issued.text, "token issued")
    _switch(client, "sam.a")
    for path in paths[:1] + paths[2:]:
        check_page(client.get(path).text, path)
