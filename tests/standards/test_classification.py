"""Field classification: x-classification in every schema, sensitive paths, shareable projection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from standards import registry
from standards.classification import (
    KEY,
    Level,
    SchemaIndex,
    classified,
    sensitive_paths,
    shareable_projection,
)
from standards.schemas.batch_record import BatchRecord

BATCH = "batch-record/1.0.0"


def _properties(node: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every (name, schema) found under a `properties` keyword anywhere in a schema document."""
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict):
                out.append((name, sub))
        for key, sub in node.items():
            if key != "if":
                out += _properties(sub)
    elif isinstance(node, list):
        for sub in node:
            out += _properties(sub)
    return out


@pytest.mark.parametrize("sid", [s.id for s in registry.default_registry().standards()])
def test_every_field_carries_a_classification(sid: str) -> None:
    props = _properties(registry.get_by_id(sid).json_schema())
    assert props
    missing = [name for name, sub in props if KEY not in sub]
    assert not missing
    assert {sub[KEY] for _, sub in props} <= {lvl.value for lvl in Level}


def test_levels_are_ordered() -> None:
    assert [lvl.value for lvl in sorted(Level, key=lambda lvl: lvl.rank)] == [
        "public",
        "consortium",
        "confidential",
        "recipe",
        "pii",
    ]


def test_batch_record_json_schema_marks_recipe_and_people() -> None:
    schema = registry.get("batch-record", "1.0.0").json_schema()
    props = schema["properties"]
    assert props["formulation"][KEY] == "recipe"
    assert props["released_by"][KEY] == "pii"
    assert props["batch_id"][KEY] == "consortium"  # the default for unmarked fields
    assert schema["$defs"]["Formulation"][KEY] == "recipe"
    assert schema["$defs"]["PersonRef"][KEY] == "pii"
    assert schema["$defs"]["Phase"]["properties"]["operators"][KEY] == "pii"
    # a nested model's fields inherit the class-level mark in the export
    assert schema["$defs"]["PersonRef"]["properties"]["person_id"][KEY] == "pii"


def test_sensitive_paths_of_a_batch_record() -> None:
    batch = registry.get("batch-record", "1.0.0").examples()[0]
    assert sensitive_paths(BATCH, batch, "pii") == [
        "/phases/0/operators",
        "/phases/1/operators",
        "/released_by",
    ]
    assert sensitive_paths(BATCH, batch, Level.recipe) == [
        "/formulation",
        "/phases/0/operators",
        "/phases/1/operators",
        "/released_by",
    ]
    assert sensitive_paths(BATCH, batch, "confidential") == [
        "/master_recipe",
        "/formulation",
        "/phases/0/operators",
        "/phases/1/operators",
        "/released_by",
        "/notes",
    ]


def test_sensitive_paths_skip_absent_fields() -> None:
    batch = registry.get("batch-record", "1.0.0").examples()[0]
    del batch["formulation"], batch["released_by"]
    for phase in batch["phases"]:
        phase["operators"] = []
    assert sensitive_paths(BATCH, batch, "recipe") == ["/phases/0/operators", "/phases/1/operators"]


def test_projection_removes_recipe_people_and_confidential_fields() -> None:
    batch = registry.get("batch-record", "1.0.0").examples()[0]
    batch["formulation"]["ingredients"][0]["name"] = "CANARY-RECIPE-7f3a"
    batch["phases"][0]["operators"][0]["name"] = "CANARY-OPERATOR-19c2"
    shared = shareable_projection(BATCH, batch)
    text = json.dumps(shared)
    assert "CANARY" not in text
    assert set(shared) == set(batch) - {"formulation", "released_by", "master_recipe", "notes"}
    assert all("operators" not in phase for phase in shared["phases"])
    assert shared["phases"][0]["parameters"] == batch["phases"][0]["parameters"]
    assert sensitive_paths(BATCH, shared, "confidential") == []
    # the input is not modified
    assert batch["formulation"]["ingredients"][0]["name"] == "CANARY-RECIPE-7f3a"


def test_projection_at_confidential_keeps_business_data_but_no_people() -> None:
    batch = registry.get("batch-record", "1.0.0").examples()[0]
    shared = shareable_projection(BATCH, batch, max_level="confidential")
    assert shared["master_recipe"] == batch["master_recipe"]
    assert "formulation" not in shared and "released_by" not in shared


