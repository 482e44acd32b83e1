"""CSRF: every POST needs the token bound to the caller's session; failures get a 403 page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.config import Settings
from hub.identity.models import Organization
from hub.web import csrf
from tests.factories import PASSWORD, make_org, make_user
from tests.web.pages import logged_in, page_token


def _admin(client: TestClient, session: Session, settings: Settings, name: str) -> None:
    make_user(session, settings, make_org(session, kind="operator"), "hub_admin", username=name)
    logged_in(client, name)


def _org_named(session: Session, name: str) -> Organization | None:
    session.expire_all()
    return session.exec(select(Organization).where(Organization.name == name)).first()


def test_post_without_token_is_refused_with_a_page(client: TestClient, session: Session,
                                                   settings: Settings) -> None:
    _admin(client, session, settings, "csrf-admin")
    resp = client.post("/web/organizations", data={"name": "Sneaky Corp", "kind": "pharma"})
    assert resp.status_code == 403
    assert resp.headers["content-type"].startswith("text/html")
    assert "Form check failed" in resp.text
    assert _org_named(session, "Sneaky Corp") is None


def test_token_of_another_session_is_refused(app: object, client: TestClient, session: Session,
                                             settings: Settings) -> None:
    make_user(session, settings, make_org(session), "researcher", username="mallory")
    with TestClient(app) as attacker:  # type: ignore[arg-type]
        logged_in(attacker, "mallory")
        foreign = page_token(attacker)
    _admin(client, session, settings, "victim-admin")
    resp = client.post("/web/organizations", data={"name": "Forged Corp", "kind": "pharma",
                                                   "csrf_token": foreign})
    assert resp.status_code == 403
    assert _org_named(session, "Forged Corp") is None


def test_valid_token_in_form_or_header_is_accepted(client: TestClient, session: Session,
                                                   settings: Settings) -> None:
    _admin(client, session, settings, "ok-admin")
    token = page_token(client, "/web/organizations")
    resp = client.post("/web/organizations", data={"name": "Honest Corp", "kind": "pharma",
                                                   "jurisdiction": "EU", "csrf_token": token},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert _org_named(session, "Honest Corp") is not None
    by_header = client.post("/web/organizations", headers={"X-CSRF-Token": token},
                            data={"name": "Header Corp", "kind": "institute"},
                            follow_redirects=False)
    assert by_header.status_code == 303
    assert _org_named(session, "Header Corp") is not None


def test_login_form_is_protected_before_login(client: TestClient, session: Session,
                                              settings: Settings) -> None:
    make_user(session, settings, make_org(session), username="lena")
    no_token = client.post("/web/login", data={"username": "lena", "password": PASSWORD},
                           follow_redirects=False)
    assert no_token.status_code == 403
    token = page_token(client, "/web/login")
    assert client.cookies.get(csrf.PRE_COOKIE)
    # the token is bound to this browser's pre-session cookie: with another cookie it fails
    client.cookies.clear()
    client.cookies.set(csrf.PRE_COOKIE, "x" * 43)
    other = client.post("/web/login", data={"username": "lena", "password": PASSWORD,
                                            "csrf_token": token}, follow_redirects=False)
    assert other.status_code == 403
    client.cookies.clear()
    fresh = page_token(client, "/web/login")
    ok = client.post("/web/login", data={"username": "lena", "password": PASSWORD,
                                         "csrf_token": fresh}, follow_redirects=False)
    assert ok.status_code == 303


def test_token_changes_at_login(client: TestClient, session: Session,
                                settings: Settings) -> None:
    """The pre-login token is useless afterwards: tokens are bound to the session id."""
    make_user(session, settings, make_org(session, kind="operator"), "hub_admin",
              username="switch")
    before = page_token(client, "/web/login")
    logged_in(client, "switch")
    after = page_token(client, "/web/organizations")
    assert before != after
    resp = client.post("/web/organizations", data={"name": "Old Token Corp", "kind": "pharma",
                                                   "csrf_token": before})
    assert resp.status_code == 403
    assert _org_named(session, "Old Token Corp") is None


def test_expired_session_on_post_goes_to_login(client: TestClient, session: Session,
                                               settings: Settings) -> None:
    _admin(client, session, settings, "late-admin")
    token = page_token(client, "/web/organizations")
    client.cookies.clear()
    client.cookies.set("fedhub_session", "expired.or.garbage")
    resp = client.post("/web/organizations", data={"name": "Late Corp", "kind": "pharma",
                                                   "csrf_token": token},
                       follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/web/login"
    assert _org_named(session, "Late Corp") is None
