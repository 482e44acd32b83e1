"""GS1 identifiers, CBV names, the event hash and excursion windows on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.traceability.custody import build_legs
from hub.traceability.eventhash import event_hash
from hub.traceability.excursions import TempReading, find_excursions
from hub.traceability.identifiers import (
    cbv_short,
    gs1_check_digit,
    normalize_gtin,
    product_key,
    to_celsius,
)
from hub.traceability.models import TraceEvent
from hub.traceability.products import DEFAULT_RANGE, AllowedRange


@pytest.mark.parametrize(("epc", "gtin", "lot", "serial"), [
    ("urn:epc:id:sgtin:9520123.045678.1001", "09520123456788", None, "1001"),
    ("urn:epc:class:lgtin:4012345.012345.998877", "04012345123456", "998877", None),
    ("urn:epc:idpat:sgtin:4012345.098765.*", "04012345987652", None, None),
    ("https://id.gs1.org/01/09520123456788/10/AB%2F12/21/7", "09520123456788", "AB/12", "7"),
    ("urn:epc:id:sscc:9520123.0000000001", None, None, None),
    ("urn:epc:id:sgtin:9520123.04567.1", None, None, None),  # 12 digits: not a GTIN
])
def test_product_key(epc: str, gtin: str | None, lot: str | None, serial: str | None) -> None:
    key = product_key(epc)
    assert (key.gtin, key.lot, key.serial) == (gtin, lot, serial)


def test_gtin_check_digits() -> None:
    assert gs1_check_digit("0952012345678") == "8"
    assert normalize_gtin("9520123456788") == "09520123456788"
    assert normalize_gtin("09520123456787") is None
    assert normalize_gtin("95201234567") is None


@pytest.mark.parametrize("spelling", [
    "shipping", "urn:epcglobal:cbv:bizstep:shipping", "https://ref.gs1.org/cbv/BizStep-shipping",
    "cbv:BizStep-shipping",
])
def test_cbv_spellings(spelling: str) -> None:
    assert cbv_short(spelling) == "shipping"


def test_temperature_units() -> None:
    assert to_celsius(46.4, "FAH") == pytest.approx(8.0)
    assert to_celsius(281.15, "KEL") == pytest.approx(8.0)
    assert to_celsius(8.0, "CEL") == 8.0
    assert to_celsius(8.0, "A93") is None


EVENT: dict[str, object] = {
    "type": "ObjectEvent", "eventTime": "2026-03-02T08:00:00.000Z",
    "eventTimeZoneOffset": "+01:00", "action": "OBSERVE", "bizStep": "shipping",
    "epcList": ["urn:epc:id:sgtin:9520123.045678.1", "urn:epc:id:sgtin:9520123.045678.2"],
    "readPoint": {"id": "urn:epc:id:sgln:9520123.00001.0"},
    "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 5.0,
                                             "uom": "CEL"}]}],
}


def test_event_hash_is_stable_across_notations() -> None:
    same = {**EVENT, "eventTime": "2026-03-02T09:00:00+01:00",
            "epcList": ["urn:epc:id:sgtin:9520123.045678.2", "urn:epc:id:sgtin:9520123.045678.1"]}
    assert event_hash(same) == event_hash(EVENT)
    assert event_hash({**EVENT, "recordTime": "2026-03-03T00:00:00Z"}) == event_hash(EVENT)
    assert event_hash(EVENT).startswith("ni:///sha-256;")


@pytest.mark.parametrize("change", [
    {"action": "ADD"}, {"bizStep": "receiving"},
    {"epcList": ["urn:epc:id:sgtin:9520123.045678.1"]},
    {"eventTime": "2026-03-02T08:00:00.001Z"},
    {"sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 5.5,
                                              "uom": "CEL"}]}]},
    {"ext:note": "an extension field counts too"},
])
def test_event_hash_changes_with_content(change: dict[str, object]) -> None:
    assert event_hash({**EVENT, **change}) != event_hash(EVENT)


T = datetime(2026, 3, 2, tzinfo=UTC)


def reading(minutes: int, value: float, event: str = "e1") -> TempReading:
    t = T + timedelta(minutes=minutes)
    return TempReading(t, t, value, value, event)


def test_consecutive_out_of_range_readings_form_one_window() -> None:
    readings = [reading(0, 5), reading(10, 8.5), reading(20, 9.1, "e2"), reading(30, 7.9),
                reading(40, 1.5), reading(50, 4)]
    high, low = find_excursions(readings, DEFAULT_RANGE, gtin="g", lot="l")
    assert (high.start, high.end) == (T + timedelta(minutes=10), T + timedelta(minutes=20))
    assert (high.max_celsius, high.readings, high.direction) == (9.1, 2, "high")
    assert high.event_ids == ["e1", "e2"] and high.duration_seconds == 600
    assert (low.start, low.direction, low.min_celsius) == (T + timedelta(minutes=40), "low",
                                                          1.5)


def test_range_bounds_are_allowed_and_aggregates_use_min_max() -> None:
    assert find_excursions([reading(0, 2.0), reading(1, 8.0)], DEFAULT_RANGE,
                           gtin=None, lot=None) == []
    window = TempReading(T, T + timedelta(hours=2), 3.0, 12.0, "agg")
    [exc] = find_excursions([window], AllowedRange(2, 10, "product"), gtin=None, lot=None)
    assert exc.end - exc.start == timedelta(hours=2) and exc.max_celsius == 12.0


def _ev(pk: str, hours: int, step: str, location: str | None = None,
        destinations: list[dict[str, str]] | None = None) -> TraceEvent:
    return TraceEvent(id=pk, org_id="o", capture_id="c", event_id=pk, id_source="declared",
                      event_type="ObjectEvent", event_time=T + timedelta(hours=hours),
                      biz_step=step, biz_location=location, destinations=destinations or [])


def test_legs_pair_shipments_by_shared_identifiers() -> None:
    events = [_ev("s1", 0, "shipping", "A"), _ev("s2", 1, "shipping", "A"),
              _ev("t2", 2, "transporting"), _ev("r2", 3, "receiving", "C"),
              _ev("r1", 4, "receiving", "B")]
    epcs = {"s1": {"p1"}, "s2": {"p2"}, "t2": {"p2"}, "r2": {"p2"}, "r1": {"p1"}}
    first, second = build_legs(events, epcs)
    assert (first.outbound and first.outbound.id, first.inbound and first.inbound.id) == (
        "s1", "r1")
    assert first.duration_seconds == 4 * 3600 and first.transport == []
    assert [e.id for e in second.transport] == ["t2"] and second.duration_seconds == 2 * 3600


def test_receiving_without_shared_ids_matches_declared_destination() -> None:
    dest = [{"type": "location", "id": "C"}]
    events = [_ev("s1", 0, "shipping", "A", [{"type": "location", "id": "B"}]),
              _ev("s2", 0, "shipping", "A", dest), _ev("r", 5, "receiving", "C")]
    legs = build_legs(events, {"s1": {"x"}, "s2": {"y"}, "r": {"z"}})
    assert [leg.inbound is not None for leg in legs] == [False, True]