def test_projection_refuses_levels_that_would_share_recipes_or_people() -> None:
    batch = registry.get("batch-record", "1.0.0").examples()[0]
    for level in ("recipe", "pii"):
        with pytest.raises(ValueError, match="recipe or personal data"):
            shareable_projection(BATCH, batch, max_level=level)
    with pytest.raises(ValueError, match="unknown classification level"):
        shareable_projection(BATCH, batch, max_level="secret")


def test_undeclared_fields_never_leave() -> None:
    reading = registry.get("sensor-reading", "1.0.0").examples()[0]
    reading["operator_note"] = "call Anna on +41 79 000 00 00"
    reading["measurements"]["temperature"]["raw_adc"] = 1234
    shared = shareable_projection("sensor-reading/1.0.0", reading)
    assert "operator_note" not in shared
    assert "raw_adc" not in shared["measurements"]["temperature"]
    assert shared["measurements"]["temperature"] == {"value": 21.4, "unit": "Cel"}
    assert sensitive_paths("sensor-reading/1.0.0", reading, "confidential") == [
        "/measurements/temperature/raw_adc",
        "/operator_note",
    ]


def test_sensor_reading_is_fully_shareable() -> None:
    reading = registry.get("sensor-reading", "1.0.0").examples()[0]
    assert shareable_projection("sensor-reading/1.0.0", reading) == reading


def test_model_instances_are_accepted() -> None:
    report = registry.get("batch-record", "1.0.0").validate(
        registry.get("batch-record", "1.0.0").examples()[0]
    )
    assert isinstance(report.value, BatchRecord)
    shared = shareable_projection(BATCH, report.value)
    assert "yield" in shared and "formulation" not in shared


def test_epcis_overlay() -> None:
    from tests.standards.helpers import EPCIS_FIXTURES

    doc = json.loads(
        (
            EPCIS_FIXTURES
            / "WithFullCombinationOfFields__aggregation_event_all_possible_fields.jsonld"
        ).read_text()
    )
    sid = "epcis-document/2.0.0"
    paths = sensitive_paths(sid, doc, "confidential")
    assert "/epcisBody/eventList/0/bizTransactionList/0" in paths
    assert "/epcisBody/eventList/0/ext1:string" in paths  # user extension field
    assert not [p for p in paths if p.startswith("/@context")]
    shared = shareable_projection(sid, doc)
    event = shared["epcisBody"]["eventList"][0]
    assert event["bizTransactionList"] == []
    assert not [k for k in event if k.startswith("ext1:")]
    assert event["sensorElementList"]
    assert event["eventTime"] == doc["epcisBody"]["eventList"][0]["eventTime"]
    assert shared["@context"] == doc["@context"]


def test_ilmd_is_confidential() -> None:
    from tests.standards.helpers import EPCIS_FIXTURES

    doc = json.loads(
        (
            EPCIS_FIXTURES
            / "WithFullCombinationOfFields__transformation_event_all_possible_fields.jsonld"
        ).read_text()
    )
    assert "ilmd" in doc["epcisBody"]["eventList"][0]
    assert "/epcisBody/eventList/0/ilmd" in sensitive_paths(
        "epcis-document/2.0.0", doc, "confidential"
    )
    shared = shareable_projection("epcis-document/2.0.0", doc)
    assert "ilmd" not in shared["epcisBody"]["eventList"][0]


def test_walker_inherits_parent_level_and_handles_unions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"anyOf": [{"$ref": "#/$defs/Secret"}, {"type": "null"}]},
            "b": {"type": "array", "items": {"type": "object", "properties": {"c": {}}}},
            "m": {"type": "object", "additionalProperties": {"type": "number"}},
        },
        "$defs": {
            "Secret": {
                "x-classification": "recipe",
                "properties": {"x": {"x-classification": "public"}},
            }
        },
    }
    index = SchemaIndex(schema)
    from standards.classification import iter_sensitive, project

    inst = {"a": {"x": 1}, "b": [{"c": 1, "d~/": 2}], "m": {"k1": 1.0}}
    assert list(iter_sensitive(index, inst, Level.recipe)) == ["/a"]
    assert list(iter_sensitive(index, inst, Level.confidential)) == ["/a", "/b/0/d~0~1"]
    assert project(index, inst, Level.consortium) == {"b": [{"c": 1}], "m": {"k1": 1.0}}


def test_classified_helper_sets_the_mark() -> None:
    from pydantic import BaseModel

    class Example(BaseModel):
        secret: str = classified("recipe", description="d")

    prop = Example.model_json_schema()["properties"]["secret"]
    assert prop[KEY] == "recipe" and prop["description"] == "d"
    with pytest.raises(ValueError):
        classified("top-secret")
