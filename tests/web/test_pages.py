"""Pages by role: organizations, people, API keys, e-signatures and the audit trail."""

from __future__ import annotations

import re
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.audit.models import AuditEntry, ESignature
from hub.config import Settings
from hub.identity.models import ApiKey, Organization, User
from tests.factories import PASSWORD, make_org, make_user
from tests.web.pages import logged_in, page_token


def _post(client: TestClient, path: str, form_page: str, **data: Any) -> httpx.Response:
    return client.post(path, data={**data, "csrf_token": page_token(client, form_page)},
                       follow_redirects=False)


def test_dashboard_shows_each_role_its_areas(client: TestClient, session: Session,
                                             settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="rita")
    make_user(session, settings, org, "site_admin", username="sam")
    researcher = logged_in(client, "rita").get("/web/").text
    assert "R&amp;D researcher" in researcher and "submit molecule screens" in researcher
    assert 'href="/web/organizations"' in researcher
    assert 'href="/web/api-keys"' not in researcher and 'href="/web/audit"' not in researcher
    client.cookies.clear()
    admin_page = logged_in(client, "sam").get("/web/").text
    assert 'href="/web/api-keys"' in admin_page and 'href="/web/audit"' in admin_page
    assert "issue and revoke site-agent API keys" in admin_page


def test_researcher_cannot_see_people_of_another_org(client: TestClient, session: Session,
                                                     settings: Settings) -> None:
    mine, other = make_org(session, name="Mine Pharma"), make_org(session, name="Other Labs")
    make_user(session, settings, mine, "researcher", username="reese")
    make_user(session, settings, mine, "qa", username="colleague")
    make_user(session, settings, other, "researcher", username="stranger")
    logged_in(client, "reese")
    own = client.get("/web/users")
    assert own.status_code == 200
    assert "colleague" in own.text and "stranger" not in own.text
    assert 'id="new-user"' not in own.text  # no create form for non-admins
    denied = client.get(f"/web/users?org={other.id}")
    assert denied.status_code == 403 and "stranger" not in denied.text
    assert "own organization" in denied.text
    other_page = client.get(f"/web/organizations/{other.id}")
    assert other_page.status_code == 200 and "Other Labs" in other_page.text
    assert "stranger" not in other_page.text
    for path in ("/web/api-keys", "/web/audit", "/web/audit/status"):
        assert client.get(path).status_code == 403, path
    resp = _post(client, "/web/organizations", "/web/organizations", name="Rogue", kind="pharma")
    assert resp.status_code == 403
    assert session.exec(select(Organization).where(Organization.name == "Rogue")).first() is None


def test_hub_admin_creates_org_and_user_through_forms(client: TestClient, session: Session,
                                                      settings: Settings) -> None:
    make_user(session, settings, make_org(session, kind="operator"), "hub_admin",
              username="root-web")
    logged_in(client, "root-web")
    resp = _post(client, "/web/organizations", "/web/organizations", name="Helix Pharma",
                 kind="pharma", jurisdiction="CH")
    assert resp.status_code == 303
    org = session.exec(select(Organization).where(Organization.name == "Helix Pharma")).one()
    assert resp.headers["location"] == f"/web/organizations/{org.id}"
    assert "Helix Pharma registered" in client.get(f"/web/organizations/{org.id}").text
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_id == org.id)).one()
    assert entry.action == "create" and entry.actor_name == "root-web"
    dup = _post(client, "/web/organizations", "/web/organizations", name="Helix Pharma",
                kind="pharma")
    assert dup.status_code == 422 and "already exists" in dup.text

    weak = _post(client, "/web/users", "/web/users", username="new.person", full_name="New P",
                 email="np@example.org", organization_id=org.id, roles=["researcher"],
                 password="short")
    assert weak.status_code == 422
    text = weak.text
    assert 'href="#f-password"' in text and 'aria-invalid="true"' in text
    assert 'value="new.person"' in text  # what was typed is kept
    assert session.exec(select(User).where(User.username == "new.person")).first() is None
    ok = _post(client, "/web/users", "/web/users", username="new.person", full_name="New P",
               email="np@example.org", organization_id=org.id, roles=["researcher", "qa"],
               password=PASSWORD)
    assert ok.status_code == 303
    user = session.exec(select(User).where(User.username == "new.person")).one()
    assert sorted(user.roles) == ["qa", "researcher"] and user.organization_id == org.id


