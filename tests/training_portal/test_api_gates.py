"""Certification gates: an uncertified person is refused with a problem naming the qualification."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from hub.identity import service as identity
from hub.identity.principal import Principal
from hub.identity.schemas import ApiKeyCreate
from hub.qualifications import (
    Holding,
    qualifications_for,
    register_checker,
    registered_checkers,
    require_qualification,
    unregister_checker,
)
from tests.factories import assert_problem, login, make_org, make_user
from tests.training_portal.conftest import SCREENING_QUALIFICATION, Clock, pass_course
from training_portal.certificates import qualification_holding

GATED = "/test-only/screens"


@pytest.fixture
def gated_app(app: Any) -> Any:
    """The real app plus one test-only route gated on ``screen.submit``."""

    @app.post(GATED, dependencies=[Depends(require_qualification("screen.submit"))])
    def submit_screen() -> dict[str, str]:
        return {"status": "accepted"}

    return app


@pytest.fixture
def gclient(gated_app: Any) -> Iterator[TestClient]:
    with TestClient(gated_app, raise_server_exceptions=False) as c:
        yield c


def test_uncertified_refused_then_certified_admitted(
        gclient: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="gina")
    h = login(gclient, "gina")
    body = assert_problem(gclient.post(GATED, headers=h), 403, "qualification-required")
    assert body["qualification"] == SCREENING_QUALIFICATION
    assert "Molecular screening model application" in body["detail"]
    assert SCREENING_QUALIFICATION in body["detail"] and "not held" in body["detail"]
    assert body["action"] == "screen.submit"
    assert body["missing"][0]["qualification"] == SCREENING_QUALIFICATION

    cert_id = pass_course(gclient, session, h)["certificate_id"]
    ok = gclient.post(GATED, headers=h)
    assert ok.status_code == 200 and ok.json() == {"status": "accepted"}
    mine = {q["qualification"]: q for q in gclient.get("/training/me/qualifications",
                                                       headers=h).json()}
    assert mine[SCREENING_QUALIFICATION]["valid"] is True
    assert mine[SCREENING_QUALIFICATION]["certificate_id"] == cert_id
    assert mine["intelligent-inspection-system-operation"]["valid"] is False

    make_user(session, settings, org, "qa", username="gina.qa")
    gclient.post(f"/training/certificates/{cert_id}/revoke", headers=login(gclient, "gina.qa"),
                 json={"reason": "re-assessment required after deviation DV-114"})
    refused = assert_problem(gclient.post(GATED, headers=h), 403, "qualification-required")
    assert "revoked" in refused["detail"]


def test_expired_certificate_no_longer_admits(
        gclient: TestClient, session: Session, settings: Settings, clock: Clock) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="edgar")
    h = login(gclient, "edgar")
    clock.set(timedelta(days=-800))
    pass_course(gclient, session, h)
    clock.set(timedelta(0))
    body = assert_problem(gclient.post(GATED, headers=h), 403, "qualification-required")
    assert "expired on" in body["detail"] and "refresher" in body["detail"]


def test_machines_are_not_gated_but_hub_admins_are(
        gclient: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    admin_org = make_org(session, kind="operator")
    make_user(session, settings, admin_org, "hub_admin", username="hank")
    assert_problem(gclient.post(GATED, headers=login(gclient, "hank")), 403,
                   "qualification-required")
    creator = Principal("user", "system-test", "test", org.id, frozenset({"site_admin"}))
    _, secret = identity.issue_api_key(session, creator, ApiKeyCreate(name="agent"))
    session.commit()
    resp = gclient.post(GATED, headers={"X-API-Key": secret})
    assert resp.status_code == 200, resp.text


def test_gate_map_comes_from_settings(session: Session, settings: Settings,
                                      app: Any) -> None:
    settings.qualification_gates = {"screen.submit": [SCREENING_QUALIFICATION,
                                                      "production-line-data-analysis"]}

    @app.post(GATED, dependencies=[Depends(require_qualification("screen.submit"))])
    def submit_screen() -> dict[str, str]:
        return {"status": "accepted"}

    org = make_org(session)
    make_user(session, settings, org, "researcher", username="lara")
    with TestClient(app, raise_server_exceptions=False) as c:
        h = login(c, "lara")
        pass_course(c, session, h)
        body = assert_problem(c.post(GATED, headers=h), 403, "qualification-required")
        assert [m["qualification"] for m in body["missing"]] == ["production-line-data-analysis"]
        settings.qualification_gates = {}  # gates off
        assert c.post(GATED, headers=h).status_code == 200


def test_fail_closed_without_a_checker(gclient: TestClient, session: Session,
                                       settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "researcher", username="nina")
    h = login(gclient, "nina")
    checkers = registered_checkers()
    assert qualification_holding in checkers
    for c in checkers:
        unregister_checker(c)
    try:
        body = assert_problem(gclient.post(GATED, headers=h), 403, "qualification-required")
        assert "no qualification records" in body["detail"]

        def everyone(_s: Session, _w: Principal, q: str, _t: datetime) -> Holding:
            return Holding(q, True, "granted by a stub")

        register_checker(everyone)
        assert gclient.post(GATED, headers=h).status_code == 200
        unregister_checker(everyone)
    finally:
        for c in checkers:
            register_checker(c)


def test_qualifications_for() -> None:
    gates = {"a": "q1", "b": ["q1", "q2"], "c": ""}
    assert qualifications_for(gates, "a") == ["q1"]
    assert qualifications_for(gates, "b") == ["q1", "q2"]
    assert qualifications_for(gates, "c") == [] and qualifications_for(gates, "zzz") == []
