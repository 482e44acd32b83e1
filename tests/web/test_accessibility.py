"""Accessibility and self-containment of the pages: labels, landmarks, contrast, no CDN."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from hub.web.rendering import STATIC_DIR
from tests.factories import make_org, make_user
from tests.web.pages import Page, logged_in

# (text colour, background) pairs the stylesheet uses for text
TEXT_PAIRS = [
    ("--text", "--bg"), ("--text", "--surface"), ("--muted", "--bg"), ("--muted", "--surface"),
    ("--link", "--bg"), ("--link", "--surface"), ("--link-visited", "--bg"),
    ("--on-primary", "--primary"), ("--primary", "--bg"), ("--on-danger", "--danger"),
    ("--on-header", "--header-bg"), ("--error", "--bg"), ("--error", "--error-bg"),
    ("--ok", "--ok-bg"), ("--warn", "--warn-bg"), ("--text", "--focus"),
]


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_helper_matches_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_stylesheet_text_colours_meet_4_5_to_1() -> None:
    css = (STATIC_DIR / "fedhub.css").read_text()
    palette = dict(re.findall(r"(--[a-z-]+):\s*(#[0-9a-fA-F]{3,6});", css))
    for fg, bg in TEXT_PAIRS:
        assert fg in palette and bg in palette, (fg, bg)
        ratio = contrast(palette[fg], palette[bg])
        assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}"
    # every colour literal used outside the variable block is one of the checked variables
    body = css.split("}", 1)[1]
    assert not re.findall(r"#[0-9a-fA-F]{3,6}\b", body)


PAGES = ["/web/login", "/web/", "/web/organizations", "/web/users", "/web/api-keys",
         "/web/audit", "/web/audit/status"]


def test_pages_have_landmarks_labels_and_no_outside_assets(client: TestClient,
                                                          session: Session,
                                                          settings: Settings) -> None:
    org = make_org(session, kind="operator", name="Operator")
    make_user(session, settings, org, "hub_admin", "site_admin", username="a11y")
    pages = {"/web/login": client.get("/web/login")}
    logged_in(client, "a11y")
    for path in [*PAGES[1:], f"/web/organizations/{org.id}"]:
        pages[path] = client.get(path)
    for path, resp in pages.items():
        assert resp.status_code == 200, path
        assert "content-security-policy" in resp.headers, path
        page = Page(resp.text)
        html = page.find("html")
        assert html and html[0].get("lang") == "en", path
        anchors = page.find("a")
        assert anchors[0].get("href") == "#main" and anchors[0].get("class") == "skip-link"
        mains = page.find("main")
        assert len(mains) == 1 and mains[0].get("id") == "main", path
        assert len(page.find("header")) == 1 and len(page.find("footer")) == 1, path
        for nav in page.find("nav"):
            assert nav.get("aria-label"), path
        assert page.find("h1"), path
        assert page.unlabelled_controls() == [], path
        for script in page.find("script"):
            assert script.get("src", "").startswith("/web/static/"), path  # no inline, no CDN
        for tag in ("script", "link", "img"):
            for a in page.find(tag):
                url = a.get("src") or a.get("href") or ""
                assert not url.startswith(("http:", "https:", "//")), (path, url)
        ids = [a["id"] for _, a in page.tags if a.get("id")]
        assert len(ids) == len(set(ids)), f"duplicate ids on {path}"


def test_static_files_are_served_by_the_hub(client: TestClient) -> None:
    for name in ("fedhub.css", "refresh.js", "dialog.js"):
        resp = client.get(f"/web/static/{name}")
        assert resp.status_code == 200, name
        assert resp.content == (STATIC_DIR / name).read_bytes()
    assert client.get("/web/static/../auth.py").status_code == 404
    js = (Path(STATIC_DIR) / "refresh.js").read_text()
    assert "data-refresh-url" in js and "X-Fedhub-Refresh" in js
