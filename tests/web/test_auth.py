"""Page login: redirects, cookie flags, lockout, sliding expiry, logout, session end."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from hub.db import utcnow
from hub.identity import security
from hub.identity.models import User
from hub.web import auth
from tests.factories import PASSWORD, assert_problem, login, make_org, make_user
from tests.web.pages import logged_in, page_token, web_login


def _cookie_header(resp: object, name: str) -> str:
    headers = resp.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(name + "=")]
    assert found, f"no {name} cookie set: {headers}"
    return str(found[-1])


def test_root_and_pages_redirect_to_login_but_api_answers_401(client: TestClient) -> None:
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 303 and root.headers["location"] == "/web/"
    home = client.get("/web/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/web/login"
    deep = client.get("/web/audit?entity_type=user", follow_redirects=False)
    assert deep.status_code == 303
    assert unquote(deep.headers["location"]) == "/web/login?next=/web/audit?entity_type=user"
    assert_problem(client.get("/me"), 401, "authentication-required")


def test_login_sets_strict_httponly_cookie_and_goes_to_next(client: TestClient,
                                                            session: Session,
                                                            settings: Settings) -> None:
    make_user(session, settings, make_org(session), "qa", username="quinn",
              full_name="Quinn Q")
    resp = web_login(client, "quinn", next_path="/web/organizations")
    assert resp.status_code == 303 and resp.headers["location"] == "/web/organizations"
    cookie = _cookie_header(resp, auth.COOKIE).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http on loopback: a Secure cookie would be dropped
    page = client.get("/web/")
    assert page.status_code == 200 and "Welcome, Quinn Q" in page.text


def test_cookie_is_secure_when_hub_is_served_over_https(app: object, session: Session,
                                                        settings: Settings) -> None:
    make_user(session, settings, make_org(session), username="sally")
    with TestClient(app, base_url="https://testserver") as https:  # type: ignore[arg-type]
        resp = web_login(https, "sally")
        assert resp.status_code == 303
        assert "secure" in _cookie_header(resp, auth.COOKIE).lower()


@pytest.mark.parametrize("target", ["https://evil.example/web/", "//evil.example/web",
                                    "/auth/token", "/web\\@evil.example", "/webevil"])
def test_next_cannot_leave_the_portal(target: str, client: TestClient, session: Session,
                                      settings: Settings) -> None:
    user = make_user(session, settings, make_org(session))
    resp = web_login(client, user.username, next_path=target)
    assert resp.status_code == 303 and resp.headers["location"] == "/web/"


def test_wrong_password_shows_the_form_again_and_counts_toward_lockout(
        client: TestClient, session: Session, settings: Settings) -> None:
    user = make_user(session, settings, make_org(session), username="lucy")
    resp = web_login(client, "lucy", password="wrong-password")
    assert resp.status_code == 401
    assert "Incorrect user id or password" in resp.text and 'name="username"' in resp.text
    assert auth.COOKIE + "=" not in resp.headers.get("set-cookie", "")
    for _ in range(settings.lockout_threshold - 1):
        web_login(client, "lucy", password="wrong-password")
    locked = web_login(client, "lucy")  # the right password, but the account is locked now
    assert locked.status_code == 423 and "locked" in locked.text.lower()
    session.expire_all()
    row = session.get(User, user.id)
    assert row is not None and row.locked_until is not None
    assert row.failed_attempts == settings.lockout_threshold


def test_logout_needs_csrf_and_ends_the_session(client: TestClient, session: Session,
                                                settings: Settings) -> None:
    make_user(session, settings, make_org(session), username="otto")
    logged_in(client, "otto")
    refused = client.post("/web/logout", follow_redirects=False)
    assert refused.status_code == 403
    out = client.post("/web/logout", data={"csrf_token": page_token(client)},
                      follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/web/login"
    assert 'max-age=0' in _cookie_header(out, auth.COOKIE).lower()
    after = client.get("/web/", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"] == "/web/login"
    assert "You have logged out." in client.get("/web/login").text


def test_session_slides_while_active_and_expires_when_idle(
        client: TestClient, session: Session, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    user = make_user(session, settings, make_org(session), username="sid")
    entered = utcnow().timestamp()  # the password was entered after the account was made
    two_min_ago = utcnow() - timedelta(minutes=2)
    monkeypatch.setattr(auth, "utcnow", lambda: two_min_ago)
    old = auth.issue(settings, user.id, auth_time=entered)
    monkeypatch.undo()
    client.cookies.set(auth.COOKIE, old)
    resp = client.get("/web/", follow_redirects=False)
    assert resp.status_code == 200
    fresh = _cookie_header(resp, auth.COOKIE).split(";")[0].split("=", 1)[1]
    renewed = auth.decode(settings, fresh)
    first = auth.decode(settings, old)
    assert renewed is not None and first is not None
    assert renewed.expires_at > first.expires_at and renewed.sid == first.sid
    # a background live-refresh request does not extend the session
    quiet = client.get("/web/", headers={auth.REFRESH_HEADER: "1"}, follow_redirects=False)
    assert auth.COOKIE + "=" not in quiet.headers.get("set-cookie", "")
    # idle past the timeout: the token has expired and the page asks to log in again
    long_ago = utcnow() - auth.idle_timeout(settings) - timedelta(minutes=1)
    monkeypatch.setattr(auth, "utcnow", lambda: long_ago)
    stale = auth.issue(settings, user.id, auth_time=entered)
    monkeypatch.undo()
    client.cookies.clear()
    client.cookies.set(auth.COOKIE, stale)
    expired = client.get("/web/users", follow_redirects=False)
    assert expired.status_code == 303 and expired.headers["location"].startswith("/web/login")
    assert "session has expired" in client.get(expired.headers["location"]).text


def test_absolute_limit_caps_sliding_renewal(settings: Settings) -> None:
    auth_time = (utcnow() - timedelta(hours=auth.ABSOLUTE_HOURS, minutes=-1)).timestamp()
    token = auth.issue(settings, "someone", auth_time=auth_time)
    ws = auth.decode(settings, token)
    assert ws is not None
    assert ws.expires_at.timestamp() <= auth_time + auth.ABSOLUTE_HOURS * 3600 + 1


def test_password_change_and_deactivation_end_page_sessions(
        client: TestClient, session: Session, settings: Settings) -> None:
    user = make_user(session, settings, make_org(session), username="pat")
    logged_in(client, "pat")
    assert client.get("/web/", follow_redirects=False).status_code == 200
    api = login(client, "pat")
    changed = client.post("/me/password", headers=api, json={
        "current_password": PASSWORD, "new_password": "Another-Secret-99!"})
    assert changed.status_code == 204
    assert client.get("/web/", follow_redirects=False).status_code == 303
    logged_in_again = web_login(client, "pat", password="Another-Secret-99!")
    assert logged_in_again.status_code == 303
    row = session.get(User, user.id)
    assert row is not None
    from hub.audit import service as audit
    with audit.reason(session, "left the company"):
        row.is_active = False
        session.add(row)
    session.commit()
    assert client.get("/web/", follow_redirects=False).status_code == 303


def test_tokens_are_not_interchangeable(client: TestClient, session: Session,
                                        settings: Settings) -> None:
    user = make_user(session, settings, make_org(session), username="tina")
    bearer, _ = security.issue_token(settings, user.id, user.organization_id, user.roles)
    client.cookies.set(auth.COOKIE, bearer)
    assert client.get("/web/", follow_redirects=False).status_code == 303
    page_token_ = auth.issue(settings, user.id)
    assert_problem(client.get("/me", headers={"Authorization": f"Bearer {page_token_}"}), 401)
