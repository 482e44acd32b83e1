"""Reporting periods, per-site schedules and overdue reports."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.compliance.periods import (
    Frequency,
    Period,
    last_ended,
    parse_period,
    period_containing,
    periods_between,
)
from hub.compliance.schedules import overdue
from hub.identity.models import User
from hub.identity.service import principal_for_user
from tests.compliance.conftest import World, draft, make_site, submitted
from tests.factories import assert_problem


@pytest.mark.parametrize(("day", "freq", "anchor", "label"), [
    (date(2026, 2, 10), Frequency.quarterly, 1, "2026-Q1"),
    (date(2026, 12, 31), Frequency.quarterly, 1, "2026-Q4"),
    (date(2026, 2, 10), Frequency.monthly, 1, "2026-02"),
    (date(2026, 8, 1), Frequency.semiannual, 1, "2026-H2"),
    (date(2026, 8, 1), Frequency.annual, 1, "2026"),
    (date(2026, 2, 10), Frequency.quarterly, 2, "2026-02-01/2026-05-01"),  # cycle from February
    (date(2026, 5, 10), Frequency.annual, 4, "2026-04-01/2027-04-01"),
])
def test_period_containing(day: date, freq: Frequency, anchor: int, label: str) -> None:
    period = period_containing(day, freq, anchor)
    assert period.label == label
    assert period.start <= day < period.end
    assert parse_period(label) == period


def test_periods_between_and_last_ended() -> None:
    assert last_ended(date(2026, 4, 1), Frequency.quarterly) == parse_period("2026-Q1")
    assert last_ended(date(2026, 3, 31), Frequency.quarterly) == parse_period("2025-Q4")
    got = periods_between(date(2025, 11, 3), date(2026, 7, 2), Frequency.quarterly)
    assert [p.label for p in got] == ["2025-Q4", "2026-Q1", "2026-Q2"]
    with pytest.raises(ValueError, match="not a period"):
        parse_period("2026-Q5")
    with pytest.raises(ValueError, match="not after"):
        parse_period("2026-03-01/2026-02-01")
    assert parse_period("2026-01-15/2026-02-15") == Period(date(2026, 1, 15), date(2026, 2, 15))


def test_default_schedule_and_configuration(client: TestClient, world: World) -> None:
    helix = world.helix
    url = f"/compliance/schedules/{helix.site.id}"
    default = client.get(url, headers=helix.admin).json()
    assert (default["frequency"], default["grace_days"], default["configured"]) == (
        "quarterly", 30, False)
    resp = client.put(url, headers=helix.qa, json={"frequency": "monthly", "grace_days": 10})
    assert resp.status_code == 200, resp.text
    assert resp.json()["configured"] is True and resp.json()["frequency"] == "monthly"
    resp = client.put(url, headers=helix.admin, json={"frequency": "annual", "anchor_month": 7,
                                                      "reason": "fiscal year from July"})
    assert resp.json()["last_ended_period"].endswith("-07-01")
    bad = client.put(url, headers=helix.admin, json={"frequency": "weekly"})
    assert assert_problem(bad, 422)["errors"][0]["pointer"] == "/body/frequency"
    assert_problem(client.put(url, headers=world.other.admin, json={}), 404)
    # without a period the draft is for the last period that ended under the schedule
    resp = client.post("/compliance/submissions", headers=helix.admin,
                       json={"site_id": helix.site.id})
    assert resp.status_code == 201, resp.text
    assert resp.json()["period_label"] == client.get(url, headers=helix.admin).json()[
        "last_ended_period"]


def test_overdue_until_approved(client: TestClient, session: Session, world: World) -> None:
    helix = world.helix
    # a site approved in November 2025: Q4 2025, and every later quarter are due
    today = date(2026, 8, 15)  # Q2 ended 30 June; due 30 July
    admin = session.get(User, helix.admin_id)
    assert admin is not None
    who = principal_for_user(admin)
    labels = [o.period_label for o in overdue(session, who, today)
              if o.site_id == helix.site.id]
    assert labels == ["2025-Q4", "2026-Q1", "2026-Q2"]
    draft(client, helix, "2025-Q4")
    submitted(client, helix, "2026-Q1")
    rows = {o.period_label: o for o in overdue(session, who, today)
            if o.site_id == helix.site.id}
    assert set(rows) == {"2025-Q4", "2026-Q2"}  # a draft does not count, an approval does
    assert rows["2025-Q4"].latest_status == "draft"
    assert rows["2025-Q4"].days_overdue == (today - date(2026, 1, 31)).days
    # a site enrolled later owes nothing before its approval; other members' sites are hidden
    late = make_site(session, helix.org, "Late Plant",
                     decided_at=datetime(2026, 5, 20, tzinfo=UTC))
    late_rows = [o.period_label for o in overdue(session, who, today) if o.site_id == late.id]
    assert late_rows == ["2026-Q2"]
    assert all(o.organization_id == helix.org.id for o in overdue(session, who, today))


def test_overdue_endpoint_scoping(client: TestClient, world: World) -> None:
    own = client.get("/compliance/overdue", headers=world.helix.qa)
    assert own.status_code == 200, own.text
    assert {o["site_id"] for o in own.json()} == {world.helix.site.id}
    ch = client.get("/compliance/overdue", headers=world.regulator).json()
    assert {o["organization_id"] for o in ch} == {world.helix.org.id}
    everyone = client.get("/compliance/overdue", headers=world.hub_admin).json()
    assert {o["site_id"] for o in everyone} >= {world.helix.site.id, world.other.site.id}
