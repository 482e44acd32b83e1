"""A shipment from plant to distributor with a temperature excursion on the truck."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from tests.factories import assert_problem
from tests.traceability import docs
from tests.traceability.conftest import Chain


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def shipped(client: TestClient, chain: Chain) -> Chain:
    """The plant sets 2–8 °C for the product; all three documents are captured."""
    resp = client.put(f"/traceability/products/{docs.GTIN}", headers=chain.plant.auth,
                      json={"name": "Vaccine X 10 ml", "min_celsius": 2, "max_celsius": 8})
    assert resp.status_code == 201, resp.text
    chain.capture(client, chain.plant.auth, docs.plant_document())
    chain.capture(client, chain.carrier_key, docs.carrier_document())  # the truck's site key
    chain.capture(client, chain.distributor.auth, docs.distributor_document())
    return chain


def test_custody_chain_has_one_delivered_leg_with_transport_time(client: TestClient,
                                                                  shipped: Chain) -> None:
    resp = client.get(f"/traceability/lots/{docs.LOT}/custody", headers=shipped.plant.auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    steps = [e["biz_step"] for e in body["events"]]
    assert steps == ["commissioning", "packing", "shipping", "transporting", "transporting",
                     "receiving"]
    assert [e["org_name"] for e in body["events"]] == [
        "Alpine Vaccines", "Alpine Vaccines", "Alpine Vaccines", "ColdFreight", "ColdFreight",
        "MediDistrib"]
    [leg] = body["legs"]
    assert leg["status"] == "delivered"
    assert leg["from_location"] == docs.PLANT and leg["to_location"] == docs.WAREHOUSE
    assert _t(leg["shipped_at"]) == docs.at(2) and _t(leg["received_at"]) == docs.at(8.5)
    assert leg["duration_seconds"] == 6.5 * 3600
    assert leg["shipped_by"] == "Alpine Vaccines" and leg["received_by"] == "MediDistrib"
    assert {"type": "owning_party", "id": docs.DISTRIBUTOR_PARTY} in leg["destination_parties"]
    assert [e["biz_step"] for e in leg["transport"]] == ["transporting", "transporting"]
    assert leg["max_celsius"] == 9.4 and leg["min_celsius"] == 5.0


def test_one_excursion_with_window_and_peak(client: TestClient, shipped: Chain) -> None:
    resp = client.get(f"/traceability/lots/{docs.LOT}/excursions", headers=shipped.plant.auth)
    assert resp.status_code == 200, resp.text
    [exc] = resp.json()
    assert exc["gtin"] == docs.GTIN and exc["lot"] == docs.LOT
    assert _t(exc["start"]) == docs.at(4) and _t(exc["end"]) == docs.at(5)  # 10:00–11:00
    assert exc["max_celsius"] == 9.4 and exc["min_celsius"] == 8.2
    assert exc["direction"] == "high" and exc["readings"] == 3
    assert exc["allowed"] == {"min_celsius": 2, "max_celsius": 8, "source": "product",
                              "org_id": shipped.plant.org_id}
    assert exc["event_ids"] == ["urn:uuid:6f0e4b1e-0000-4000-8000-000000000004",
                                "urn:uuid:6f0e4b1e-0000-4000-8000-000000000005"]
    everywhere = client.get("/traceability/excursions", headers=shipped.plant.auth).json()
    assert [(e["lot"], e["start"]) for e in everywhere] == [(docs.LOT, exc["start"])]
    later = client.get("/traceability/excursions", headers=shipped.plant.auth,
                       params={"since": "2026-03-02T12:00:00Z"}).json()
    assert later == []


def test_wider_lot_range_overrides_product_range(client: TestClient, shipped: Chain) -> None:
    resp = client.put(f"/traceability/products/{docs.GTIN}/lots/{docs.LOT}",
                      headers=shipped.plant.auth, json={"min_celsius": 2, "max_celsius": 10})
    assert resp.status_code == 201, resp.text
    resp = client.get(f"/traceability/lots/{docs.LOT}/excursions", headers=shipped.plant.auth)
    assert resp.json() == []


def test_alert_reaches_owner_and_logistics_partner_only(client: TestClient,
                                                        shipped: Chain) -> None:
    seen = {}
    for m in (shipped.plant, shipped.carrier, shipped.distributor, shipped.outsider):
        seen[m.name] = client.get("/traceability/alerts", headers=m.auth).json()
    assert len(seen["Alpine Vaccines"]) == 1 and len(seen["ColdFreight"]) == 1
    assert seen["MediDistrib"] == [] and seen["Other Pharma"] == []
    alert = seen["Alpine Vaccines"][0]
    assert alert["owner_org_id"] == shipped.plant.org_id and alert["lot"] == docs.LOT
    assert alert["max_celsius"] == 9.4 and _t(alert["window_start"]) == docs.at(4)
    assert "9.4" in alert["message"]
    # another organization cannot read or acknowledge it
    assert_problem(client.get(f"/traceability/alerts/{alert['id']}",
                              headers=shipped.outsider.auth), 404)
    ack = client.post(f"/traceability/alerts/{alert['id']}/acknowledge",
                      headers=shipped.plant.auth, json={"comment": "QA released after review"})
    assert ack.status_code == 200 and ack.json()["acknowledged_at"]
    audit = client.get("/audit", headers=shipped.plant.auth,
                       params={"entity_type": "trace_alert", "entity_id": alert["id"]}).json()
    assert [a["action"] for a in audit] == ["acknowledge"]
    assert audit[0]["reason"] == "QA released after review"


def test_recapture_does_not_duplicate_alerts(client: TestClient, shipped: Chain) -> None:
    again = shipped.capture(client, shipped.carrier_key, docs.carrier_document())
    assert again["stored"] == 0 and again["duplicates"] == 2 and again["alerts_raised"] == 0
    assert len(client.get("/traceability/alerts", headers=shipped.plant.auth).json()) == 1


def test_outsider_sees_nothing(client: TestClient, shipped: Chain) -> None:
    auth = shipped.outsider.auth
    for path in ("custody", "excursions", "inventory"):
        assert_problem(client.get(f"/traceability/lots/{docs.LOT}/{path}", headers=auth), 404)
    assert client.get("/traceability/events", headers=auth,
                      params={"lot": docs.LOT}).json() == []
    some = client.get("/traceability/events", headers=shipped.plant.auth).json()[0]
    resp = client.get(f"/traceability/events/{some['id']}", headers=auth)
    assert_problem(resp, 404)
    assert docs.LOT not in resp.text


def test_partner_sees_what_was_shared_with_it(client: TestClient, shipped: Chain) -> None:
    """The carrier reads the plant's events (declared partner), not the distributor's."""
    resp = client.get(f"/traceability/lots/{docs.LOT}/custody", headers=shipped.carrier.auth)
    body = resp.json()
    assert [e["biz_step"] for e in body["events"]][-1] == "transporting"
    assert body["legs"][0]["status"] == "in_transit"
    # withdrawing the partnership withdraws access
    resp = client.delete(f"/traceability/partners/{shipped.carrier.org_id}",
                         headers=shipped.plant.auth, params={"reason": "contract ended"})
    assert resp.status_code == 204
    steps = [e["biz_step"] for e in client.get(
        "/traceability/events", headers=shipped.carrier.auth,
        params={"lot": docs.LOT}).json()]
    assert steps == []  # without the plant's lot data the carrier cannot link its events


def test_inventory_by_location_follows_the_pallet(client: TestClient, shipped: Chain) -> None:
    resp = client.get("/traceability/inventory", headers=shipped.plant.auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [loc["location"] for loc in body["locations"]] == [docs.WAREHOUSE]
    [stock] = body["locations"]
    epcs = {i["epc"]: i for i in stock["items"]}
    assert set(epcs) == {docs.SSCC, *docs.sgtins()}
    unit = epcs[docs.sgtins()[0]]
    assert unit["via_container"] == docs.SSCC and unit["lot"] == docs.LOT
    assert unit["gtin"] == docs.GTIN and unit["disposition"] == "in_progress"
    assert body["in_transit"] == []
    plant = client.get("/traceability/inventory", headers=shipped.plant.auth,
                       params={"location": docs.PLANT}).json()
    assert plant["locations"] == []
    by_lot = client.get(f"/traceability/lots/{docs.LOT}/inventory",
                        headers=shipped.plant.auth).json()
    assert {i["epc"] for i in by_lot["locations"][0]["items"]} == set(epcs)


def test_inventory_while_in_transit(client: TestClient, chain: Chain) -> None:
    chain.capture(client, chain.plant.auth, docs.plant_document())
    body = client.get("/traceability/inventory", headers=chain.plant.auth).json()
    assert body["locations"] == []
    assert {i["epc"] for i in body["in_transit"]} == {docs.SSCC, *docs.sgtins()}


@pytest.mark.parametrize(("params", "expected"), [
    ({"epc": docs.SSCC}, ["packing", "shipping", "transporting", "transporting", "receiving"]),
    ({"epc": docs.sgtins()[3]}, ["commissioning", "packing"]),
    ({"lot": docs.LOT}, ["commissioning", "packing", "shipping", "transporting",
                         "transporting", "receiving"]),
    ({"lot": docs.LOT, "biz_step": "transporting"}, ["transporting", "transporting"]),
    ({"location": docs.WAREHOUSE}, ["receiving"]),
    ({"location": docs.TRUCK}, ["transporting", "transporting"]),
    ({"since": "2026-03-02T09:00:00Z", "until": "2026-03-02T12:00:00Z"},
     ["transporting", "transporting"]),
    ({"gtin": docs.GTIN, "until": "2026-03-02T07:30:00Z"}, ["commissioning", "packing"]),
    ({"biz_step": "urn:epcglobal:cbv:bizstep:shipping"}, ["shipping"]),
    ({"lot": "NO-SUCH-LOT"}, []),
])
def test_event_queries_filter(client: TestClient, shipped: Chain, params: dict[str, str],
                              expected: list[str]) -> None:
    resp = client.get("/traceability/events", headers=shipped.plant.auth, params=params)
    assert resp.status_code == 200, resp.text
    assert [e["biz_step"] for e in resp.json()] == expected


def test_query_rejects_bad_gtin(client: TestClient, shipped: Chain) -> None:
    body = assert_problem(client.get("/traceability/events", headers=shipped.plant.auth,
                                     params={"gtin": "09520123456789"}), 422)
    assert body["errors"][0]["pointer"] == "/gtin"


def test_class_level_quantities_by_location(client: TestClient, chain: Chain) -> None:
    """Quantities of a lot (LGTIN): produced 1000, shipped 400, received, counted 390."""
    lgtin = "urn:epc:class:lgtin:9520123.045678.L2"

    def qty(n: float) -> list[dict[str, object]]:
        return [{"epcClass": lgtin, "quantity": n, "uom": "EA"}]

    chain.capture(client, chain.plant.auth, docs.document(
        docs.event("ObjectEvent", 0, "urn:uuid:q-1", action="ADD", bizStep="commissioning",
                   quantityList=qty(1000), bizLocation={"id": docs.PLANT}),
        docs.event("ObjectEvent", 2, "urn:uuid:q-2", action="OBSERVE", bizStep="shipping",
                   disposition="in_transit", quantityList=qty(400),
                   bizLocation={"id": docs.PLANT}),
    ))
    chain.capture(client, chain.distributor.auth, docs.document(
        docs.event("ObjectEvent", 9, "urn:uuid:q-3", action="OBSERVE", bizStep="receiving",
                   disposition="in_progress", quantityList=qty(400),
                   bizLocation={"id": docs.WAREHOUSE}),
    ))

    def stock() -> dict[str, float]:
        body = client.get("/traceability/lots/L2/inventory", headers=chain.plant.auth).json()
        return {loc["location"]: q["quantity"] for loc in body["locations"]
                for q in loc["quantities"] if q["epc"] == lgtin}

    assert stock() == {docs.PLANT: 600, docs.WAREHOUSE: 400}
    chain.capture(client, chain.distributor.auth, docs.document(
        docs.event("ObjectEvent", 30, "urn:uuid:q-4", action="OBSERVE", bizStep="cycle_counting",
                   disposition="sellable_not_accessible", quantityList=qty(390),
                   bizLocation={"id": docs.WAREHOUSE}),
    ))
    assert stock() == {docs.PLANT: 600, docs.WAREHOUSE: 390}
    # the outsider's view of the same lot: nothing
    assert_problem(client.get("/traceability/lots/L2/inventory",
                              headers=chain.outsider.auth), 404)


def test_event_captured_by_two_partners_counts_once(client: TestClient, shipped: Chain) -> None:
    """The plant also captures the carrier's document: one chain, one excursion of 3 readings."""
    receipt = shipped.capture(client, shipped.plant.auth, docs.carrier_document())
    assert receipt["stored"] == 2
    body = client.get(f"/traceability/lots/{docs.LOT}/custody", headers=shipped.plant.auth).json()
    assert len(body["events"]) == 6 and len(body["legs"]) == 1
    [exc] = client.get(f"/traceability/lots/{docs.LOT}/excursions",
                       headers=shipped.plant.auth).json()
    assert exc["readings"] == 3
