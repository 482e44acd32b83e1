"""EPCIS 2.0 documents for a cold-chain shipment: plant → carrier → distributor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
           {"cbvmda": "urn:epcglobal:cbv:mda:"}]
GTIN = "09520123456788"  # SGTIN urn:epc:id:sgtin:9520123.045678.<serial>
LOT = "LOT-2026-001"
SSCC = "urn:epc:id:sscc:9520123.0000000001"
PLANT = "urn:epc:id:sgln:9520123.00001.0"
PLANT_DOCK = "urn:epc:id:sgln:9520123.00001.7"
WAREHOUSE = "urn:epc:id:sgln:4012345.00001.0"
TRUCK = "urn:epc:id:giai:4000001.truck7"
PLANT_PARTY = "urn:epc:id:pgln:9520123.00000"
DISTRIBUTOR_PARTY = "urn:epc:id:pgln:4012345.00000"
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def sgtins(n: int = 10) -> list[str]:
    return [f"urn:epc:id:sgtin:9520123.045678.{1000 + i}" for i in range(n)]


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": iso(T0), "epcisBody": {"eventList": list(events)}}


def event(kind: str, hours: float, event_id: str | None, **fields: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": kind, "eventTime": iso(at(hours)),
                          "eventTimeZoneOffset": "+00:00"}
    if event_id:
        ev["eventID"] = event_id
    ev.update(fields)
    return ev


def temperatures(start_hours: float, values: list[float],
                 step_minutes: int = 30) -> list[dict[str, Any]]:
    """One sensor element with a temperature report every ``step_minutes``."""
    reports = [{"type": "Temperature", "value": v, "uom": "CEL",
                "time": iso(at(start_hours) + timedelta(minutes=step_minutes * i))}
               for i, v in enumerate(values)]
    return [{"sensorMetadata": {"deviceID": "urn:epc:id:giai:4000001.logger1"},
             "sensorReport": reports}]


def plant_document() -> dict[str, Any]:
    """Commission a lot of 10 units, pack them on a pallet, ship the pallet."""
    parties = {"sourceList": [{"type": "owning_party", "source": PLANT_PARTY},
                              {"type": "location", "source": PLANT}],
               "destinationList": [{"type": "owning_party", "destination": DISTRIBUTOR_PARTY},
                                   {"type": "location", "destination": WAREHOUSE}]}
    return document(
        event("ObjectEvent", 0, "urn:uuid:6f0e4b1e-0000-4000-8000-000000000001",
              action="ADD", bizStep="commissioning", disposition="active",
              epcList=sgtins(), readPoint={"id": PLANT}, bizLocation={"id": PLANT},
              ilmd={"cbvmda:lotNumber": LOT}),
        event("AggregationEvent", 1, "urn:uuid:6f0e4b1e-0000-4000-8000-000000000002",
              action="ADD", bizStep="packing", disposition="in_progress", parentID=SSCC,
              childEPCs=sgtins(), readPoint={"id": PLANT}, bizLocation={"id": PLANT}),
        event("ObjectEvent", 2, "urn:uuid:6f0e4b1e-0000-4000-8000-000000000003",
              action="OBSERVE", bizStep="shipping", disposition="in_transit", epcList=[SSCC],
              readPoint={"id": PLANT_DOCK}, bizLocation={"id": PLANT},
              bizTransactionList=[{"type": "desadv",
                                   "bizTransaction": "urn:epcglobal:cbv:bt:9520123000003:D1"}],
              sensorElementList=temperatures(2, [5.0]), **parties),
    )


def carrier_document() -> dict[str, Any]:
    """Two transport events; readings go above 8 °C between 10:00 and 11:00 (max 9.4)."""
    return document(
        event("ObjectEvent", 4.5, "urn:uuid:6f0e4b1e-0000-4000-8000-000000000004",
              action="OBSERVE", bizStep="transporting", disposition="in_transit",
              epcList=[SSCC], readPoint={"id": TRUCK},
              sensorElementList=temperatures(2.5, [5.1, 5.6, 6.0, 8.9, 9.4])),
        event("ObjectEvent", 6.0, "urn:uuid:6f0e4b1e-0000-4000-8000-000000000005",
              action="OBSERVE", bizStep="transporting", disposition="in_transit",
              epcList=[SSCC], readPoint={"id": TRUCK},
              sensorElementList=temperatures(5.0, [8.2, 7.0, 5.5])),
    )


def distributor_document() -> dict[str, Any]:
    """The distributor receives the pallet at its warehouse at 14:30."""
    return document(
        event("ObjectEvent", 8.5, "urn:uuid:6f0e4b1e-0000-4000-8000-000000000006",
              action="OBSERVE", bizStep="receiving", disposition="in_progress",
              epcList=[SSCC], readPoint={"id": WAREHOUSE}, bizLocation={"id": WAREHOUSE},
              sourceList=[{"type": "owning_party", "source": PLANT_PARTY}],
              destinationList=[{"type": "owning_party", "destination": DISTRIBUTOR_PARTY}]),
    )
