"""Compliance pages: the site admin drafts, reviews and signs; QA co-signs; the regulator lists,
downloads and sees the audit-trail status; outside accesses show on the access-log page."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from hub.compliance.providers import SECTIONS
from hub.compliance.verify import verify_bundle
from tests.compliance.conftest import World, submitted
from tests.factories import PASSWORD
from tests.web.pages import Page, logged_in, page_token


def _as(client: TestClient, username: str) -> TestClient:
    client.cookies.clear()
    return logged_in(client, username)


def _post(client: TestClient, path: str, form_page: str, **data: Any) -> httpx.Response:
    return client.post(path, data={**data, "csrf_token": page_token(client, form_page)},
                       follow_redirects=False)


def _username(client: TestClient, auth: dict[str, str]) -> str:
    return str(client.get("/me", headers=auth).json()["username"])


def test_site_admin_drafts_reviews_and_signs_then_qa_cosigns(client: TestClient,
                                                             world: World) -> None:
    helix = world.helix
    admin, qa = _username(client, helix.admin), _username(client, helix.qa)
    page = _as(client, admin).get("/web/compliance")
    assert page.status_code == 200 and "Start a report" in page.text
    assert Page(page.text).unlabelled_controls() == []
    resp = _post(client, "/web/compliance", "/web/compliance", new_site_id=helix.site.id,
                 new_period="2026-Q5")
    assert resp.status_code == 422 and "not a period" in resp.text
    resp = _post(client, "/web/compliance", "/web/compliance", new_site_id=helix.site.id,
                 new_period="2026-Q1")
    assert resp.status_code == 303, resp.text
    url = resp.headers["location"]
    detail = client.get(url)
    assert "Compliance report: Helix Pharma Plant, 2026-Q1" in detail.text
    assert "Not yet reviewed: alcoa checks" in detail.text
    assert Page(detail.text).unlabelled_controls() == []
    # a section that does not conform to the standard is refused with its pointer
    bad = _post(client, f"{url}/sections/equipment_qualification", url,
                items='[{"protocol_id": "OQ-1"}]', reviewed="1")
    assert bad.status_code == 422 and "/items/0/stage" in bad.text
    for name in SECTIONS:
        done = _post(client, f"{url}/sections/{name}", url, reviewed="1",
                     reason="checked with the plant records")
        assert done.status_code == 303, done.text
    wrong = _post(client, f"{url}/sign", url, password="not-my-password", meaning="responsible")
    assert wrong.status_code == 403 and "Password check failed" in wrong.text
    assert "data-reopen" in wrong.text  # the dialog opens again with the message
    signed = _post(client, f"{url}/sign", url, password=PASSWORD, meaning="responsible",
                   comment="complete")
    assert signed.status_code == 303, signed.text
    page = client.get(url).text
    assert "Signed, awaiting QA" in page and "Sign as responsible" not in page
    assert "Save deviations and capa" not in page  # no edit forms once signed
    qa_page = _as(client, qa).get(url).text
    assert "Co-sign as approved" in qa_page
    approved = _post(client, f"{url}/cosign", url, password=PASSWORD, meaning="approved")
    assert approved.status_code == 303, approved.text
    page = client.get(url).text
    assert "Submitted (approved)" in page and "Download evidence bundle" in page
    assert re.search(r"Responsible.*Approved", page, re.S)


def test_regulator_lists_downloads_and_sees_chain_status(client: TestClient,
                                                         world: World) -> None:
    report = submitted(client, world.helix)
    other = submitted(client, world.other)
    reg = _as(client, "rita.regulator")
    listing = reg.get("/web/compliance")
    assert listing.status_code == 200
    assert f"/web/compliance/{report['id']}/bundle" in listing.text
    assert other["id"] not in listing.text and "Start a report" not in listing.text
    filtered = reg.get("/web/compliance", params={"period": "2026-Q2"})
    assert report["id"] not in filtered.text and "No reports match" in filtered.text
    assert reg.get("/web/compliance", params={"period": "Q9"}).status_code == 422
    detail = reg.get(f"/web/compliance/{report['id']}").text
    assert "Co-sign" not in detail and "Correct this report" not in detail
    assert "Edit or review" not in detail
    status = reg.get(f"/web/compliance/{report['id']}/chain",
                     headers={"X-Fedhub-Refresh": "1"})
    assert status.status_code == 200 and 'data-excerpt="intact"' in status.text
    assert 'data-chain="intact"' in status.text
    assert status.headers.get("X-Refresh-Stop") == "1"
    dl = reg.get(f"/web/compliance/{report['id']}/bundle")
    assert dl.status_code == 200 and dl.headers["content-type"] == "application/zip"
    assert verify_bundle(dl.content, client.get("/.well-known/jwks.json").json()).ok
    assert reg.get(f"/web/compliance/{other['id']}").status_code == 404
    # the submitting organization sees these accesses, made through the pages
    log = _as(client, _username(client, world.helix.qa)).get("/web/compliance/access-log")
    rows = re.findall(r"<tr><td>[^<]+</td><td>rita\.regulator.*?</tr>", log.text, re.S)
    assert len(rows) >= 3
    assert all(">web<" in r for r in rows)
    assert {a for a in ("Download", "Read", "List") if any(f">{a}<" in r for r in rows)} == {
        "Download", "Read", "List"}


def test_pages_refuse_people_without_a_compliance_role(client: TestClient, world: World,
                                                       session: Any, settings: Any) -> None:
    from tests.factories import make_user

    make_user(session, settings, world.helix.org, "researcher", username="rob.research")
    page = _as(client, "rob.research").get("/web/compliance")
    assert page.status_code == 403
