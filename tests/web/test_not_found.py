"""Unknown portal URLs: browsers get the portal's 404 page, API clients a problem document."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from hub.web.errors import wants_html
from tests.factories import assert_problem, make_org, make_user
from tests.web.pages import Page, logged_in

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_browser_gets_an_html_404_page_and_api_clients_a_problem(
        client: TestClient, session: Session, settings: Settings) -> None:
    page = client.get("/web/no-such-page", headers={"Accept": BROWSER})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "content-security-policy" in page.headers
    parsed = Page(page.text)
    assert [a.get("href") for a in parsed.find("a")][:2] == ["#main", "/web/"]  # skip, home
    assert "<h1>Page not found</h1>" in page.text and "/web/no-such-page" in page.text
    assert 'href="/web/">Back to the dashboard' in page.text
    assert parsed.find("nav") == []  # nobody is logged in: no navigation

    for accept in ("application/json", "*/*", "application/problem+json, text/html;q=0.5"):
        assert_problem(client.get("/web/no-such-page", headers={"Accept": accept}), 404,
                       "not-found")
    assert_problem(client.get("/no-such-api", headers={"Accept": BROWSER}), 404, "not-found")

    make_user(session, settings, make_org(session), "instructor", username="lost")
    logged_in(client, "lost")
    mine = client.get("/web/teaching/nowhere/at/all", headers={"Accept": BROWSER})
    assert mine.status_code == 404 and "Page not found" in mine.text
    nav = Page(mine.text).find("nav")
    assert nav and nav[0].get("aria-label") == "Main"  # the usual layout for a logged-in person
    assert 'href="/web/teaching"' in mine.text and "Log out" in mine.text
    wrong_method = client.delete("/web/teaching", headers={"Accept": BROWSER})
    assert wrong_method.status_code == 405 and "allow" in wrong_method.headers
    assert wrong_method.headers["content-type"].startswith("text/html")


def test_accept_header_preferences() -> None:
    class Req:
        def __init__(self, accept: str) -> None:
            self.headers = {"accept": accept}

    assert wants_html(Req(BROWSER))  # type: ignore[arg-type]
    assert wants_html(Req("text/*"))  # type: ignore[arg-type]
    assert not wants_html(Req(""))  # type: ignore[arg-type]
    assert not wants_html(Req("*/*"))  # type: ignore[arg-type]
    assert not wants_html(Req("text/html;q=0"))  # type: ignore[arg-type]
    assert not wants_html(Req("application/json, text/html;q=0.2"))  # type: ignore[arg-type]
