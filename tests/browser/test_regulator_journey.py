"""A regulator's journey in a real browser: list the jurisdiction's submissions, open one, see
the audit trail verified, download the evidence bundle and verify it offline; the submitting
organization then sees those accesses in its access log."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select
from typer.testing import CliRunner

from hub.audit import service as audit
from hub.compliance import cli, service
from hub.compliance.periods import parse_period
from hub.compliance.providers import SECTIONS
from hub.compliance.verify import verify_bundle
from hub.config import Settings
from hub.identity.models import Organization, User
from hub.identity.service import principal_for_user
from hub.sites.models import Site, SiteKind, SiteStatus
from tests.browser.conftest import LiveHub, log_in, shot
from tests.factories import PASSWORD, make_org, make_user

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
CONTRAST_AUDIT = (Path(__file__).parent / "contrast_audit.js").read_text()
PERIOD = "2026-Q1"


def _audit_contrast(page: Any) -> None:
    found = page.evaluate(CONTRAST_AUDIT)
    assert isinstance(found, list) and found == [], page.url


def _submit(session: Session, settings: Settings, org: Organization, site_name: str,
            admin: User, qa: User) -> str:
    """A report for the period, reviewed, signed by the site admin and co-signed by QA."""
    site = Site(name=site_name, organization_id=org.id, kind=SiteKind.plant,
                location={"enterprise": "demo", "site": "plant"}, requested_by=admin.id,
                status=SiteStatus.active, decided_at=datetime(2025, 10, 1, tzinfo=UTC))
    session.add(site)
    session.flush()
    who_admin, who_qa = principal_for_user(admin), principal_for_user(qa)
    audit.set_actor(session, who_admin.actor())
    report = service.create_draft(session, settings, who_admin, site.id,
                                  parse_period(PERIOD))
    for name in SECTIONS:
        service.update_section(session, who_admin, report.id, name, reviewed=True,
                               reason="checked against the plant's records")
    service.sign(session, settings, who_admin, report.id, password=PASSWORD)
    service.cosign(session, settings, who_qa, report.id, password=PASSWORD)
    session.commit()
    return report.id


def _seed(live_hub: LiveHub) -> tuple[str, str]:
    with live_hub.db.session() as session:
        found = session.exec(select(User).where(User.username == "rita.regulator")).first()
        if found is not None:
            return live_hub.names["ch_report"], live_hub.names["eu_report"]
        helix = session.get(Organization, live_hub.pharma_org_id)  # jurisdiction CH
        assert helix is not None
        admin = session.exec(select(User).where(User.username == live_hub.site_admin)).one()
        qa = make_user(session, live_hub.settings, helix, "qa", username="quinn.qa",
                       full_name="Quinn QA")
        nordic = make_org(session, name="Nordic Biologics", jurisdiction="EU")
        n_admin = make_user(session, live_hub.settings, nordic, "site_admin",
                            username="nils.siteadmin")
        n_qa = make_user(session, live_hub.settings, nordic, "qa", username="nora.qa")
        agency = make_org(session, kind="regulator", name="Swiss Agency", jurisdiction="CH")
        make_user(session, live_hub.settings, agency, "regulator", username="rita.regulator",
                  full_name="Rita Regulator")
        ch = _submit(session, live_hub.settings, helix, "Basel Sterile Fill", admin, qa)
        eu = _submit(session, live_hub.settings, nordic, "Uppsala Fill-Finish", n_admin, n_qa)
    live_hub.names.update(ch_report=ch, eu_report=eu)
    return ch, eu


def test_regulator_pulls_a_submission_and_verifies_its_bundle(
        page: Any, live_hub: LiveHub, tmp_path: Path) -> None:
    ch_report, eu_report = _seed(live_hub)
    log_in(page, "rita.regulator")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compliance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compliance")
    table = page.locator("#reports")
    expect(table.get_by_role("row", name=re.compile("Basel Sterile Fill"))).to_contain_text(
        "Submitted (approved)")
    expect(table).not_to_contain_text("Uppsala")  # another jurisdiction
    expect(page.get_by_role("button", name="Start a pre-filled draft")).to_have_count(0)
    shot(page, "compliance-01-regulator-list")
    _audit_contrast(page)

    page.get_by_label("Period").fill("2026-Q2")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_contain_text("No reports match.")
    page.get_by_label("Period").fill(PERIOD)
    page.get_by_role("button", name="Filter").click()

    table.get_by_role("link", name=re.compile("^Basel Sterile Fill")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Compliance report: Basel Sterile Fill, {PERIOD}")
    expect(page.locator("#report-status")).to_have_text("Submitted (approved)")
    signatures = page.get_by_role("table", name="Signatures on this report version")
    expect(signatures.get_by_role("row", name=re.compile("Responsible"))).to_contain_text("Valid")
    expect(signatures.get_by_role("row", name=re.compile("Approved"))).to_contain_text("Quinn QA")
    # the audit trail of the period and the whole chain are verified live on the page
    expect(page.locator("#excerpt-status")).to_have_attribute("data-excerpt", "intact")
    expect(page.locator("#chain-status")).to_have_attribute("data-chain", "intact")
    expect(page.locator("#excerpt-status")).to_contain_text(f"Audit trail for {PERIOD} verifies")
    expect(page.get_by_role("button", name=re.compile("Co-sign"))).to_have_count(0)
    expect(page.get_by_text("Edit or review")).to_have_count(0)
    shot(page, "compliance-02-regulator-report")
    _audit_contrast(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download evidence bundle").click()
    bundle = tmp_path / download.value.suggested_filename
    download.value.save_as(bundle)
    assert bundle.name.endswith(".zip")
    jwks = httpx.get(f"{live_hub.url}/.well-known/jwks.json").json()
    result = verify_bundle(bundle.read_bytes(), jwks)
    assert result.ok, result.problems
    keys = tmp_path / "jwks.json"
    keys.write_text(httpx.get(f"{live_hub.url}/.well-known/jwks.json").text)
    checked = CliRunner().invoke(cli.app, ["verify", str(bundle), "--jwks", str(keys)])
    assert checked.exit_code == 0, checked.output

    # another jurisdiction's report is not there, even by its address
    resp = page.goto(f"/web/compliance/{eu_report}")
    assert resp is not None and resp.status == 404

    # the submitting organization sees every access the regulator made
    page.context.clear_cookies()
    log_in(page, live_hub.site_admin)
    page.goto("/web/compliance/access-log")
    log = page.locator("#access-log")
    for action in ("List", "Read", "Download"):
        expect(log.get_by_role("row", name=re.compile(f"rita.regulator.*{action}"))
               .first).to_be_visible()
    expect(log).to_contain_text(ch_report[:8])
    shot(page, "compliance-03-access-log")
    _audit_contrast(page)
