"""The training portal pre-fills a report's training coverage from real certificates."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.compliance.providers import registered
from hub.config import Settings
from tests.compliance.conftest import IN_PERIOD, World, draft, submitted
from tests.factories import login, make_user
from tests.training_portal.conftest import Clock, pass_course
from training_portal.compliance import ORG_WIDE_NOTE


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


INSPECTION = "intelligent-inspection-system-operation"
SCREENING = "molecular-screening-model-application"


def test_the_portal_registers_its_section() -> None:
    assert "training_portal.compliance.training_section" in registered()["training_coverage"]


def test_coverage_counts_valid_certificates_at_the_end_of_the_period(
        client: TestClient, session: Session, settings: Settings, world: World,
        clock: Clock) -> None:
    helix = world.helix
    # inside the period: QA Quinn passes the inspection course; a researcher passes screening
    make_user(session, settings, helix.org, "researcher", username="rhea.research",
              full_name="Rhea Research")
    clock.set(IN_PERIOD - datetime.now(UTC))
    inspection = pass_course(client, session, helix.qa, "inspection-operation")
    screening = pass_course(client, session, login(client, "rhea.research"),
                            "molecular-screening")
    clock.set(datetime(2026, 4, 20, tzinfo=UTC) - datetime.now(UTC))  # after the period
    pass_course(client, session, helix.admin, "inspection-operation")

    report = draft(client, helix)
    rows = {r["qualification"]: r for r in report["content"]["training_coverage"]}
    # qa + site_admin need inspection: 2 people, 1 certified by 1 April (the admin passed later)
    assert rows[INSPECTION] == {"qualification": INSPECTION, "required": 2, "qualified": 1}
    assert rows[SCREENING] == {"qualification": SCREENING, "required": 1, "qualified": 1}
    assert rows["production-line-data-analysis"]["qualified"] == 0
    state = report["sections"]["training_coverage"]
    assert state["prefilled"] is True and ORG_WIDE_NOTE in json.dumps(state)
    assert report["evidence_counts"]["training_coverage"] == 2

    # the other organization's certificates never count for Helix
    other = draft(client, world.other)
    assert other["evidence_counts"].get("training_coverage", 0) == 0
    assert all(r["qualified"] == 0 for r in other["content"]["training_coverage"])

    # in the regulator's bundle the two records carry no name, e-mail, score or certificate id
    done = submitted(client, helix, "2026-Q2")
    resp = client.get(f"/compliance/submissions/{done['id']}/bundle", headers=world.regulator)
    assert resp.status_code == 200, resp.text
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        text = zf.read("training-records.json").decode()
    records = json.loads(text)
    assert len(records) == 3  # by the end of Q2 the admin's certificate counts too
    assert {r["qualification"] for r in records} == {INSPECTION, SCREENING}
    for leaked in ("Quinn", "Rhea", "Sid Admin", "@example", inspection["certificate_id"],
                   screening["certificate_id"]):
        assert leaked not in text
