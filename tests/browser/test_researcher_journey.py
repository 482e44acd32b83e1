"""A researcher's journey in a real browser: submit a screen, watch it, browse, download."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from hub.identity.models import Organization, User
from hub.identity.principal import Principal
from hub.qualifications import Holding, register_checker, unregister_checker
from tests.browser.conftest import LiveHub, log_in, shot
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
CONTRAST_AUDIT = (Path(__file__).parent / "contrast_audit.js").read_text()
RESEARCHER = "rex.researcher"
LIBRARY = "\n".join([
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C caffeine",
    "O=C1NC(=S)SC1=Cc1ccccc1 rhodanine",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O ibuprofen",
    "CC(=O)Nc1ccc(O)cc1.Cl paracetamol-hcl",
    "C1CC(C typo",
])


def _certified(session: Session, who: Principal, qualification: str,
               as_of: datetime) -> Holding | None:
    """This journey's researcher holds the screening qualification (training is another test)."""
    if who.name == RESEARCHER:
        return Holding(qualification, True, "valid (journey)")
    return None


@pytest.fixture
def researcher(live_hub: LiveHub) -> Iterator[str]:
    with live_hub.db.session() as session:
        if not session.exec(select(User).where(User.username == RESEARCHER)).first():
            org = session.get(Organization, live_hub.pharma_org_id)
            assert org is not None
            make_user(session, live_hub.settings, org, "researcher", username=RESEARCHER,
                      full_name="Rex Researcher")
    register_checker(_certified)
    yield RESEARCHER
    unregister_checker(_certified)


def _audit_contrast(page: Any) -> None:
    found = page.evaluate(CONTRAST_AUDIT)
    assert isinstance(found, list) and found == [], page.url


def test_researcher_screens_and_downloads(page: Any, live_hub: LiveHub, researcher: str,
                                          tmp_path: Path) -> None:
    log_in(page, researcher)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Screening").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Molecular screening")
    page.get_by_label("Name", exact=True).fill("journey library")
    page.get_by_label("SMILES", exact=True).fill(LIBRARY)
    page.get_by_label("Length of the ranked shortlist").fill("3")
    shot(page, "screening-01-submit")
    _audit_contrast(page)
    page.get_by_role("button", name="Submit screen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Screen: journey library")
    expect(page.get_by_text("Screen submitted: 5 records queued.")).to_be_visible()

    # live refresh shows the job finishing without a reload
    expect(page.get_by_test_id("screen-status")).to_have_text("completed", timeout=120_000)
    expect(page.get_by_text(re.compile(r"Progress: 5 of 5 records"))).to_be_visible()
    page.get_by_role("link", name="Show the ranked results").click()
    ranked = page.get_by_role("table", name="Ranked candidates")
    expect(ranked.get_by_role("row")).to_have_count(4)  # header + top 3
    structure = page.get_by_role("img", name=re.compile(r"^Structure of"))
    expect(structure.first).to_be_visible()
    assert structure.first.evaluate("img => img.complete && img.naturalWidth > 0")
    not_screened = page.get_by_role("table", name=re.compile("RDKit's reason"))
    expect(not_screened).to_contain_text("typo")
    shot(page, "screening-02-ranked")
    _audit_contrast(page)

    page.get_by_role("link", name="Browse all molecules").click()
    page.get_by_label("Structural alerts").select_option("true")
    page.get_by_role("button", name="Apply").click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("rhodanine")
    expect(table).to_contain_text("PAINS_A")
    expect(table).not_to_contain_text("caffeine")
    shot(page, "screening-03-browse")

    page.get_by_role("link", name=re.compile("Screen journey library")).click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    path = tmp_path / "screen.csv"
    info.value.save_as(path)
    text = path.read_text()
    assert text.splitlines()[0].startswith("rank,id,ids,rows,smiles")
    assert "paracetamol-hcl" in text and "CC(=O)Nc1ccc(O)cc1," in text  # salt stripped
