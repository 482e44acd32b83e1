"""Helpers for page tests: log in through the form, read CSRF tokens, parse pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _TOKEN.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


def page_token(client: TestClient, path: str = "/web/") -> str:
    resp = client.get(path)
    assert resp.status_code == 200, resp.text
    return csrf_from(resp.text)


def web_login(client: TestClient, username: str, password: str = PASSWORD,
              next_path: str = "/web/") -> Any:
    """Log in through the login form; returns the (unfollowed) response."""
    token = page_token(client, "/web/login")
    return client.post("/web/login", data={"username": username, "password": password,
                                           "csrf_token": token, "next": next_path},
                       follow_redirects=False)


def logged_in(client: TestClient, username: str) -> TestClient:
    resp = web_login(client, username)
    assert resp.status_code == 303, resp.text
    return client


class Page(HTMLParser):
    """Collects the parts of a page the accessibility checks look at."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.label_for: set[str] = set()
        self._open_labels = 0
        self.wrapped_controls: set[int] = set()
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "label":
            self._open_labels += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and self._open_labels:
            self.wrapped_controls.add(len(self.tags))
        self.tags.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._open_labels -= 1

    def find(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]

    def unlabelled_controls(self) -> list[dict[str, str]]:
        out = []
        for i, (tag, a) in enumerate(self.tags):
            if tag not in ("input", "select", "textarea") or a.get("type") in ("hidden",
                                                                             "submit"):
                continue
            if i in self.wrapped_controls or a.get("aria-label") or \
                    (a.get("id") and a["id"] in self.label_for):
                continue
            out.append(a)
        return out
