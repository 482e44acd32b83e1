"""Cold-chain pages: lots with custody and per-leg temperature charts, excursions, inventory,
partners and alert acknowledgement; only what the organization may see."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.audit.models import AuditEntry
from hub.config import Settings
from hub.traceability.models import TraceAlert, TracePartner
from tests.factories import login, make_org, make_user
from tests.traceability import docs
from tests.web.pages import Page, logged_in, page_token
from tests.web.test_sites_pages import check_page


class Chain:
    """Plant (owner) shares with its carrier and distributor; an outsider shares nothing."""

    def __init__(self, client: TestClient, session: Session, settings: Settings) -> None:
        self.plant = make_org(session, name="Alpine Vaccines")
        self.carrier = make_org(session, kind="logistics", name="ColdFreight")
        self.distributor = make_org(session, name="MediDistrib")
        self.outsider = make_org(session, name="Other Pharma")
        make_user(session, settings, self.plant, "site_admin", "qa", username="pia.plant")
        make_user(session, settings, self.plant, "regulator", username="reg.plant")
        make_user(session, settings, self.carrier, "site_admin", username="carl.carrier")
        make_user(session, settings, self.distributor, "site_admin", username="dina.dist")
        make_user(session, settings, self.outsider, "site_admin", username="otto.out")
        make_user(session, settings, self.plant, "researcher", username="rex.plant")
        auth = {u: login(client, u) for u in ("pia.plant", "carl.carrier", "dina.dist")}
        for owner, partner in (("pia.plant", self.carrier), ("pia.plant", self.distributor),
                               ("carl.carrier", self.plant), ("dina.dist", self.plant)):
            assert client.put(f"/traceability/partners/{partner.id}", headers=auth[owner],
                              json={}).status_code == 200
        # the plant owns the product's range: its excursions alert the plant and its carrier
        assert client.put(f"/traceability/products/{docs.GTIN}", headers=auth["pia.plant"],
                          json={"min_celsius": 2, "max_celsius": 8,
                                "name": "Vaccine"}).status_code == 201
        for who, doc in (("pia.plant", docs.plant_document()),
                         ("carl.carrier", docs.carrier_document()),
                         ("dina.dist", docs.distributor_document())):
            resp = client.post("/traceability/capture", json=doc, headers=auth[who])
            assert resp.status_code == 201, resp.text


@pytest.fixture
def chain(client: TestClient, session: Session, settings: Settings) -> Chain:
    return Chain(client, session, settings)


def _post(client: TestClient, path: str, form_page: str, **data: Any) -> httpx.Response:
    return client.post(path, data={**data, "csrf_token": page_token(client, form_page)},
                       follow_redirects=False)


def _invalid(html: str, field_id: str) -> bool:
    return any(a.get("id") == field_id and a.get("aria-invalid") == "true"
               for _, a in Page(html).tags)


def test_roles_and_dashboard_area(client: TestClient, chain: Chain) -> None:
    logged_in(client, "rex.plant")
    assert 'href="/web/traceability"' not in client.get("/web/").text
    assert client.get("/web/traceability").status_code == 403
    client.cookies.clear()
    logged_in(client, "reg.plant")  # regulators read, but do not manage
    assert 'href="/web/traceability"' in client.get("/web/").text
    assert docs.LOT in client.get("/web/traceability").text
    partners = client.get("/web/traceability/partners").text
    assert 'action="/web/traceability/partners"' not in partners
    resp = client.post(f"/web/traceability/partners/{chain.carrier.id}/remove",
                       data={"reason": "curious",
                             "csrf_token": page_token(client, "/web/traceability/partners")})
    assert resp.status_code == 403


def test_lot_page_shows_custody_legs_with_a_temperature_chart(client: TestClient,
                                                                chain: Chain) -> None:
    logged_in(client, "pia.plant")
    overview = client.get("/web/traceability").text
    assert f'href="/web/traceability/lots/{docs.LOT}?gtin={docs.GTIN}"' in overview
    page = client.get(f"/web/traceability/lots/{docs.LOT}")
    assert page.status_code == 200
    html = page.text
    assert f"Leg 1: {docs.PLANT} → {docs.WAREHOUSE}" in html
    assert "Delivered" in html and "by Alpine Vaccines" in html and "by MediDistrib" in html
    assert "6.5 h" in html  # shipped 08:00, received 14:30
    leg = re.search(r'<section aria-labelledby="leg-1">(.*?)</section>', html, re.S)
    assert leg is not None
    svg = re.search(r"<svg.*?</svg>", leg.group(1), re.S)
    assert svg and 'role="img"' in svg.group(0)
    assert "Temperature during leg 1" in svg.group(0)
    assert "Highest °C" in svg.group(0) and "Allowed maximum 8 °C" in svg.group(0)
    assert "9.4" in svg.group(0)  # the hottest reading is plotted (and in the description)
    assert "Outside the allowed range" in leg.group(1)
    assert re.search(r'id="excursion-count">1<', html)
    assert "5.0 to 9.4 °C" in leg.group(1) or "5 to 9.4 °C" in leg.group(1)
    assert docs.SSCC in html  # where it is now: the pallet at the warehouse


def test_lot_search_and_bad_input_name_the_field(client: TestClient, chain: Chain) -> None:
    logged_in(client, "pia.plant")
    found = client.get(f"/web/traceability/lots?lot={docs.LOT}&gtin=9520123456788",
                       follow_redirects=False)
    assert found.status_code == 303
    assert found.headers["location"] == f"/web/traceability/lots/{docs.LOT}?gtin={docs.GTIN}"
    empty = client.get("/web/traceability/lots?lot=")
    assert empty.status_code == 422 and _invalid(empty.text, "f-lot")
    bad = client.get(f"/web/traceability/lots?lot={docs.LOT}&gtin=12345")
    assert bad.status_code == 422 and _invalid(bad.text, "f-gtin")
    assert 'value="12345"' in bad.text
    inv = client.get("/web/traceability/inventory?gtin=abc")
    assert inv.status_code == 422 and _invalid(inv.text, "f-gtin")
    exc = client.get("/web/traceability/excursions?since=yesterday")
    assert exc.status_code == 422 and _invalid(exc.text, "f-since")
    assert "a date like" in exc.text
    assert client.get("/web/traceability/lots/NO-SUCH-LOT").status_code == 404


def test_outsider_sees_none_of_the_chain(client: TestClient, chain: Chain) -> None:
    logged_in(client, "otto.out")
    overview = client.get("/web/traceability").text
    assert docs.LOT not in overview and "No lots recorded yet" in overview
    lot = client.get(f"/web/traceability/lots/{docs.LOT}")
    assert lot.status_code == 404 and docs.WAREHOUSE not in lot.text
    for path in ("/web/traceability/excursions", "/web/traceability/inventory",
                 "/web/traceability/alerts?show=all"):
        text = client.get(path).text
        assert docs.LOT not in text and docs.SSCC not in text, path


def test_excursions_and_inventory_pages(client: TestClient, chain: Chain) -> None:
    logged_in(client, "pia.plant")
    excursions = client.get("/web/traceability/excursions").text
    assert docs.LOT in excursions and "(high)" in excursions
    none = client.get("/web/traceability/excursions?since=2026-03-03").text
    assert "No excursions in this period" in none
    day = client.get("/web/traceability/excursions?since=2026-03-02&until=2026-03-02").text
    assert docs.LOT in day
    stock = client.get("/web/traceability/inventory").text
    assert f"In stock at {docs.WAREHOUSE}" in stock and docs.SSCC in stock
    elsewhere = client.get(f"/web/traceability/inventory?location={docs.PLANT}").text
    assert docs.SSCC not in elsewhere and "Nothing in stock" in elsewhere


def test_alerts_are_acknowledged_with_a_comment(client: TestClient, session: Session,
                                                chain: Chain) -> None:
    alert = session.exec(select(TraceAlert).where(TraceAlert.org_id == chain.carrier.id)).one()
    logged_in(client, "pia.plant")  # the plant's alert is its own; the carrier's is not
    page = client.get("/web/traceability/alerts").text
    assert alert.id not in page and docs.LOT in page
    own = session.exec(select(TraceAlert).where(TraceAlert.org_id == chain.plant.id)).one()
    resp = _post(client, f"/web/traceability/alerts/{alert.id}/acknowledge",
                 "/web/traceability/alerts", comment="not ours")
    assert resp.status_code == 404
    short = _post(client, f"/web/traceability/alerts/{own.id}/acknowledge",
                  "/web/traceability/alerts", comment="ok")
    assert short.status_code == 422 and _invalid(short.text, f"f-comment-{own.id}")
    assert f'href="#f-comment-{own.id}"' in short.text
    done = _post(client, f"/web/traceability/alerts/{own.id}/acknowledge",
                 "/web/traceability/alerts", comment="lot quarantined, QA review opened")
    assert done.status_code == 303
    session.refresh(own)
    assert own.acknowledge_comment == "lot quarantined, QA review opened"
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_id == own.id)).one()
    assert entry.action == "acknowledge" and entry.actor_name == "pia.plant"
    shown = client.get("/web/traceability/alerts?show=acknowledged").text
    assert "lot quarantined, QA review opened" in shown
    assert "No alerts." in client.get("/web/traceability/alerts").text


def test_partners_are_declared_changed_and_withdrawn(client: TestClient, session: Session,
                                                    chain: Chain) -> None:
    logged_in(client, "pia.plant")
    page = client.get("/web/traceability/partners").text
    assert "ColdFreight" in page and "MediDistrib" in page
    missing = _post(client, "/web/traceability/partners", "/web/traceability/partners",
                    partner_org_id="", role="")
    assert missing.status_code == 422 and _invalid(missing.text, "f-partner_org_id")
    added = _post(client, "/web/traceability/partners", "/web/traceability/partners",
                  partner_org_id=chain.outsider.id, role="customer")
    assert added.status_code == 303
    no_reason = _post(client, "/web/traceability/partners", "/web/traceability/partners",
                      partner_org_id=chain.outsider.id, role="regulator")
    assert no_reason.status_code == 422 and _invalid(no_reason.text, "f-reason")
    changed = _post(client, "/web/traceability/partners", "/web/traceability/partners",
                    partner_org_id=chain.outsider.id, role="regulator",
                    reason="now inspects our lots")
    assert changed.status_code == 303
    link = session.exec(select(TracePartner).where(
        TracePartner.org_id == chain.plant.id,
        TracePartner.partner_org_id == chain.outsider.id)).one()
    assert link.role == "regulator"
    client.cookies.clear()
    logged_in(client, "otto.out")  # shared with now: the outsider sees the lot
    assert client.get(f"/web/traceability/lots/{docs.LOT}").status_code == 200
    client.cookies.clear()
    logged_in(client, "pia.plant")
    blank = _post(client, f"/web/traceability/partners/{chain.outsider.id}/remove",
                  "/web/traceability/partners", reason="")
    assert blank.status_code == 422 and _invalid(blank.text, f"f-reason-{chain.outsider.id}")
    gone = _post(client, f"/web/traceability/partners/{chain.outsider.id}/remove",
                 "/web/traceability/partners", reason="inspection finished")
    assert gone.status_code == 303
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_id == link.id,
                                                  AuditEntry.action == "delete")).one()
    assert entry.reason == "inspection finished"
    client.cookies.clear()
    logged_in(client, "otto.out")
    assert client.get(f"/web/traceability/lots/{docs.LOT}").status_code == 404


def test_forms_need_the_csrf_token(client: TestClient, session: Session, chain: Chain) -> None:
    logged_in(client, "pia.plant")
    own = session.exec(select(TraceAlert).where(TraceAlert.org_id == chain.plant.id)).one()
    resp = client.post(f"/web/traceability/alerts/{own.id}/acknowledge",
                       data={"comment": "forged"})
    assert resp.status_code == 403
    session.refresh(own)
    assert own.acknowledged_at is None


def test_traceability_pages_are_accessible(client: TestClient, chain: Chain) -> None:
    logged_in(client, "pia.plant")
    for path in ("/web/traceability", f"/web/traceability/lots/{docs.LOT}",
                 "/web/traceability/excursions", "/web/traceability/inventory",
                 "/web/traceability/alerts", "/web/traceability/partners"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        check_page(resp.text, path)
