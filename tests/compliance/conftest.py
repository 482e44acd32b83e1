"""A pharma member in jurisdiction CH with one plant, its people, regulators of CH and EU, and
another member (EU) with its own submission; helpers that walk a report through its cycle."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from hub.identity.models import Organization
from hub.monitoring.models import Alert, WorkOrder
from hub.sites.models import Site, SiteKind, SiteStatus
from tests.factories import PASSWORD, login, make_org, make_user

PERIOD = "2026-Q1"
IN_PERIOD = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
_seq = itertools.count(1)


@dataclass
class Member:
    org: Organization
    site: Site
    admin: dict[str, str]
    qa: dict[str, str]
    admin_id: str
    qa_id: str


@dataclass
class World:
    helix: Member  # jurisdiction CH
    other: Member  # jurisdiction EU
    regulator: dict[str, str]  # CH regulator
    eu_regulator: dict[str, str]
    hub_admin: dict[str, str]


def make_site(session: Session, org: Organization, name: str | None = None,
              decided_at: datetime | None = None) -> Site:
    site = Site(name=name or f"Plant {next(_seq)}", organization_id=org.id, kind=SiteKind.plant,
                location={"enterprise": "helix", "site": "basel"}, requested_by="test",
                status=SiteStatus.active, decided_at=decided_at or datetime(2025, 11, 3,
                                                                            tzinfo=UTC))
    session.add(site)
    session.commit()
    return site


def member(client: TestClient, session: Session, settings: Settings, name: str,
           jurisdiction: str) -> Member:
    org = make_org(session, name=name, jurisdiction=jurisdiction)
    site = make_site(session, org, f"{name} Plant")
    n = next(_seq)
    admin = make_user(session, settings, org, "site_admin", username=f"admin{n}",
                      full_name=f"Sid Admin {n}")
    qa = make_user(session, settings, org, "qa", username=f"qa{n}", full_name=f"Quinn QA {n}")
    return Member(org, site, login(client, admin.username), login(client, qa.username),
                  admin.id, qa.id)


@pytest.fixture
def world(client: TestClient, session: Session, settings: Settings) -> World:
    helix = member(client, session, settings, "Helix Pharma", "CH")
    other = member(client, session, settings, "Nordic Biologics", "EU")
    swissmedic = make_org(session, kind="regulator", name="Swiss Agency", jurisdiction="CH")
    ema = make_org(session, kind="regulator", name="EU Agency", jurisdiction="EU")
    operator = make_org(session, kind="operator", name="Consortium Operator")
    make_user(session, settings, swissmedic, "regulator", username="rita.regulator",
              full_name="Rita Regulator")
    make_user(session, settings, ema, "regulator", username="eric.regulator")
    make_user(session, settings, operator, "hub_admin", username="hana.hubadmin")
    return World(helix, other, login(client, "rita.regulator"), login(client, "eric.regulator"),
                 login(client, "hana.hubadmin"))


def add_alert(session: Session, site: Site, severity: str, raised_at: datetime,
              received_after: timedelta = timedelta(minutes=2),
              detector: str = "zscore") -> Alert:
    alert = Alert(site_id=site.id, organization_id=site.organization_id,
                  source_alert_id=str(uuid.uuid4()), asset={}, asset_path="helix/basel/gran/l1/"
                  "dryer-1", measurement="temperature", detector=detector, severity=severity,
                  score=9.1, value=81.0, expected=70.0, unit="Cel",
                  message=f"{severity} {detector} alert on the dryer", scorer="holt-z",
                  reading_id=str(uuid.uuid4()), raised_at=raised_at,
                  received_at=raised_at + received_after)
    session.add(alert)
    session.commit()
    return alert


def add_work_order(session: Session, site: Site, alert: Alert, due: str) -> WorkOrder:
    wo = WorkOrder(site_id=site.id, organization_id=site.organization_id,
                   work_order_id=f"WO-{next(_seq)}", schema_id="maintenance-work-order/1.0.0",
                   asset_path=alert.asset_path, predicted_failure_mode="bearing_wear",
                   priority="high", recommended_action="Replace the dryer fan bearing",
                   due_date=due, source_alert_ids=[alert.source_alert_id],
                   created_at=alert.raised_at + timedelta(hours=1))
    session.add(wo)
    session.commit()
    return wo


def draft(client: TestClient, m: Member, period: str = PERIOD) -> dict[str, Any]:
    resp = client.post("/compliance/submissions", headers=m.admin,
                       json={"site_id": m.site.id, "period": period})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def review_all(client: TestClient, m: Member, report: dict[str, Any]) -> dict[str, Any]:
    body = report
    for name in report["sections"]:
        resp = client.patch(f"/compliance/submissions/{report['id']}/sections/{name}",
                            headers=m.admin, json={"reviewed": True,
                                                   "reason": "checked against site records"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
    return body


def sign(client: TestClient, m: Member, report_id: str) -> Any:
    return client.post(f"/compliance/submissions/{report_id}/sign", headers=m.admin,
                       json={"password": PASSWORD, "comment": "complete and accurate"})


def cosign(client: TestClient, m: Member, report_id: str) -> Any:
    return client.post(f"/compliance/submissions/{report_id}/cosign", headers=m.qa,
                       json={"password": PASSWORD, "comment": "QA approved"})


def submitted(client: TestClient, m: Member, period: str = PERIOD) -> dict[str, Any]:
    """A report taken through draft, review, signature and QA co-signature."""
    report = review_all(client, m, draft(client, m, period))
    assert sign(client, m, report["id"]).status_code == 200
    resp = cosign(client, m, report["id"])
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body
