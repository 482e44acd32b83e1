"""Login rate limiting: per client address and per username, sliding window, 429 + Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.app import create_app
from hub.config import Settings
from hub.identity.models import User
from hub.ratelimit import SlidingWindow
from tests.conftest import RollbackDatabase
from tests.factories import PASSWORD, assert_problem, make_org, make_user
from tests.web.pages import page_token


def _client(settings: Settings, db: RollbackDatabase, ip: str = "203.0.113.7",
            **limits: int) -> TestClient:
    app = create_app(settings.model_copy(update=limits), db=db)
    return TestClient(app, raise_server_exceptions=False, client=(ip, 40000))


@pytest.fixture
def limited(settings: Settings, db: RollbackDatabase) -> Iterator[Any]:
    """A factory of clients on ONE app (shared windows), each with its own client address."""
    app = create_app(settings.model_copy(update={
        "login_rate_per_ip": 4, "login_rate_per_user": 3, "login_rate_window_seconds": 60}), db=db)
    clients: list[TestClient] = []

    def make(ip: str = "203.0.113.7") -> TestClient:
        c = TestClient(app, raise_server_exceptions=False, client=(ip, 40000))
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def _token(c: TestClient, user: str, password: str | None = None) -> Any:
    return c.post("/auth/token", data={"username": user, "password": password or "wrong"})


def test_username_window_refuses_with_429_and_retry_after(limited: Any, session: Session,
                                                          settings: Settings) -> None:
    user = make_user(session, settings, make_org(session), username="erin")
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):  # spread over addresses
        assert_problem(_token(limited(ip), "erin"), 401, "invalid-credentials")
    # the fourth attempt is refused before the password is checked, even the right one
    resp = _token(limited("198.51.100.4"), "Erin ", PASSWORD)
    body = assert_problem(resp, 429, "too-many-requests")
    retry = int(resp.headers["retry-after"])
    assert 1 <= retry <= 60 and body["retry_after"] == retry
    assert "username" in body["detail"]
    session.expire_all()
    fresh = session.get(User, user.id)
    assert fresh is not None and fresh.locked_until is None  # no extra failure was counted
    # another user from the same addresses is not affected
    make_user(session, settings, make_org(session), username="frank")
    assert _token(limited("198.51.100.4"), "frank", PASSWORD).status_code == 200


def test_address_window_refuses_many_usernames_from_one_client(limited: Any) -> None:
    c = limited("203.0.113.9")
    for i in range(4):
        assert_problem(_token(c, f"nobody{i}"), 401)
    resp = _token(c, "somebody-else")
    body = assert_problem(resp, 429, "too-many-requests")
    assert "client address" in body["detail"] and int(resp.headers["retry-after"]) >= 1
    # a forwarded-for header sent by the client itself does not reset its window
    spoofed = c.post("/auth/token", data={"username": "x", "password": "y"},
                     headers={"X-Forwarded-For": "192.0.2.44"})
    assert_problem(spoofed, 429)
    # another address still gets a normal answer
    assert_problem(_token(limited("203.0.113.10"), "nobody0"), 401, "invalid-credentials")


def test_successful_logins_do_not_use_up_the_window(limited: Any, session: Session,
                                                    settings: Settings) -> None:
    make_user(session, settings, make_org(session), username="gina")
    c = limited()
    for _ in range(8):  # twice the address limit, all successful
        assert _token(c, "gina", PASSWORD).status_code == 200


def test_web_login_is_limited_too_with_a_page_for_browsers(limited: Any, session: Session,
                                                           settings: Settings) -> None:
    make_user(session, settings, make_org(session), username="hana")
    c = limited("203.0.113.20")
    token = page_token(c, "/web/login")
    form = {"username": "hana", "password": "wrong", "csrf_token": token, "next": "/web/"}
    for _ in range(3):
        assert c.post("/web/login", data=form, follow_redirects=False).status_code == 401
    page = c.post("/web/login", data={**form, "password": PASSWORD}, follow_redirects=False,
                  headers={"Accept": "text/html"})
    assert page.status_code == 429 and int(page.headers["retry-after"]) >= 1
    assert page.headers["content-type"].startswith("text/html")
    assert "Too many login attempts" in page.text and "set-cookie" not in page.headers
    # the API shares the username window (same process)
    assert_problem(_token(limited("203.0.113.21"), "hana", PASSWORD), 429)


def test_zero_turns_the_limits_off(settings: Settings, db: RollbackDatabase) -> None:
    with _client(settings, db, login_rate_per_ip=0, login_rate_per_user=0) as c:
        for i in range(40):
            assert _token(c, f"ghost{i % 2}").status_code == 401


def test_defaults_are_sensible() -> None:
    s = Settings(environment="test", secret_key="k" * 40, database_url="sqlite://")
    assert s.login_rate_window_seconds == 60
    assert s.login_rate_per_user <= 2 * s.lockout_threshold + 10 and s.login_rate_per_user > 0
    assert s.login_rate_per_ip >= s.login_rate_per_user


def test_sliding_window_frees_slots_as_they_age() -> None:
    now = [1000.0]
    w = SlidingWindow(limit=2, window=10, clock=lambda: now[0])
    w.take("k")
    now[0] += 4
    w.take("k")
    assert w.retry_after("k") == pytest.approx(6)
    now[0] += 6  # the first slot has aged out, the second has 4 s left
    assert w.retry_after("k") == 0
    w.take("k")
    assert w.retry_after("k") == pytest.approx(4)


def test_sliding_window_gives_back_and_bounds_its_keys() -> None:
    w = SlidingWindow(limit=1, window=60, max_keys=3)
    stamp = w.take("a")
    assert w.retry_after("a") > 0
    w.give_back("a", stamp)
    assert w.retry_after("a") == 0
    for key in ("b", "c", "d", "e"):
        w.take(key)
    assert w.retry_after("b") == 0  # the least recently used key was forgotten
    assert w.retry_after("e") > 0
