"""A trainee's journey in a real browser: course, modules, assessment, certificate, verification."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from hub.identity.models import Organization, User
from tests.browser.conftest import LiveHub, log_in, shot
from tests.factories import make_user
from training_portal.models import Attempt

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
CONTRAST_AUDIT = (Path(__file__).parent / "contrast_audit.js").read_text()
QUALIFICATION = "Molecular screening model application"


def _audit_contrast(page: Any) -> None:
    found = page.evaluate(CONTRAST_AUDIT)
    assert isinstance(found, list) and found == [], page.url


def _trainee(live_hub: LiveHub) -> None:
    with live_hub.db.session() as session:
        if session.exec(select(User).where(User.username == "tess.trainee")).first():
            return
        org = session.get(Organization, live_hub.pharma_org_id)
        assert org is not None
        make_user(session, live_hub.settings, org, "trainee", "researcher",
                  username="tess.trainee", full_name="Tess Trainee")


def _questions(live_hub: LiveHub, attempt_id: str) -> list[dict[str, Any]]:
    with live_hub.db.session() as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return list(attempt.questions)


def test_trainee_earns_and_verifies_a_certificate(page: Any, live_hub: LiveHub,
                                                  tmp_path: Path) -> None:
    _trainee(live_hub)
    log_in(page, "tess.trainee")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Training").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Training")
    expect(page.get_by_role("row", name=re.compile(QUALIFICATION))).to_contain_text("Not held")
    shot(page, "training-01-catalogue")
    _audit_contrast(page)

    page.get_by_role("link", name=QUALIFICATION).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(QUALIFICATION)
    page.get_by_role("button", name="Enroll").click()
    expect(page.get_by_role("status")).to_contain_text("You are enrolled.")
    expect(page.get_by_text("Complete every module to unlock the assessment.")).to_be_visible()

    page.get_by_role("link", name="Structure standardization with RDKit").click()
    for title in ("Structure standardization with RDKit",
                  "Drug-likeness: Lipinski, Veber and QED",
                  "PAINS and other structural alerts",
                  "Applicability domain and using predictions"):
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        if title.startswith("PAINS"):
            shot(page, "training-02-module")
        page.get_by_role("button", name="Mark as completed").click()
    expect(page.get_by_role("status")).to_contain_text("Every module is completed")
    expect(page.get_by_role("row", name=re.compile("Applicability domain"))).to_contain_text(
        "Completed")

    page.get_by_role("button", name="Start the assessment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Assessment: {QUALIFICATION}")
    attempt_id = page.url.rsplit("/", 1)[1]
    questions = _questions(live_hub, attempt_id)
    assert len(questions) == 10
    assert "explanation" not in page.content()
    for q in questions:  # the test knows the key; the page never did
        group = page.locator(f"#question-{q['id']}")
        if q["type"] == "numeric":
            group.get_by_role("textbox").fill(str(q["value"]))
        else:
            for option_id in [q["answer"]] if q["type"] == "single_choice" else q["answer"]:
                text = next(o["text"] for o in q["options"] if o["id"] == option_id)
                group.get_by_label(text, exact=True).check()
    shot(page, "training-03-assessment")
    _audit_contrast(page)
    page.get_by_role("button", name="Submit answers").click()
    result = page.locator("#attempt-result")
    expect(result).to_contain_text("Passed")
    expect(result).to_contain_text("100 %")
    shot(page, "training-04-passed")

    page.get_by_role("link", name="Your certificates").click()
    row = page.get_by_role("row", name=re.compile(QUALIFICATION))
    expect(row).to_contain_text("Valid")
    with page.expect_download() as download:
        row.get_by_role("link", name=re.compile("Download PDF")).click()
    pdf = tmp_path / "certificate.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    shot(page, "training-05-certificates")
    _audit_contrast(page)

    row.get_by_role("link", name=re.compile("^Verify")).click()
    verdict = page.locator("#verification")
    expect(verdict).to_have_attribute("data-valid", "true")
    expect(verdict).to_contain_text("Valid certificate")
    expect(page.get_by_text("Tess Trainee").first).to_be_visible()
    shot(page, "training-06-verified")
    _audit_contrast(page)
