"""An instructor authors and publishes a course in a real browser; a trainee then passes it."""

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
TITLE = "Cleanroom pressure cascade"
QUALIFICATION = "Cleanroom pressure monitoring"
MODULE = "Why pressure matters"
EXPLANATION = "Air must flow from the cleanest zone towards less clean ones."


def _audit_contrast(page: Any) -> None:
    found = page.evaluate(CONTRAST_AUDIT)
    assert isinstance(found, list) and found == [], page.url


def _people(live_hub: LiveHub) -> None:
    with live_hub.db.session() as session:
        org = session.get(Organization, live_hub.pharma_org_id)
        assert org is not None
        for username, role, name in (("ivo.instructor", "instructor", "Ivo Instructor"),
                                     ("tim.trainee", "trainee", "Tim Trainee")):
            if not session.exec(select(User).where(User.username == username)).first():
                make_user(session, live_hub.settings, org, role, username=username,
                          full_name=name)


def _questions(live_hub: LiveHub, attempt_id: str) -> list[dict[str, Any]]:
    with live_hub.db.session() as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return list(attempt.questions)


def _author_and_publish(page: Any) -> None:
    log_in(page, "ivo.instructor")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Teaching").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Teaching")
    page.get_by_role("link", name="Create a course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create a course")
    page.get_by_label("Title", exact=True).fill(TITLE)
    page.get_by_label("Summary", exact=True).fill(
        "Keep the pressure cascade of a sterile filling suite within limits.")
    page.get_by_label("Qualification it certifies", exact=True).fill(QUALIFICATION)
    page.get_by_label("Module title", exact=True).fill(MODULE)
    page.get_by_label("Module content (Markdown)", exact=True).fill(
        f"# {MODULE}\n\nAir flows from **high** to low pressure.\n\n"
        "| zone | pressure |\n|---|---|\n| Grade A | highest |\n| Corridor | lowest |\n")
    page.get_by_label("Question", exact=True).fill("Where is the pressure highest?")
    page.get_by_label("Option 1", exact=True).fill("Grade A filling zone")
    page.get_by_label("Option 2", exact=True).fill("Corridor")
    page.get_by_label("Option 1: Correct", exact=True).check()
    page.get_by_label("Explanation", exact=True).fill(EXPLANATION)
    shot(page, "teaching-01-new-course")
    _audit_contrast(page)
    page.get_by_role("button", name="Create course").click()
    expect(page.get_by_role("status")).to_contain_text("created as a draft")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)

    # the module: edit its content and preview the markdown before saving
    page.get_by_role("link", name=MODULE).click()
    expect(page.get_by_role("heading", name="As trainees see it")).to_be_visible()
    content = page.get_by_label("Content (Markdown)", exact=True)
    content.fill(content.input_value() + "\n\nOpen doors **only** briefly.\n")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("section.preview")
    expect(preview.get_by_role("heading", name="Preview (not saved yet)")).to_be_visible()
    expect(preview.locator("table")).to_contain_text("Corridor")
    expect(preview.locator("strong", has_text="only")).to_be_visible()
    shot(page, "teaching-02-module-preview")
    page.get_by_role("button", name="Save module").click()
    expect(page.get_by_role("status")).to_contain_text(f"Module {MODULE} saved.")
    page.get_by_role("link", name=TITLE).click()

    # a second question: numeric with a tolerance, tied to the module
    page.get_by_role("link", name="Add a question").click()
    page.get_by_label("Question", exact=True).fill("Pressure step between two grades, in Pa?")
    page.get_by_label("Question type", exact=True).select_option("numeric")
    page.get_by_label("Correct value", exact=True).fill("15")
    page.get_by_label("Tolerance (±)", exact=True).fill("3")
    page.get_by_label("Unit", exact=True).fill("Pa")
    page.get_by_label("Module it examines", exact=True).select_option(label=MODULE)
    page.get_by_role("button", name="Save question").click()
    expect(page.get_by_role("status")).to_contain_text("Question q2 added.")
    bank = page.get_by_role("table", name=re.compile("Questions"))
    expect(bank.get_by_role("row")).to_have_count(3)  # header + 2 questions
    expect(bank).to_contain_text("15 ± 3 Pa")

    page.get_by_label("Questions drawn per attempt", exact=True).fill("2")
    page.get_by_role("button", name="Set draw size").click()
    expect(page.get_by_role("status")).to_contain_text("Each attempt draws 2 questions.")
    shot(page, "teaching-03-course-draft")
    _audit_contrast(page)
    page.get_by_role("button", name="Publish version 1.0.0").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1.0.0 published")
    expect(page.locator("#version-status")).to_contain_text("Version 1.0.0 is published")
    versions = page.get_by_role("table", name="Every version, newest first")
    expect(versions.get_by_role("row", name=re.compile("1.0.0"))).to_contain_text("Published")
    shot(page, "teaching-04-published")
    _audit_contrast(page)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You have logged out.")


def _pass_as_trainee(page: Any, live_hub: LiveHub) -> None:
    log_in(page, "tim.trainee")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Teaching")).to_have_count(0)
    nav.get_by_role("link", name="Training").click()
    page.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    page.get_by_role("button", name="Enroll").click()
    expect(page.get_by_role("status")).to_contain_text("You are enrolled.")
    page.get_by_role("link", name=MODULE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(MODULE)
    expect(page.locator("article.module-body strong", has_text="only")).to_be_visible()
    page.get_by_role("button", name="Mark as completed").click()
    expect(page.get_by_role("status")).to_contain_text("Every module is completed")
    page.get_by_role("button", name="Start the assessment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Assessment: {TITLE}")
    assert EXPLANATION not in page.content()
    questions = _questions(live_hub, page.url.rsplit("/", 1)[1])
    assert sorted(q["type"] for q in questions) == ["numeric", "single_choice"]
    for q in questions:  # the test knows the key; the page never did
        group = page.locator(f"#question-{q['id']}")
        if q["type"] == "numeric":
            group.get_by_role("textbox").fill("16")  # within ± 3 Pa of 15
        else:
            text = next(o["text"] for o in q["options"] if o["id"] == q["answer"])
            group.get_by_label(text, exact=True).check()
    shot(page, "teaching-05-trainee-assessment")
    page.get_by_role("button", name="Submit answers").click()
    result = page.locator("#attempt-result")
    expect(result).to_contain_text("Passed")
    expect(result).to_contain_text("100 %")
    page.get_by_role("link", name="Your certificates").click()
    row = page.get_by_role("row", name=re.compile(QUALIFICATION))
    expect(row).to_contain_text("Valid")
    expect(row).to_contain_text("1.0.0")
    shot(page, "teaching-06-trainee-certificate")
    _audit_contrast(page)


def test_instructor_publishes_a_course_a_trainee_passes(page: Any, live_hub: LiveHub) -> None:
    _people(live_hub)
    _author_and_publish(page)
    _pass_as_trainee(page, live_hub)
