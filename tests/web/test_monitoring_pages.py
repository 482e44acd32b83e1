"""Monitoring pages: alerts and work orders per site and across the consortium, triage."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.audit.models import AuditEntry
from hub.config import Settings
from hub.monitoring.models import Alert, WorkOrder
from site_agent import keys as agent_keys
from tests.factories import PASSWORD, login, make_org, make_user
from tests.sites.helpers import agent_enroll, new_keys, poll, site_body
from tests.sites.test_monitoring import agent, alert, work_order
from tests.web.pages import Page, logged_in, page_token
from tests.web.test_sites_pages import check_page


def _site(client: TestClient, admin: dict[str, str], hub_admin: dict[str, str], tmp: Path,
          name: str, code: str) -> tuple[str, str]:
    """An approved site whose ISA-95 site code is ``code``: (site id, agent API key)."""
    token = client.post("/sites/enrollment-tokens", headers=admin, json={}).json()["token"]
    keys = new_keys(tmp)
    body = site_body(keys.public, name=name)
    body["location"]["site"] = code
    site_id = agent_enroll(client, token, body).json()["id"]
    assert client.post(f"/sites/{site_id}/approve", headers=hub_admin,
                       json={"password": PASSWORD}).status_code == 200
    sealed = poll(client, site_id, keys).json()["api_key"]
    return site_id, agent_keys.open_sealed(keys.private, sealed, site_id).decode()


def _alert(client: TestClient, key: str, code: str, **over: Any) -> str:
    body = alert(site_id=code, **over)
    body["asset"] = {**body["asset"], "site": code}
    resp = client.post("/monitoring/alerts", json=body, headers=agent(key, body["alert_id"]))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _work_order(client: TestClient, key: str, code: str, alert_id: str) -> str:
    body = work_order(alert_id, site_id=code)
    body["asset"] = {**body["asset"], "site": code}
    resp = client.post("/monitoring/work-orders", json=body,
                       headers=agent(key, body["work_order_id"]))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


class World:
    def __init__(self, client: TestClient, session: Session, settings: Settings,
                 tmp: Path) -> None:
        a, b = make_org(session, name="Helix Pharma"), make_org(session, name="Borealis Bio")
        op = make_org(session, kind="operator")
        make_user(session, settings, a, "site_admin", username="sam.a")
        make_user(session, settings, a, "qa", username="quinn.a")
        make_user(session, settings, a, "researcher", username="rex.a")
        make_user(session, settings, b, "site_admin", username="bea.b")
        make_user(session, settings, op, "hub_admin", username="hub.root")
        root = login(client, "hub.root")
        self.basel, self.basel_key = _site(client, login(client, "sam.a"), root, tmp,
                                           "Basel Solid Dose", "basel")
        self.oslo, self.oslo_key = _site(client, login(client, "bea.b"), root, tmp,
                                         "Oslo Fill Finish", "oslo")
        self.a_alert = _alert(client, self.basel_key, "basel",
                              message="vibration 9.1 mm/s on the Basel dryer")
        self.a_info = _alert(client, self.basel_key, "basel", severity="info",
                             message="temperature drift starting in Basel")
        self.a_order = _work_order(client, self.basel_key, "basel", self.a_alert)
        self.b_alert = _alert(client, self.oslo_key, "oslo",
                              message="vibration 12 mm/s on the Oslo filler")
        self.b_order = _work_order(client, self.oslo_key, "oslo", self.b_alert)


@pytest.fixture
def world(client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> World:
    return World(client, session, settings, tmp_path)


def _post(client: TestClient, path: str, form_page: str, **data: Any) -> httpx.Response:
    return client.post(path, data={**data, "csrf_token": page_token(client, form_page)},
                       follow_redirects=False)


def test_site_admin_sees_own_alerts_and_only_totals_of_others(client: TestClient,
                                                               world: World) -> None:
    logged_in(client, "sam.a")
    overview = client.get("/web/monitoring").text
    assert "Basel Solid Dose" in overview and "Oslo" not in overview
    assert "vibration 9.1 mm/s on the Basel dryer" in overview
    consortium = re.search(r'<dl class="record" id="consortium">(.*?)</dl>', overview, re.S)
    assert consortium and "<dd>2</dd>" in consortium.group(1)  # two sites report alerts
    assert "critical 2" in consortium.group(1)  # Oslo's counted, not named
    assert 'role="img"' in overview  # alerts-per-site chart
    listing = client.get("/web/monitoring/alerts").text
    assert "Basel dryer" in listing and "Oslo filler" not in listing
    orders = client.get("/web/monitoring/work-orders").text
    assert "bearing_wear" in orders and "Oslo" not in orders
    for path in (f"/web/monitoring/alerts/{world.b_alert}",
                 f"/web/monitoring/work-orders/{world.b_order}",
                 f"/web/monitoring/alerts?site_id={world.oslo}"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert "Oslo filler" not in resp.text
    resp = _post(client, f"/web/monitoring/alerts/{world.b_alert}/acknowledge",
                 "/web/monitoring/alerts", reason="not ours to touch")
    assert resp.status_code == 404


def test_hub_admin_sees_every_site(client: TestClient, world: World) -> None:
    logged_in(client, "hub.root")
    listing = client.get("/web/monitoring/alerts").text
    assert "Basel dryer" in listing and "Oslo filler" in listing


def test_filters_narrow_and_bad_filter_values_name_the_field(client: TestClient,
                                                             world: World) -> None:
    logged_in(client, "sam.a")
    info = client.get("/web/monitoring/alerts?severity=info").text
    assert "drift starting in Basel" in info and "Basel dryer" not in info
    by_site = client.get(f"/web/monitoring/alerts?site_id={world.basel}&status=open").text
    assert "Basel dryer" in by_site
    bad = client.get("/web/monitoring/alerts?status=sleeping")
    assert bad.status_code == 422
    page = Page(bad.text)
    control = [a for _, a in page.tags if a.get("id") == "f-status"]
    assert control[0].get("aria-invalid") == "true" and 'href="#f-status"' in bad.text


def test_acknowledge_then_resolve_with_reasons(client: TestClient, session: Session,
                                               world: World) -> None:
    logged_in(client, "quinn.a")  # QA may triage
    missing = _post(client, f"/web/monitoring/alerts/{world.a_alert}/acknowledge",
                    "/web/monitoring/alerts", reason=" ", next="/web/monitoring/alerts")
    assert missing.status_code == 422
    page = Page(missing.text)
    field = f"f-reason-{world.a_alert}"
    assert next(a for _, a in page.tags if a.get("id") == field).get("aria-invalid") == "true"
    assert "at least 3 characters" in missing.text
    assert 'name="next" value="/web/monitoring/alerts"' in missing.text  # the way back is kept
    done = _post(client, f"/web/monitoring/alerts/{world.a_alert}/acknowledge",
                 "/web/monitoring/alerts", reason="maintenance called",
                 next="/web/monitoring/alerts?status=open")
    assert done.status_code == 303
    assert done.headers["location"] == "/web/monitoring/alerts?status=open"
    row = session.get(Alert, world.a_alert)
    session.refresh(row)
    assert row is not None and row.status == "acknowledged"
    assert row.status_reason == "maintenance called"
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_id == world.a_alert,
                                                  AuditEntry.action == "update")).one()
    assert entry.reason == "maintenance called" and entry.actor_name == "quinn.a"
    assert "Alert acknowledged: maintenance called" in client.get(
        "/web/monitoring/alerts?status=open").text
    twice = _post(client, f"/web/monitoring/alerts/{world.a_alert}/acknowledge",
                  f"/web/monitoring/alerts/{world.a_alert}", reason="again")
    assert twice.status_code == 409 and "cannot move to acknowledged" in twice.text
    outside = _post(client, f"/web/monitoring/alerts/{world.a_alert}/resolve",
                    f"/web/monitoring/alerts/{world.a_alert}", reason="bearing replaced",
                    next="https://evil.example/")
    assert outside.status_code == 303
    assert outside.headers["location"] == f"/web/monitoring/alerts/{world.a_alert}"
    session.refresh(row)
    assert row.status == "resolved"
    wo = _post(client, f"/web/monitoring/work-orders/{world.a_order}/acknowledge",
               f"/web/monitoring/work-orders/{world.a_order}", reason="scheduled for Monday")
    assert wo.status_code == 303
    order = session.get(WorkOrder, world.a_order)
    session.refresh(order)
    assert order is not None and order.status == "acknowledged"


def test_researcher_cannot_triage(client: TestClient, session: Session, world: World) -> None:
    logged_in(client, "rex.a")
    token = page_token(client, "/web/")
    resp = client.post(f"/web/monitoring/alerts/{world.a_alert}/acknowledge",
                       data={"reason": "curious", "csrf_token": token})
    assert resp.status_code == 403
    row = session.get(Alert, world.a_alert)
    assert row is not None and row.status == "open"


def test_site_page_lists_and_triages_its_alerts(client: TestClient, session: Session,
                                                world: World) -> None:
    logged_in(client, "sam.a")
    page = client.get(f"/web/sites/{world.basel}").text
    assert "Basel dryer" in page and "bearing_wear" in page
    resp = _post(client, f"/web/monitoring/alerts/{world.a_info}/resolve",
                 f"/web/sites/{world.basel}", reason="expected after cleaning",
                 next=f"/web/sites/{world.basel}#alerts")
    assert resp.headers["location"] == f"/web/sites/{world.basel}#alerts"
    row = session.get(Alert, world.a_info)
    session.refresh(row)
    assert row is not None and row.status == "resolved"


def test_monitoring_pages_are_accessible(client: TestClient, world: World) -> None:
    logged_in(client, "sam.a")
    for path in ("/web/monitoring", "/web/monitoring/alerts", "/web/monitoring/work-orders",
                 f"/web/monitoring/alerts/{world.a_alert}",
                 f"/web/monitoring/work-orders/{world.a_order}"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        check_page(resp.text, path)
