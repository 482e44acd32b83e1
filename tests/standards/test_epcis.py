"""EPCIS 2.0 conformance: the published examples (20 accepted, 2 rejected naming the field)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from standards import registry
from standards.epcis import EPCISDocument, published_schema
from standards.epcis.models import AggregationEvent, ObjectEvent
from tests.standards.helpers import EPCIS_FIXTURES

REFERENCE = Path("/work/shared/reference/epcis")
INVALID = {
    "Example-TransactionEvents-2020_07_03y.jsonld": {
        "/epcisBody/eventList/1/sourceList",
        "/epcisBody/eventList/1/destinationList",
    },
    "WithFullCombinationOfFields__object_event_all_possible_fields.jsonld": {
        "/epcisBody/eventList/0/ilmd",
    },
}
FILES = sorted(p.name for p in EPCIS_FIXTURES.glob("*.jsonld"))
VALID = [f for f in FILES if f not in INVALID]


def _load(name: str) -> Any:
    return json.loads((EPCIS_FIXTURES / name).read_text(encoding="utf-8"))


def test_fixture_set_is_the_published_one() -> None:
    assert len(FILES) == 22
    assert len(VALID) == 20
    if REFERENCE.exists():  # copies are unchanged
        for name in FILES:
            original = (REFERENCE / "examples" / name).read_bytes()
            assert (EPCIS_FIXTURES / name).read_bytes() == original, name
        shipped = published_schema()
        assert shipped == json.loads((REFERENCE / "EPCIS-JSON-Schema.json").read_text())


@pytest.mark.parametrize("name", VALID)
def test_valid_example_is_accepted_with_typed_events(name: str) -> None:
    doc = _load(name)
    report = registry.get("epcis-document", "2.0.0").validate(doc)
    assert report.ok, report.errors
    assert isinstance(report.value, EPCISDocument)
    events = report.value.events
    assert len(events) == len(doc["epcisBody"]["eventList"])
    for event, raw in zip(events, doc["epcisBody"]["eventList"], strict=True):
        assert event.type == raw["type"]
        assert event.eventTimeZoneOffset == raw["eventTimeZoneOffset"]
        assert event.eventTime.tzinfo is not None


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_example_is_rejected_naming_the_field(name: str) -> None:
    report = registry.get("epcis-document", "2.0.0").validate(_load(name))
    assert not report.ok
    pointers = {e.pointer for e in report.errors}
    assert INVALID[name] <= pointers, report.errors
    field = next(iter(INVALID[name])).rsplit("/", 1)[-1]
    assert any(field in e.message or e.pointer.endswith(field) for e in report.errors)
    assert all(len(e.message) < 300 for e in report.errors)


def test_source_list_error_says_array_expected() -> None:
    report = registry.get("epcis-document", "2.0.0").validate(
        _load("Example-TransactionEvents-2020_07_03y.jsonld")
    )
    by_pointer = {e.pointer: e for e in report.errors}
    err = by_pointer["/epcisBody/eventList/1/sourceList"]
    assert err.type == "type"
    assert "array" in err.message


def test_sensor_elements_are_typed() -> None:
    report = registry.get("epcis-document", "2.0.0").validate(
        _load("WithSensorData__SensorDataExample1.jsonld")
    )
    assert report.ok
    event = report.value.events[0]
    assert isinstance(event, ObjectEvent)
    assert event.readPoint is not None and event.readPoint.id == "urn:epc:id:sgln:4012345.00005.0"
    first = event.sensorElementList[0]
    assert first.sensorMetadata is not None
    assert first.sensorMetadata.deviceID == "urn:epc:id:giai:4000001.111"
    temps = [
        (r.value, r.uom)
        for el in event.sensorElementList
        for r in el.sensorReport
        if r.type == "Temperature"
    ]
    assert temps == [(26.0, "CEL"), (26.1, "CEL"), (26.2, "CEL")]


def test_aggregation_children_and_quantities() -> None:
    report = registry.get("epcis-document", "2.0.0").validate(
        _load("WithSensorData__SensorDataExample8.jsonld")
    )
    assert report.ok
    event = report.value.events[0]
    assert isinstance(event, AggregationEvent)
    raw = _load("WithSensorData__SensorDataExample8.jsonld")["epcisBody"]["eventList"][0]
    assert event.parentID == raw["parentID"]
    assert [q.epcClass for q in event.quantities()] == [
        q["epcClass"] for q in raw["childQuantityList"]
    ]
    readings = [r for el in event.sensorElementList for r in el.sensorReport]
    assert any(
        r.minValue is not None or r.maxValue is not None or r.value is not None for r in readings
    )


def test_bare_event_and_extension_fields_are_kept() -> None:
    doc = _load("WithFullCombinationOfFields__transaction_event_all_possible_fields.jsonld")
    event = doc["epcisBody"]["eventList"][0]
    event["@context"] = doc["@context"]
    report = registry.get("epcis-document", "2.0.0").validate(event)
    assert report.ok, report.errors
    assert report.value.type == "TransactionEvent"
    assert report.value.model_extra["ext1:string"] == event["ext1:string"]


def test_every_violation_in_a_document_is_reported() -> None:
    doc = _load("Example_9.6.1-ObjectEvent.jsonld")
    for event in doc["epcisBody"]["eventList"]:
        del event["eventTime"]
    doc["epcisBody"]["eventList"][1]["bizStep"] = 17
    report = registry.get("epcis-document", "2.0.0").validate(doc)
    pointers = {e.pointer for e in report.errors}
    assert {
        "/epcisBody/eventList/0/eventTime",
        "/epcisBody/eventList/1/eventTime",
        "/epcisBody/eventList/1/bizStep",
    } <= pointers
