"""Regulators see submitted reports of their own jurisdiction only, read-only; every access
from outside the submitting organization is logged and shown to that organization."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.audit.models import AuditEntry
from tests.compliance.conftest import World, draft, review_all, sign, submitted
from tests.factories import assert_problem


def test_regulator_sees_only_its_jurisdiction(client: TestClient, world: World) -> None:
    ch = submitted(client, world.helix)
    eu = submitted(client, world.other)
    ch_ids = [r["id"] for r in client.get("/compliance/submissions",
                                          headers=world.regulator).json()]
    eu_ids = [r["id"] for r in client.get("/compliance/submissions",
                                          headers=world.eu_regulator).json()]
    assert ch_ids == [ch["id"]] and eu_ids == [eu["id"]]
    # reading, downloading or filtering by another jurisdiction reveals nothing (404, empty)
    for path in (f"/compliance/submissions/{eu['id']}",
                 f"/compliance/submissions/{eu['id']}/bundle"):
        assert_problem(client.get(path, headers=world.regulator), 404)
    resp = client.get("/compliance/submissions", headers=world.regulator,
                      params={"organization_id": world.other.org.id})
    assert resp.status_code == 200 and resp.json() == []
    # members see only their own organization's; hub admins see both
    assert [r["id"] for r in client.get("/compliance/submissions",
                                        headers=world.helix.qa).json()] == [ch["id"]]
    assert_problem(client.get(f"/compliance/submissions/{eu['id']}", headers=world.helix.qa),
                   404)
    both = {r["id"] for r in client.get("/compliance/submissions",
                                        headers=world.hub_admin).json()}
    assert both == {ch["id"], eu["id"]}


def test_regulator_sees_submitted_reports_only_and_filters(client: TestClient,
                                                           world: World) -> None:
    helix = world.helix
    approved = submitted(client, helix, "2026-Q1")
    signed = review_all(client, helix, draft(client, helix, "2026-Q2"))
    assert sign(client, helix, signed["id"]).status_code == 200
    draft(client, helix, "2026-Q3")
    rows = client.get("/compliance/submissions", headers=world.regulator).json()
    assert [r["id"] for r in rows] == [approved["id"]]
    assert_problem(client.get(f"/compliance/submissions/{signed['id']}",
                              headers=world.regulator), 404)
    own = client.get("/compliance/submissions", headers=helix.admin).json()
    assert sorted(r["status"] for r in own) == ["approved", "draft", "signed"]
    for params, expected in (
        ({"period": "2026-Q1"}, [approved["id"]]),
        ({"period": "2026-Q2"}, []),
        ({"status": "superseded"}, []),
        ({"site_id": helix.site.id}, [approved["id"]]),
        ({"site_id": world.other.site.id}, []),
        ({"since": "2099-01-01"}, []),
    ):
        got = client.get("/compliance/submissions", headers=world.regulator, params=params)
        assert got.status_code == 200, got.text
        assert [r["id"] for r in got.json()] == expected, params
    bad = client.get("/compliance/submissions", headers=world.regulator,
                     params={"period": "2026-Q5"})
    assert assert_problem(bad, 422)["errors"][0]["pointer"] == "/period"
    assert_problem(client.get("/compliance/submissions", headers=world.regulator,
                              params={"status": "deleted"}), 422)


def test_regulator_is_read_only(client: TestClient, world: World) -> None:
    report = submitted(client, world.helix)
    url = f"/compliance/submissions/{report['id']}"
    assert_problem(client.post("/compliance/submissions", headers=world.regulator,
                               json={"site_id": world.helix.site.id, "period": "2026-Q2"}), 404)
    assert_problem(client.post(f"{url}/corrections", headers=world.regulator,
                               json={"reason": "regulator wants changes"}), 403)
    assert_problem(client.post(f"{url}/cosign", headers=world.regulator,
                               json={"password": "Correct-Horse-42!"}), 403)
    assert_problem(client.put(f"/compliance/schedules/{world.helix.site.id}",
                              headers=world.regulator, json={"frequency": "monthly"}), 404)


def test_every_regulator_access_is_logged_for_the_submitting_org(
        client: TestClient, session: Session, world: World) -> None:
    helix = world.helix
    report = submitted(client, helix)
    url = f"/compliance/submissions/{report['id']}"
    before = client.get("/compliance/access-log", headers=helix.admin).json()
    assert before == []  # the organization's own work is not an outside access
    assert client.get("/compliance/submissions", headers=world.regulator,
                      params={"period": "2026-Q1"}).status_code == 200
    assert client.get(url, headers=world.regulator).status_code == 200
    assert client.get(f"{url}/bundle", headers=world.regulator).status_code == 200
    log = client.get("/compliance/access-log", headers=helix.qa).json()
    assert [e["action"] for e in log] == ["download", "read", "list"]
    assert {e["actor_name"] for e in log} == {"rita.regulator"}
    assert all(e["submission_ids"] == [report["id"]] for e in log)
    assert log[2]["detail"]["period"] == "2026-Q1"
    assert log[0]["detail"]["file"].endswith(".zip")
    # filter by submission; another organization does not see these accesses
    one = client.get("/compliance/access-log", headers=helix.admin,
                     params={"submission_id": report["id"]}).json()
    assert len(one) == 3
    assert client.get("/compliance/access-log", headers=world.other.admin).json() == []
    # the regulator can see its own accesses; each one is an audit-trail entry too
    mine = client.get("/compliance/access-log", headers=world.regulator).json()
    assert {e["id"] for e in mine} == {e["id"] for e in log}
    audited = session.exec(select(AuditEntry).where(
        col(AuditEntry.entity_type) == "compliance_access")).all()
    assert {e.entity_id for e in audited} >= {e["id"] for e in log}
    assert all(e.actor_name == "rita.regulator" for e in audited)
    # an empty list is still an access (audit trail), though no organization was touched
    client.get("/compliance/submissions", headers=world.regulator,
               params={"period": "2025-Q1"})
    empty = session.exec(select(AuditEntry).where(
        col(AuditEntry.entity_type) == "compliance_access", col(AuditEntry.entity_id) == "list"))
    assert len(empty.all()) == 1