def test_org_membership_signed_with_the_esignature_dialog(client: TestClient, session: Session,
                                                          settings: Settings) -> None:
    make_user(session, settings, make_org(session, kind="operator"), "hub_admin",
              username="signer", full_name="Dr. Sig Ner")
    org = make_org(session, name="Needs Approval Ltd")
    logged_in(client, "signer")
    page = client.get(f"/web/organizations/{org.id}").text
    assert 'command="show-modal"' in page and 'name="password"' in page
    assert "Awaiting approval" in page
    path = f"/web/organizations/{org.id}/sign"
    wrong = _post(client, path, f"/web/organizations/{org.id}", password="not-my-password",
                  meaning="approved", comment="checked the registry")
    assert wrong.status_code == 403
    assert "Password check failed" in wrong.text and "data-reopen" in wrong.text
    session.expire_all()
    signer = session.exec(select(User).where(User.username == "signer")).one()
    assert signer.failed_attempts == 1  # the failed password check counts toward lockout
    assert not session.exec(select(ESignature).where(ESignature.entity_id == org.id)).all()
    ok = _post(client, path, f"/web/organizations/{org.id}", password=PASSWORD,
               meaning="approved", comment="checked the registry")
    assert ok.status_code == 303
    sig = session.exec(select(ESignature).where(ESignature.entity_id == org.id)).one()
    assert sig.meaning == "approved" and sig.printed_name == "Dr. Sig Ner"
    assert sig.comment == "checked the registry"
    after = client.get(f"/web/organizations/{org.id}").text
    assert "Signed (approved) by Dr. Sig Ner" in after
    assert re.search(r'id="membership-status"><span class="badge ok">Approved', after)
    assert "Valid" in after
    assert "Needs Approval Ltd" not in client.get("/web/").text  # no longer pending


def test_non_admin_cannot_sign_membership(client: TestClient, session: Session,
                                          settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "qa", username="qa-only")
    logged_in(client, "qa-only")
    assert "show-modal" not in client.get(f"/web/organizations/{org.id}").text
    resp = _post(client, f"/web/organizations/{org.id}/sign", "/web/", password=PASSWORD,
                 meaning="approved")
    assert resp.status_code == 403
    assert not session.exec(select(ESignature).where(ESignature.entity_id == org.id)).all()


def test_site_admin_issues_and_revokes_api_key(client: TestClient, session: Session,
                                               settings: Settings) -> None:
    org = make_org(session, name="Keyed Plant Co")
    make_user(session, settings, org, "site_admin", username="keeper")
    logged_in(client, "keeper")
    issued = _post(client, "/web/api-keys", "/web/api-keys", name="Basel agent",
                   site_id="site-basel")
    assert issued.status_code == 200
    key = re.search(r'id="issued-key" type="text" readonly value="(fhk_[^"]+)"',
                    issued.text)
    assert key, "the new key is shown"
    secret = key.group(1)
    assert client.get("/organizations", headers={"X-API-Key": secret}).status_code == 200
    listing = client.get("/web/api-keys").text
    assert secret not in listing and "Basel agent" in listing  # shown once only
    row = session.exec(select(ApiKey).where(ApiKey.name == "Basel agent")).one()
    no_reason = _post(client, f"/web/api-keys/{row.id}/revoke", "/web/api-keys", reason="")
    assert no_reason.status_code == 422
    revoked = _post(client, f"/web/api-keys/{row.id}/revoke", "/web/api-keys",
                    reason="agent host decommissioned")
    assert revoked.status_code == 303
    assert "revoked" in client.get("/web/api-keys").text.lower()
    assert client.get("/organizations", headers={"X-API-Key": secret}).status_code == 401
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_id == row.id,
                                                  AuditEntry.action == "update")).one()
    assert entry.reason == "agent host decommissioned" and entry.actor_name == "keeper"


