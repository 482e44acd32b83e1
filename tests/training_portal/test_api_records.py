"""Expiry notices, refreshers, assignments, personal-data scoping and compliance records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from hub import cli
from hub.config import Settings, get_settings
from standards import registry
from tests.factories import assert_problem, login, make_org, make_user
from tests.training_portal.conftest import (
    SCREENING,
    SCREENING_QUALIFICATION,
    Clock,
    answer_key,
    pass_course,
    study,
)
from training_portal import flows
from training_portal.records import training_coverage

runner = CliRunner()


def test_expiry_notices_and_the_refresher_reissues(
        client: TestClient, session: Session, settings: Settings, clock: Clock) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="rene")
    make_user(session, settings, org, "site_admin", username="rene.boss")
    other = make_org(session)
    make_user(session, settings, other, "site_admin", username="not.my.boss")
    h, boss = login(client, "rene"), login(client, "rene.boss")
    clock.set(timedelta(days=-(730 - 20)))  # the certificate expires in about 20 days
    first = pass_course(client, session, h)["certificate_id"]
    clock.set(timedelta(0))
    assert_problem(client.post("/training/reminders", headers=h), 403)
    admin_org = make_org(session, kind="operator")
    make_user(session, settings, admin_org, "hub_admin", username="hubby")
    made = client.post("/training/reminders", headers=login(client, "hubby")).json()
    assert made["created"] == 2 and made["lead_days"] == 30
    again = client.post("/training/reminders", headers=login(client, "hubby")).json()
    assert again["created"] == 0  # each notice once
    mine = client.get("/training/notifications", headers=h).json()
    assert sorted((n["audience"], n["kind"]) for n in mine if n["subject_id"] == first) == [
        ("trainee", "expiry_upcoming"), ("trainee", "issued")]
    org_view = client.get("/training/notifications", headers=boss).json()
    assert ("organization", "expiry_upcoming") in {(n["audience"], n["kind"]) for n in org_view}
    assert "Rene" in next(n["title"] for n in org_view if n["audience"] == "organization")
    assert not [n for n in client.get("/training/notifications",
                                      headers=login(client, "not.my.boss")).json()
                if n["subject_id"] == first]
    notice = next(n for n in mine if n["kind"] == "expiry_upcoming")
    read = client.post(f"/training/notifications/{notice['id']}/read", headers=h).json()
    assert read["read_at"] is not None
    assert not [n for n in client.get("/training/notifications?unread=true", headers=h).json()
                if n["id"] == notice["id"]]

    # the refresher is open within the lead time: a new cycle, a new certificate
    refresher = client.post("/training/enrollments", json={"course_id": SCREENING}, headers=h)
    assert refresher.status_code == 201 and refresher.json()["cycle"] == 2
    second = pass_course(client, session, h)["certificate_id"]
    assert second != first
    old = client.get(f"/training/certificates/{first}", headers=h).json()
    assert old["superseded_by"] == second and old["status"] == "valid"
    clock.set(timedelta(days=25))  # the first one has expired now; the new one has not
    # the expired one was superseded and the new one is far from expiry: nothing to say
    assert flows.remind(session, settings, 30, clock.now()) == 0
    assert client.get(f"/certificates/{second}/verify").json()["valid"] is True
    # too early for another refresher
    body = assert_problem(client.post("/training/enrollments", json={"course_id": SCREENING},
                                      headers=h), 409)
    assert "refresher opens" in body["detail"]


def test_assignment_and_personal_data_scope(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    trainee = make_user(session, settings, org, "trainee", username="sara")
    make_user(session, settings, org, "trainee", username="sven")
    make_user(session, settings, org, "qa", username="quentin")
    outsider_org = make_org(session)
    outsider = make_user(session, settings, outsider_org, "trainee", username="xena")
    qa, sven = login(client, "quentin"), login(client, "sven")
    assigned = client.post("/training/enrollments", headers=qa, json={
        "course_id": "inspection-operation", "user_id": trainee.id, "site_id": "plant-basel",
        "due_at": "2030-01-31T00:00:00Z"})
    assert assigned.status_code == 201, assigned.text
    assert assigned.json()["assigned_by"] and assigned.json()["site_id"] == "plant-basel"
    assert_problem(client.post("/training/enrollments", headers=sven, json={
        "course_id": SCREENING, "user_id": trainee.id}), 403)
    assert_problem(client.post("/training/enrollments", headers=qa, json={
        "course_id": SCREENING, "user_id": outsider.id}), 404)
    notes = client.get("/training/notifications", headers=login(client, "sara")).json()
    assert notes[0]["kind"] == "assigned" and "2030-01-31" in notes[0]["message"]

    enrollment_id = assigned.json()["id"]
    assert client.get(f"/training/enrollments/{enrollment_id}", headers=qa).status_code == 200
    assert_problem(client.get(f"/training/enrollments/{enrollment_id}", headers=sven), 404)
    assert_problem(client.get(f"/training/enrollments?user_id={trainee.id}", headers=sven), 403)
    org_list = client.get(f"/training/enrollments?organization_id={org.id}", headers=qa).json()
    assert [e["id"] for e in org_list] == [enrollment_id]
    assert_problem(client.get(f"/training/records?organization_id={org.id}", headers=sven), 403)
    assert_problem(client.get(f"/training/records?organization_id={org.id}",
                              headers=login(client, "xena")), 403)


def test_training_coverage_for_compliance(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="ann.r")
    make_user(session, settings, org, "researcher", username="ben.r")
    make_user(session, settings, org, "researcher", username="cal.r")
    make_user(session, settings, org, "site_admin", username="dora.admin")
    h_ann, h_ben, h_cal = (login(client, u) for u in ("ann.r", "ben.r", "cal.r"))
    pass_course(client, session, h_ann)
    ben_cert = pass_course(client, session, h_ben)["certificate_id"]
    client.post(f"/training/certificates/{ben_cert}/revoke",
                headers=login(client, "dora.admin"), json={"reason": "left the lab"})
    enrollment_id = study(client, h_cal, "inspection-operation")
    for _ in range(3):  # cal fails the inspection course
        attempt = client.post(f"/training/enrollments/{enrollment_id}/attempts",
                              headers=h_cal).json()
        client.post(f"/training/attempts/{attempt['id']}/submit", headers=h_cal,
                    json={"answers": answer_key(session, attempt["id"], wrong=5)})

    report = training_coverage(session, org.id, requirements={
        "researcher": [SCREENING_QUALIFICATION], "site_admin": [SCREENING_QUALIFICATION]})
    statuses = sorted(r["status"] for r in report.records)
    assert statuses == ["active", "failed", "revoked"]
    standard = registry.get("training-record", "1.0.0")
    assert all(rep.ok for rep in standard.validate_many(report.records))
    failed = next(r for r in report.records if r["status"] == "failed")
    assert failed["assessment_score"] == 50.0 and "certificate_id" not in failed
    assert failed["person"]["name"] == "Cal.R"
    by_role = {c.role: c for c in report.coverage}
    assert (by_role["researcher"].required, by_role["researcher"].qualified) == (3, 1)
    assert (by_role["site_admin"].required, by_role["site_admin"].qualified) == (1, 0)
    assert report.overall == pytest.approx(1 / 4)

    api = client.get(f"/training/records?organization_id={org.id}",
                     headers=login(client, "dora.admin"))
    assert api.status_code == 200
    cov = {(c["role"], c["qualification"]): c for c in api.json()["coverage"]}
    assert cov[("researcher", SCREENING_QUALIFICATION)]["coverage"] == pytest.approx(1 / 3)
    assert len(api.json()["records"]) == 3

    site = training_coverage(session, org.id, site_id="plant-x",
                             requirements={"researcher": [SCREENING_QUALIFICATION]})
    assert site.records == [] and site.coverage[0].required == 0
    assert site.coverage[0].coverage == 1.0


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FEDHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FEDHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_training_cli(cli_env: Path) -> None:
    seeded = runner.invoke(cli.app, ["training", "seed"])
    assert seeded.exit_code == 0, seeded.output
    assert "all present" in seeded.output  # the migration installed the seed courses
    reminded = runner.invoke(cli.app, ["training", "remind", "--lead-days", "10"])
    assert reminded.exit_code == 0 and "0 notice(s) created (lead time 10 days)" in reminded.output
    runner.invoke(cli.app, ["admin", "create-org", "Cli Pharma", "--kind", "pharma"])
    coverage = runner.invoke(cli.app, ["training", "coverage", "Cli Pharma"])
    assert coverage.exit_code == 0, coverage.output
    assert "researcher" in coverage.output and "overall coverage 100%" in coverage.output
    missing = runner.invoke(cli.app, ["training", "coverage", "No Such Org"])
    assert missing.exit_code == 1
