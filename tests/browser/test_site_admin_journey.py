"""A site enrolls through the portal, with a real site agent process, in a real browser.

The site admin issues an enrollment token on the Sites page; the site agent (``site-agent
init`` + ``enroll --no-wait``, run as processes against the live hub) submits the request; the
hub admin approves it in the e-signature dialog; the agent picks up its sealed key, scores its
sensor readings and posts alerts; the site shows active with its agent version, and the site
admin acknowledges an alert with a reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from hub.audit.models import AuditEntry, ESignature
from hub.monitoring.models import Alert
from hub.sites.models import Site
from tests.browser.conftest import LiveHub, log_in, shot
from tests.site_agent.live_hub import agent_env, site_agent

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CONTRAST_AUDIT = (Path(__file__).parent / "contrast_audit.js").read_text()
SITE = "Basel Solid Dose"


def _audit_contrast(page: Any) -> None:
    found = page.evaluate(CONTRAST_AUDIT)
    assert isinstance(found, list) and found == [], (page.url, found)


def _log_out(page: Any) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You have logged out")


def test_site_admin_enrolls_a_site_hub_admin_approves_and_an_alert_is_acknowledged(
        page: Any, live_hub: LiveHub, tmp_path: Path) -> None:
    # 1. the site admin issues a single-use enrollment token
    log_in(page, live_hub.site_admin)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Enrollment requests")).to_have_count(0)
    nav.get_by_role("link", name="Sites").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sites")
    page.get_by_label("Valid for (hours)").fill("4")
    page.get_by_role("button", name="Issue enrollment token").click()
    token_box = page.get_by_label("Enrollment token", exact=True)
    expect(token_box).to_have_value(re.compile(r"^fhe_"))
    token = token_box.input_value()
    commands = page.locator("#enroll-commands")
    expect(commands).to_contain_text(f"site-agent enroll --token {token}")
    expect(commands).to_contain_text(f"--hub {live_hub.url}")
    shot(page, "site-01-enrollment-token")
    _audit_contrast(page)

    # 2. at the site: a real agent process initialises and submits the request
    env = agent_env(tmp_path / "plant", SITE_AGENT_HEARTBEAT_SECONDS="1",
                    SITE_AGENT_LOOP_SECONDS="0.2")
    site_agent(["init", "--name", SITE, "--kind", "plant", "--enterprise", "helix-pharma",
                "--site", "plant-basel", "--area", "granulation", "--country", "CH",
                "--dataset", "sensor-reading/1.0.0", "--task", "equipment-anomaly",
                "--hub", live_hub.url], env)
    submitted = site_agent(["enroll", "--token", token, "--no-wait"], env).stdout
    assert "enrollment submitted" in submitted and "pending" in submitted
    page.goto("/web/sites")
    row = page.get_by_role("row", name=re.compile(SITE))
    expect(row).to_contain_text("Pending")
    expect(page.get_by_role("row", name=re.compile(r"fhe_"))).to_contain_text("request")
    shot(page, "site-02-request-pending")
    _log_out(page)

    # 3. the hub admin reviews the request and signs the approval in the dialog
    log_in(page, live_hub.admin)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Enrollment requests").click()
    page.get_by_role("link", name=re.compile(f"^{SITE}.*review request")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SITE)
    page.get_by_role("button", name="Approve enrollment…").click()
    dialog = page.get_by_role("dialog", name=f"Approve enrollment of {SITE}")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("What you are signing")).to_contain_text("Helix Pharma")
    expect(dialog.get_by_label("Your password")).to_be_focused()
    dialog.get_by_label("Your password").fill(live_hub.password)
    dialog.get_by_label("Comment (optional)").fill("Site qualification audit passed")
    shot(page, "site-03-approval-dialog")
    dialog.get_by_role("button", name="Sign").click()
    expect(page.get_by_role("status")).to_contain_text(f"Enrollment of {SITE} approved")
    expect(page.locator("#site-status")).to_contain_text("Active")
    expect(page.get_by_role("cell", name="Site qualification audit passed")).to_be_visible()
    expect(page.locator("#credential-state")).to_contain_text("waiting for the agent")
    shot(page, "site-04-approved")
    _audit_contrast(page)
    _log_out(page)

    # 4. the agent picks up its sealed key, scores its readings and reports alerts
    picked = site_agent(["enroll", "--timeout", "30"], env).stdout
    assert "active" in picked and "API key stored" in picked
    readings = tmp_path / "readings.jsonl"
    site_agent(["simulate", "--out", str(readings), "--days", "1", "--faults", "3",
                "--seed", "3"], env)
    site_agent(["ingest", str(readings), "--schema", "sensor-reading/1.0.0"], env)
    site_agent(["run", "--ticks", "3"], env)
    site_agent(["sync"], env)

    # 5. the site admin sees the site active, the agent's version, and acknowledges an alert
    log_in(page, live_hub.site_admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sites").click()
    row = page.get_by_role("row", name=re.compile(SITE))
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("0.1.0")
    row.get_by_role("link", name=SITE, exact=True).click()
    expect(page.locator("#agent-version")).to_have_text("0.1.0")
    expect(page.locator("#credential-state")).to_contain_text("In use by the site agent")
    shot(page, "site-05-site-active")
    page.get_by_role("link", name=f"All alerts of {SITE}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    first = page.locator("tbody tr").filter(has=page.get_by_role("button",
                                                                   name=re.compile("Acknowledge")))
    expect(first.first).to_be_visible()
    first = first.first
    first.get_by_label(re.compile("^Reason")).fill("Maintenance planner informed")
    first.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(page.get_by_role("status")).to_contain_text(
        "Alert acknowledged: Maintenance planner informed")
    expect(page.get_by_role("row", name=re.compile("Maintenance planner informed"))
           ).to_contain_text("Acknowledged")
    shot(page, "site-06-alert-acknowledged")
    _audit_contrast(page)

    with live_hub.db.session() as session:
        site = session.exec(select(Site).where(Site.name == SITE)).one()
        assert site.status == "active" and site.agent_version == "0.1.0"
        sig = session.exec(select(ESignature).where(ESignature.entity_id == site.id)).one()
        assert sig.meaning == "approved" and sig.printed_name == "Hana Admin"
        acked = session.exec(select(Alert).where(Alert.site_id == site.id,
                                                 Alert.status == "acknowledged")).all()
        assert len(acked) == 1 and acked[0].status_reason == "Maintenance planner informed"
        entry = session.exec(select(AuditEntry).where(AuditEntry.entity_id == acked[0].id,
                                                      AuditEntry.action == "update")).one()
        assert entry.reason == "Maintenance planner informed"
        assert entry.actor_name == live_hub.site_admin
