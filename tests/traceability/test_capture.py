"""EPCIS capture: conformance fixtures, rejection with field pointers, idempotency, access."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from tests.factories import assert_problem, login, make_org, make_user
from tests.traceability import docs
from tests.traceability.conftest import Chain, Member, capture

FIXTURES = Path(__file__).parents[1] / "fixtures" / "epcis"
INVALID = {
    "Example-TransactionEvents-2020_07_03y.jsonld": {"/epcisBody/eventList/1/sourceList",
                                                     "/epcisBody/eventList/1/destinationList"},
    "WithFullCombinationOfFields__object_event_all_possible_fields.jsonld":
        {"/epcisBody/eventList/0/ilmd"},
}
VALID = sorted(p.name for p in FIXTURES.glob("*.jsonld") if p.name not in INVALID)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def test_fixture_set_is_complete() -> None:
    assert len(VALID) == 20 and all((FIXTURES / n).exists() for n in INVALID)


@pytest.mark.parametrize("name", VALID)
def test_valid_fixture_is_captured(client: TestClient, plant: Member, name: str) -> None:
    doc = load(name)
    events = doc["epcisBody"]["eventList"]
    receipt = capture(client, plant.auth, doc)
    assert receipt["received"] == len(events) == receipt["stored"]
    assert receipt["duplicates"] == 0
    for ev, eid in zip(events, receipt["event_ids"], strict=True):
        declared = ev.get("eventID") or ev.get("id")
        assert eid == declared if declared else eid.startswith("ni:///sha-256;")
    stored = client.get("/traceability/events", headers=plant.auth,
                        params={"limit": 1000}).json()
    assert sorted(e["event_id"] for e in stored) == sorted(receipt["event_ids"])
    assert all(e["event"]["type"] == e["event_type"] for e in stored)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_fixture_is_rejected_naming_the_field(client: TestClient, plant: Member,
                                                      name: str) -> None:
    resp = client.post("/traceability/capture", json=load(name), headers=plant.auth)
    body = assert_problem(resp, 422, "validation-error")
    pointers = {e["pointer"] for e in body["errors"]}
    assert INVALID[name] <= pointers, pointers
    assert all(e["message"] for e in body["errors"])
    assert client.get("/traceability/events", headers=plant.auth).json() == []


def test_one_bad_event_rejects_the_whole_document(client: TestClient, plant: Member) -> None:
    doc = docs.plant_document()
    del doc["epcisBody"]["eventList"][2]["eventTime"]
    doc["epcisBody"]["eventList"][0]["action"] = "CREATE"
    body = assert_problem(client.post("/traceability/capture", json=doc,
                                      headers=plant.auth), 422)
    pointers = {e["pointer"] for e in body["errors"]}
    assert "/epcisBody/eventList/0/action" in pointers
    assert any(p.startswith("/epcisBody/eventList/2") for p in pointers), pointers
    assert client.get("/traceability/events", headers=plant.auth).json() == []


def test_all_fixtures_then_recapture_stores_nothing_new(client: TestClient,
                                                        plant: Member) -> None:
    first = [capture(client, plant.auth, load(n)) for n in VALID]
    distinct = {eid for r in first for eid in r["event_ids"]}
    assert sum(r["stored"] for r in first) == len(distinct)
    again = [capture(client, plant.auth, load(n)) for n in VALID]
    assert sum(r["stored"] for r in again) == 0
    assert sum(r["duplicates"] for r in again) == sum(r["received"] for r in again)
    stored = client.get("/traceability/events", headers=plant.auth,
                        params={"limit": 1000}).json()
    assert len(stored) == len(distinct)


def test_events_without_id_are_recognised_in_another_notation(client: TestClient,
                                                               plant: Member) -> None:
    """The hash id ignores key order, list order and the time zone notation."""
    doc = load("WithFullCombinationOfFields__transaction_event_all_possible_fields.jsonld")
    first = capture(client, plant.auth, doc)
    variant = copy.deepcopy(doc)
    ev = variant["epcisBody"]["eventList"][0]
    assert "eventID" not in ev
    ev["epcList"] = ev["epcList"][::-1]
    instant = datetime.fromisoformat(ev["eventTime"].replace("Z", "+00:00"))
    ev["eventTime"] = instant.astimezone(timezone(timedelta(hours=-6))).isoformat()
    assert not ev["eventTime"].endswith(("Z", "+00:00"))
    variant["epcisBody"]["eventList"][0] = dict(reversed(list(ev.items())))
    second = capture(client, plant.auth, variant)
    assert second["event_ids"] == first["event_ids"] and second["stored"] == 0
    variant["epcisBody"]["eventList"][0]["disposition"] = "damaged"  # a different event
    third = capture(client, plant.auth, variant)
    assert third["stored"] == 1 and third["event_ids"] != first["event_ids"]


def test_mixed_document_stores_only_new_events(client: TestClient, plant: Member) -> None:
    capture(client, plant.auth, docs.plant_document())
    mixed = docs.document(*docs.plant_document()["epcisBody"]["eventList"],
                          *docs.carrier_document()["epcisBody"]["eventList"])
    receipt = capture(client, plant.auth, mixed)
    assert (receipt["received"], receipt["stored"], receipt["duplicates"]) == (5, 2, 3)
    assert receipt["stored_event_ids"] == receipt["event_ids"][3:]


def test_same_event_id_in_two_organizations_is_two_events(client: TestClient,
                                                          chain: Chain) -> None:
    chain.capture(client, chain.plant.auth, docs.distributor_document())
    receipt = chain.capture(client, chain.outsider.auth, docs.distributor_document())
    assert receipt["stored"] == 1


def test_large_document_is_captured_in_bulk(client: TestClient, plant: Member) -> None:
    events = [docs.event("ObjectEvent", i / 60, f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
                         action="OBSERVE", bizStep="storing", disposition="in_progress",
                         epcList=[f"urn:epc:id:sgtin:9520123.045678.{i}"],
                         readPoint={"id": docs.WAREHOUSE}, bizLocation={"id": docs.WAREHOUSE},
                         sensorElementList=docs.temperatures(i / 60, [4.0]))
              for i in range(2000)]
    receipt = capture(client, plant.auth, docs.document(*events))
    assert receipt["stored"] == 2000
    page = client.get("/traceability/events", headers=plant.auth,
                      params={"location": docs.WAREHOUSE, "limit": 1000, "offset": 1500})
    assert len(page.json()) == 500
    stock = client.get("/traceability/inventory", headers=plant.auth).json()
    assert len(stock["locations"][0]["items"]) == 2000


def test_capture_is_audited(client: TestClient, plant: Member) -> None:
    receipt = capture(client, plant.auth, docs.plant_document())
    entries = client.get("/audit", headers=plant.auth,
                         params={"entity_type": "trace_capture",
                                 "entity_id": receipt["id"]}).json()
    assert len(entries) == 1 and entries[0]["action"] == "create"
    assert entries[0]["new_values"]["document_sha256"] == receipt["document_sha256"]
    assert entries[0]["new_values"]["stored"] == 3


def test_who_may_capture(client: TestClient, session: Session, settings: Settings,
                         chain: Chain) -> None:
    doc = docs.distributor_document()
    assert_problem(client.post("/traceability/capture", json=doc), 401)
    org = make_org(session)
    researcher = make_user(session, settings, org, "researcher")
    assert_problem(client.post("/traceability/capture", json=doc,
                               headers=login(client, researcher.username)), 403)
    receipt = chain.capture(client, chain.carrier_key, doc)
    assert receipt["org_id"] == chain.carrier.org_id
    assert receipt["actor_name"].startswith("apikey:")


def test_not_a_document(client: TestClient, plant: Member) -> None:
    for body in ([1, 2], {"type": "EPCISDocument"}):
        resp = client.post("/traceability/capture", json=body, headers=plant.auth)
        assert_problem(resp, 422)


def test_product_ranges(client: TestClient, session: Session, settings: Settings,
                        chain: Chain) -> None:
    url = f"/traceability/products/{docs.GTIN}"
    auth = chain.plant.auth
    assert client.put(url, headers=auth, json={"min_celsius": 2, "max_celsius": 8}
                      ).status_code == 201
    body = assert_problem(client.put(url, headers=auth,
                                     json={"min_celsius": 2, "max_celsius": 25}), 422)
    assert body["errors"][0]["pointer"] == "/reason"
    ok = client.put(url, headers=auth, json={"min_celsius": 2, "max_celsius": 25,
                                             "reason": "stability study SR-12 approved"})
    assert ok.status_code == 200 and ok.json()["max_celsius"] == 25
    assert client.get(url, headers=auth).json()["max_celsius"] == 25
    bad = assert_problem(client.put("/traceability/products/1234", headers=auth,
                                    json={"min_celsius": 2, "max_celsius": 8}), 422)
    assert bad["errors"][0]["pointer"] == "/gtin"
    assert_problem(client.put(url, headers=auth, json={"min_celsius": 9, "max_celsius": 8,
                                                       "reason": "typo"}), 422)
    assert_problem(client.get(url, headers=chain.outsider.auth), 404)
    researcher = make_user(session, settings, make_org(session), "researcher")
    assert_problem(client.put(url, headers=login(client, researcher.username),
                              json={"min_celsius": 2, "max_celsius": 8}), 403)
