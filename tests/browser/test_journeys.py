"""User journeys in a real browser (Debian's Chromium) against a live hub."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlmodel import func, select

from hub.audit.models import AuditEntry
from hub.identity import service as identity
from hub.identity.models import Organization, User
from hub.identity.schemas import OrganizationCreate
from tests.browser.conftest import LiveHub, log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# WCAG contrast of every visible text node against its effective background, in the page
CONTRAST_AUDIT = (Path(__file__).parent / "contrast_audit.js").read_text()


def _audit_contrast(page: Any) -> None:
    found = page.evaluate(CONTRAST_AUDIT)
    assert isinstance(found, list) and found == [], page.url


def _org(live_hub: LiveHub, name: str) -> Organization | None:
    with live_hub.db.session() as session:
        return session.exec(select(Organization).where(Organization.name == name)).first()


def test_hub_admin_registers_org_and_person_then_signs_membership(
        page: Any, live_hub: LiveHub) -> None:
    log_in(page, live_hub.admin)
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Hana Admin")
    shot(page, "01-dashboard-hub-admin")
    _audit_contrast(page)

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Organizations & people").click()
    page.get_by_label("Name", exact=True).fill("Orion Biologics")
    page.get_by_label("Kind").select_option("pharma")
    page.get_by_label("Jurisdiction").fill("DE")
    shot(page, "02-register-organization")
    page.get_by_role("button", name="Register organization").click()
    expect(page.get_by_role("status")).to_contain_text("Orion Biologics registered")
    expect(page.locator("#membership-status")).to_have_text("Awaiting approval")
    _audit_contrast(page)

    page.get_by_role("link", name="Create an account for Orion Biologics").click()
    form = page.locator("form[action='/web/users']")
    form.get_by_label("User id").fill("olga.researcher")
    form.get_by_label("Full name").fill("Olga Researcher")
    form.get_by_label("Email").fill("olga@orion.example")
    expect(form.get_by_label("Organization")).to_have_value(_org(live_hub, "Orion Biologics").id)  # type: ignore[union-attr]
    form.get_by_label("R&D researcher").check()
    form.get_by_label("Initial password").fill("Orion-Lab-Pass-2024!")
    form.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("Account olga.researcher created")
    expect(page.get_by_role("cell", name="olga.researcher")).to_be_visible()
    shot(page, "03-person-created")

    page.get_by_role("link", name="Orion Biologics").first.click()
    page.get_by_role("button", name="Sign membership approval…").click()
    dialog = page.get_by_role("dialog", name="Approve membership of Orion Biologics")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.querySelector('dialog#approve-membership').matches(':modal')")
    expect(dialog.get_by_label("Your password")).to_be_focused()  # focus moved into the dialog
    dialog.get_by_label("Your password").fill("not-the-password")
    dialog.get_by_role("button", name="Sign").click()
    # the dialog comes back, modal, with the error and focus on the password
    dialog = page.get_by_role("dialog", name="Approve membership of Orion Biologics")
    expect(dialog.get_by_role("alert")).to_contain_text("Password check failed")
    expect(dialog.get_by_label("Your password")).to_be_focused()
    dialog.get_by_label("Meaning of this signature").select_option("approved")
    dialog.get_by_label("Your password").fill(live_hub.password)
    dialog.get_by_label("Comment (optional)").fill("Consortium agreement countersigned")
    shot(page, "04-esignature-dialog")
    dialog.get_by_role("button", name="Sign").click()
    expect(page.get_by_role("status")).to_contain_text("Signed (approved) by Hana Admin")
    expect(page.locator("#membership-status")).to_have_text("Approved")
    expect(page.get_by_role("cell", name="Consortium agreement countersigned")).to_be_visible()
    shot(page, "05-membership-signed")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    status = page.locator("#chain-status")
    expect(status).to_have_attribute("data-chain", "intact")
    expect(status).to_contain_text("Audit chain intact")
    org = _org(live_hub, "Orion Biologics")
    assert org is not None
    page.get_by_label("Record id").fill(org.id)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    expect(rows.filter(has_text="sign")).to_have_count(1)
    expect(rows.filter(has_text="create")).to_have_count(1)
    shot(page, "06-audit-trail")
    _audit_contrast(page)


def test_site_admin_issues_and_revokes_an_api_key(page: Any, live_hub: LiveHub) -> None:
    log_in(page, live_hub.site_admin)
    page.get_by_role("link", name="API keys").first.click()
    page.get_by_label("Key name").fill("Basel plant agent")
    page.get_by_label("Site id (optional)").fill("site-basel-01")
    page.get_by_role("button", name="Issue key").click()
    secret_box = page.get_by_label("API key", exact=True)
    expect(secret_box).to_have_value(re.compile(r"^fhk_"))
    secret = secret_box.input_value()
    shot(page, "07-api-key-issued")
    api = httpx.Client(base_url=live_hub.url, timeout=10)
    assert api.get("/organizations", headers={"X-API-Key": secret}).status_code == 200

    page.goto("/web/api-keys")  # the list again: the secret is gone for good
    expect(page.get_by_label("API key", exact=True)).to_have_count(0)
    assert secret not in page.content()
    page.get_by_label("Reason for revoking Basel plant agent").fill("host decommissioned")
    page.get_by_role("button", name="Revoke Basel plant agent").click()
    expect(page.get_by_role("status")).to_contain_text("Key Basel plant agent")
    expect(page.get_by_role("row", name=re.compile("Basel plant agent"))).to_contain_text(
        "Revoked")
    shot(page, "08-api-key-revoked")
    assert api.get("/organizations", headers={"X-API-Key": secret}).status_code == 401


def test_keyboard_only_login(page: Any, live_hub: LiveHub) -> None:
    page.goto("/web/login")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # the skip link becomes visible on focus
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    user_id = page.get_by_label("User id")
    expect(user_id).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # visible focus indicator
    page.keyboard.type(live_hub.site_admin)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(live_hub.password)
    shot(page, "09-keyboard-login")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Sid Siteadmin")


def test_post_without_csrf_token_is_refused(page: Any, live_hub: LiveHub) -> None:
    log_in(page, live_hub.admin)
    page.goto("/web/organizations")
    page.get_by_label("Name", exact=True).fill("Tokenless Trading")
    page.get_by_label("Kind").select_option("logistics")
    form = page.locator("form[action='/web/organizations']")
    form.locator("input[name='csrf_token']").evaluate("el => el.remove()")
    form.get_by_role("button", name="Register organization").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Form check failed")
    shot(page, "10-csrf-refused")
    assert _org(live_hub, "Tokenless Trading") is None


def test_live_refresh_updates_the_chain_status(page: Any, live_hub: LiveHub) -> None:
    log_in(page, live_hub.admin)
    page.goto("/web/audit")
    region = page.locator("[data-refresh-url]")
    expect(region).to_have_attribute("data-refresh-state", "running")  # the script ran
    expect(region).to_contain_text("Audit chain intact")  # shown at once or fetched on load
    with live_hub.db.session() as session:
        identity.create_organization(session, OrganizationCreate(name="Refresh Labs",
                                                                 kind="institute"))
        session.commit()
        entries = session.exec(select(func.count()).select_from(AuditEntry)).one()
    assert f"All {entries} entries" not in region.inner_text()
    with page.expect_request("**/web/audit/status") as req:
        region.dispatch_event("fedhub:refresh")
    assert req.value.headers.get("x-fedhub-refresh") == "1"
    expect(region).to_contain_text(f"All {entries} entries verified")


def test_researcher_is_refused_the_users_page_of_another_org(page: Any,
                                                             live_hub: LiveHub) -> None:
    with live_hub.db.session() as session:
        org = session.get(Organization, live_hub.pharma_org_id)
        assert org is not None
        if session.exec(select(User).where(User.username == "rae.researcher")).first() is None:
            from tests.factories import make_user

            make_user(session, live_hub.settings, org, "researcher", username="rae.researcher",
                      full_name="Rae Researcher")
    log_in(page, "rae.researcher")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="API keys")).to_have_count(0)
    response = page.goto(f"/web/users?org={live_hub.operator_org_id}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Permission denied")
    expect(page.get_by_text("hana.admin")).to_have_count(0)


def test_refresh_helper_polls_until_told_to_stop(page: Any, live_hub: LiveHub) -> None:
    log_in(page, live_hub.site_admin)
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "fragment" in r.url else None)
    page.goto("/web/test-refresh")
    probe = page.locator("#probe")
    expect(probe).to_have_text("tick 1")
    expect(probe).to_have_text("tick 2")
    expect(probe).to_have_text("tick 3")
    expect(probe).to_have_attribute("data-refresh-state", "stopped")
    page.wait_for_timeout(1500)  # longer than the interval: no further fetch
    assert len(fetched) == 3
