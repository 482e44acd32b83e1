"""Real-browser fixtures: Debian's Chromium driven by Playwright against a live hub.

The hub runs under uvicorn on a loopback port chosen by the OS, on a fresh migrated SQLite
database seeded through the services. Chromium is never downloaded: the tests use the Debian
package (``apt-get install -y chromium``); without it they skip, or fail when ``CI=true``.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import Request
from fastapi.responses import HTMLResponse

from hub.app import create_app
from hub.config import Settings
from hub.db import Database
from hub.migrations import upgrade
from hub.web import PageUser, page_router, static_url
from tests.factories import PASSWORD, make_org, make_user

CHROMIUM = os.environ.get("FEDHUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@dataclass
class LiveHub:
    url: str
    settings: Settings
    db: Database
    operator_org_id: str
    pharma_org_id: str
    admin: str = "hana.admin"
    site_admin: str = "sid.siteadmin"
    password: str = PASSWORD
    names: dict[str, str] = field(default_factory=dict)


def _seed(db: Database, settings: Settings) -> tuple[str, str]:
    with db.session() as session:
        operator = make_org(session, kind="operator", name="fedhub Consortium Operator")
        pharma = make_org(session, kind="pharma", name="Helix Pharma", jurisdiction="CH")
        make_user(session, settings, operator, "hub_admin", username="hana.admin",
                  full_name="Hana Admin")
        make_user(session, settings, pharma, "site_admin", username="sid.siteadmin",
                  full_name="Sid Siteadmin")
        return operator.id, pharma.id


def _refresh_probe() -> Any:
    """Test-only page whose fragment counts its fetches and says "stop" at the third."""
    probe = page_router("/web/test-refresh")
    calls = {"n": 0}

    @probe.get("")
    def page(who: PageUser) -> HTMLResponse:
        return HTMLResponse(
            f'<!doctype html><html lang="en"><head><title>probe</title><script src='
            f'"{static_url("refresh.js")}" defer></script></head><body><main><div id="probe" '
            'data-refresh-url="/web/test-refresh/fragment" data-refresh-seconds="1">'
            "tick 0</div></main></body></html>")

    @probe.get("/fragment")
    def fragment(request: Request, who: PageUser) -> HTMLResponse:
        calls["n"] += 1
        done = calls["n"] >= 3
        headers = {"X-Refresh-Stop": "1"} if done else {}
        return HTMLResponse(f"tick {calls['n']}", headers=headers)

    return probe


@pytest.fixture(scope="session")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """The hub on a free loopback port, fresh database, seeded people."""
    data = tmp_path_factory.mktemp("live-hub")
    url = f"sqlite:///{data / 'fedhub.db'}"
    settings = Settings(environment="test", data_dir=data, database_url=url,
                        secret_key=secrets.token_urlsafe(48))
    upgrade(url)
    db = Database(settings)
    operator_id, pharma_id = _seed(db, settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the OS picks a free port; uvicorn serves on this socket
    port = sock.getsockname()[1]
    app = create_app(settings, db=db)
    app.include_router(_refresh_probe())
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the hub did not start")
        time.sleep(0.02)
    try:
        yield LiveHub(f"http://127.0.0.1:{port}", settings, db, operator_id, pharma_id)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless. Missing browser: skip, or fail under ``CI=true``."""
    if not Path(CHROMIUM).exists():
        message = (f"Chromium not found at {CHROMIUM}: install Debian's package with "
                   "'apt-get install -y chromium' (or set FEDHUB_CHROMIUM)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=CHROMIUM_ARGS)
        except Exception as exc:  # a driver/browser mismatch must be reported, not hidden
            pytest.fail(f"Playwright could not launch {CHROMIUM}: {exc}", pytrace=False)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, live_hub: LiveHub, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the live hub; script errors (CSP refusals
    included) and failed sub-resources (scripts, styles, fragments) fail the test."""
    context = browser.new_context(base_url=live_hub.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        # error statuses of pages are expected (403 page, form re-shown with 422); Chromium
        # logs them as console errors: sub-resources are checked by their responses instead
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(msg.text)

    def on_response(resp: Any) -> None:
        if resp.status >= 400 and resp.request.resource_type != "document":
            problems.append(f"{resp.status} {resp.request.resource_type} {resp.url}")

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    pg.on("response", on_response)
    try:
        yield pg
        assert problems == [], f"browser console errors: {problems}"
    finally:
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            shot(pg, f"FAILED-{request.node.name}")
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def shot(pg: Any, name: str) -> Path:
    """Save a full-page screenshot under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png")
    pg.screenshot(path=str(path), full_page=True)
    return path


def log_in(pg: Any, username: str, password: str = PASSWORD) -> None:
    pg.goto("/web/login")
    pg.get_by_label("User id").fill(username)
    pg.get_by_label("Password").fill(password)
    pg.get_by_role("button", name="Log in").click()
    pg.wait_for_url(re.compile(r".*/web/$"))
