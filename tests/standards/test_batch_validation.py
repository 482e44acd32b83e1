"""Batch validation: the fast path gives the same per-record reports as one-by-one validation."""

from __future__ import annotations

import json
from typing import Any

from standards import registry
from standards.base import ModelStandard
from standards.report import loc_to_parts, pointer
from standards.schemas.sensor_reading import SensorReading


def _batch() -> list[Any]:
    good = registry.get("sensor-reading", "1.0.0").examples()
    bad1 = json.loads(json.dumps(good[0]))
    bad1["measurements"] = {}
    bad2 = json.loads(json.dumps(good[1]))
    bad2["equipment"]["site"] = "elsewhere"
    bad2["reading_id"] = "nope"
    return [good[0], bad1, good[1], bad2, "not an object", good[0]]


def _standard() -> ModelStandard:
    s = registry.get("sensor-reading", "1.0.0")
    assert isinstance(s, ModelStandard)
    return s


def test_validate_many_equals_validate_one_by_one() -> None:
    s = _standard()
    batch = _batch()
    many = s.validate_many(batch)
    single = [s.validate(r) if not isinstance(r, str) else s.validate_many([r])[0] for r in batch]
    assert [r.ok for r in many] == [True, False, True, False, False, True]
    assert [r.errors for r in many] == [r.errors for r in single]
    assert {e.pointer for e in many[1].errors} == {"/measurements"}
    assert {e.pointer for e in many[3].errors} == {"/reading_id"}  # site check needs a valid id
    assert [e.pointer for e in many[4].errors] == [""]
    for rep, raw in zip(many, batch, strict=True):
        if rep.ok:
            assert isinstance(rep.value, SensorReading)
            assert str(rep.value.reading_id) == raw["reading_id"]
        else:
            assert rep.value is None


def test_all_valid_batch_is_one_call() -> None:
    s = _standard()
    reports = s.validate_many(iter(s.examples() * 3))
    assert len(reports) == 6 and all(r.ok for r in reports)
    assert reports[0].value == SensorReading.model_validate(s.examples()[0])


def test_json_batch_from_bytes() -> None:
    s = _standard()
    batch = _batch()
    reports = s.validate_json_batch(json.dumps(batch).encode())
    assert [r.ok for r in reports] == [r.ok for r in s.validate_many(batch)]
    assert [r.errors for r in reports] == [r.errors for r in s.validate_many(batch)]
    assert all(r.ok for r in s.validate_json_batch(json.dumps(s.examples())))
    (not_list,) = s.validate_json_batch(b'{"a": 1}')
    assert [(e.pointer, e.type) for e in not_list.errors] == [("", "list_type")]
    (broken,) = s.validate_json_batch(b"[{")
    assert broken.errors[0].type == "json_invalid"


def test_epcis_validate_many() -> None:
    s = registry.get("epcis-document", "2.0.0")
    reports = s.validate_many([*s.examples(), {"type": "EPCISDocument"}])
    assert [r.ok for r in reports] == [True, True, False]
    assert {e.pointer for e in reports[2].errors} >= {"/@context", "/epcisBody"}


def test_pointers_follow_rfc6901() -> None:
    assert pointer(["a/b", "m~n", 0, ""]) == "/a~1b/m~0n/0/"
    assert pointer([]) == ""
    # union/tag segments in a pydantic loc are not keys of the instance and are dropped
    inst = {"events": [{"type": "ObjectEvent", "x": 1}]}
    assert loc_to_parts(("events", 0, "ObjectEvent", "x"), inst) == ["events", 0, "x"]
    assert loc_to_parts(("events", 0, "missing"), inst) == ["events", 0, "missing"]


def test_extra_key_with_slash_is_escaped() -> None:
    s = _standard()
    bad = s.examples()[0]
    bad["a/b~c"] = 1
    (err,) = s.validate(bad).errors
    assert err.pointer == "/a~1b~0c" and err.type == "extra_forbidden"