def test_site_admin_cannot_revoke_other_orgs_keys(client: TestClient, session: Session,
                                                  settings: Settings) -> None:
    mine, other = make_org(session), make_org(session)
    make_user(session, settings, mine, "site_admin", username="nosy")
    from hub.identity import service as identity
    from hub.identity.principal import Principal
    from hub.identity.schemas import ApiKeyCreate

    owner = Principal("user", "x", "x", other.id, frozenset({"site_admin"}))
    key, _ = identity.issue_api_key(session, owner, ApiKeyCreate(name="theirs"))
    session.commit()
    logged_in(client, "nosy")
    assert "theirs" not in client.get("/web/api-keys").text
    resp = _post(client, f"/web/api-keys/{key.id}/revoke", "/web/api-keys", reason="because")
    assert resp.status_code == 404
    session.expire_all()
    assert session.get(ApiKey, key.id).revoked_at is None  # type: ignore[union-attr]


def _drop_triggers(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("DROP TRIGGER audit_entry_no_update"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_entry_no_change ON audit_entry"))


def test_audit_page_shows_entries_and_chain_status(client: TestClient, session: Session,
                                                   settings: Settings) -> None:
    mine, other = make_org(session, name="Audited Org"), make_org(session, name="Elsewhere")
    make_user(session, settings, mine, "regulator", "hub_admin", username="auditor")
    make_user(session, settings, other, "qa", username="elsewhere-qa")
    logged_in(client, "auditor")
    page = client.get("/web/audit")
    assert page.status_code == 200
    # the chain is verified after the page (it takes O(entries)): a placeholder first
    assert 'data-chain="pending"' in page.text and "data-refresh-now" in page.text
    assert "elsewhere-qa" in page.text  # hub admins see every organization's entries
    filtered = client.get("/web/audit", params={"entity_type": "organization"}).text
    assert "Audited Org" in filtered and "elsewhere-qa" not in filtered
    fragment = client.get("/web/audit/status", headers={"X-Fedhub-Refresh": "1"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-chain="intact"' in fragment.text
    standalone = client.get("/web/audit/status").text  # without scripts: a page of its own
    assert "<h1>Audit chain verification</h1>" in standalone and "Audit chain intact" in standalone
    again = client.get("/web/audit").text  # a recent verification is shown at once
    assert 'data-chain="intact"' in again and "data-refresh-now" not in again
    first = session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))).first()
    assert first is not None
    _drop_triggers(session)
    session.execute(sa.text("UPDATE audit_entry SET reason = 'rewritten' WHERE seq = :s"),
                    {"s": first.seq})
    session.commit()
    broken = client.get("/web/audit/status").text
    assert 'data-chain="broken"' in broken and f"at entry {first.seq}" in broken


def test_audit_page_is_scoped_for_non_admin_auditors(client: TestClient, session: Session,
                                                     settings: Settings) -> None:
    mine, other = make_org(session), make_org(session)
    make_user(session, settings, mine, "site_admin", username="scoped-admin")
    make_user(session, settings, other, "site_admin", username="far-away")
    logged_in(client, "scoped-admin")
    # another org's admin acts; the scoped auditor must not see that entry
    with TestClient(client.app) as far:
        logged_in(far, "far-away")
        _post(far, "/web/api-keys", "/web/api-keys", name="far-key")
    mine_key = _post(client, "/web/api-keys", "/web/api-keys", name="near-key")
    assert mine_key.status_code == 200
    page = client.get("/web/audit").text
    assert "near-key" in page and "far-key" not in page
