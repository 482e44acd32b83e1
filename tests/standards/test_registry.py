"""Registry API: catalog, lookup, latest, ids, deprecation, exported JSON Schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from standards import registry
from standards.base import ModelStandard, StandardInfo
from standards.registry import InvalidStandardId, Registry, UnknownStandard

EXPECTED = {
    "sensor-reading/1.0.0",
    "sensor-reading/1.1.0",
    "batch-record/0.9.0",
    "batch-record/1.0.0",
    "qc-inspection/1.0.0",
    "maintenance-work-order/1.0.0",
    "epcis-document/2.0.0",
    "molecule-submission/1.0.0",
    "compliance-report/1.0.0",
    "training-record/1.0.0",
    "model-evaluation-indicators/1.0.0",
    "equipment-performance-test/1.0.0",
}


def test_catalog_lists_every_standard() -> None:
    catalog = registry.catalog()
    assert all(isinstance(i, StandardInfo) for i in catalog)
    assert {i.id for i in catalog} == EXPECTED
    by_id = {i.id: i for i in catalog}
    assert by_id["batch-record/1.0.0"].classification["recipe"] > 0
    assert by_id["batch-record/1.0.0"].restricted_fields["/formulation"] == "recipe"
    assert by_id["training-record/1.0.0"].restricted_fields["/person"] == "pii"
    assert by_id["sensor-reading/1.0.0"].restricted_fields == {}
    assert by_id["epcis-document/2.0.0"].restricted_fields["/epcisBody/eventList/*/ilmd"] == (
        "confidential"
    )
    assert all(i.title and i.description for i in catalog)
    assert by_id["sensor-reading/1.0.0"].model_dump()["name"] == "sensor-reading"


def test_get_and_ids() -> None:
    s = registry.get("sensor-reading", "1.0.0")
    assert s.id == "sensor-reading/1.0.0"
    assert registry.get_by_id("sensor-reading/1.0.0") is s
    assert registry.parse_id("sensor-reading/1.0.0") == ("sensor-reading", "1.0.0")


def test_unknown_standard_carries_name_and_version() -> None:
    with pytest.raises(UnknownStandard) as err:
        registry.get("sensor-reading", "7.0.0")
    assert (err.value.name, err.value.version) == ("sensor-reading", "7.0.0")
    with pytest.raises(UnknownStandard) as err2:
        registry.latest("no-such-thing")
    assert err2.value.name == "no-such-thing" and err2.value.version is None
    assert isinstance(err.value, LookupError)


@pytest.mark.parametrize(
    "bad", ["sensor-reading", "sensor-reading/1.0", "Sensor/1.0.0", "x/1.0.0.0", "/1.0.0", ""]
)
def test_parse_id_rejects_malformed_ids(bad: str) -> None:
    with pytest.raises(InvalidStandardId):
        registry.parse_id(bad)


def test_latest_prefers_newest_current_version() -> None:
    assert registry.latest("sensor-reading").version == "1.1.0"
    assert registry.latest("batch-record").version == "1.0.0"
    assert registry.latest("epcis-document").id == "epcis-document/2.0.0"


def test_deprecated_version_still_validates_and_names_successor() -> None:
    old = registry.get("batch-record", "0.9.0")
    assert old.deprecated and old.superseded_by == "batch-record/1.0.0"
    info = old.info()
    assert info.deprecated and info.superseded_by == "batch-record/1.0.0"
    assert old.validate(old.examples()[0]).ok
    schema = old.json_schema()
    assert schema["deprecated"] is True
    assert schema["x-superseded-by"] == "batch-record/1.0.0"
    assert registry.default_registry().integrity_problems() == []


def test_registry_guards_ids_and_successors() -> None:
    from standards.schemas.sensor_reading import SensorReading

    reg = Registry()
    reg.register(ModelStandard(SensorReading, "probe", "1.0.0"))
    with pytest.raises(ValueError, match="already registered"):
        reg.register(ModelStandard(SensorReading, "probe", "1.0.0"))
    reg.register(
        ModelStandard(SensorReading, "probe", "0.1.0", deprecated=True, superseded_by="probe/9.9.9")
    )
    assert reg.integrity_problems() == [
        "probe/0.1.0: superseded_by 'probe/9.9.9' is not registered"
    ]
    with pytest.raises(ValueError, match="names its successor"):
        ModelStandard(SensorReading, "probe", "0.2.0", deprecated=True)
    with pytest.raises(ValueError, match="semantic version"):
        ModelStandard(SensorReading, "probe", "1.0")
    with pytest.raises(ValueError, match="kebab"):
        ModelStandard(SensorReading, "Probe_X", "1.0.0")


@pytest.mark.parametrize("sid", sorted(EXPECTED))
def test_exported_schema_is_valid_and_agrees_with_the_model(sid: str) -> None:
    standard = registry.get_by_id(sid)
    schema = standard.json_schema()
    assert schema["x-standard"] == {"name": standard.name, "version": standard.version}
    validator_cls: Any = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    for example in standard.examples():
        assert not list(validator.iter_errors(example))
    # a copy: callers cannot corrupt the registry's schema
    schema["properties"] = {}
    assert standard.json_schema()["properties"]


def test_json_schema_rejects_what_the_model_rejects_structurally() -> None:
    standard = registry.get("sensor-reading", "1.0.0")
    validator = jsonschema.Draft202012Validator(standard.json_schema())
    bad = standard.examples()[0]
    bad["measurements"]["temperature"]["unit"] = "F"
    bad["extra"] = 1
    assert not standard.validate(bad).ok
    # Optional[Temperature] is an anyOf, so jsonschema reports at the measurement itself
    assert {tuple(e.absolute_path) for e in validator.iter_errors(bad)} == {
        ("measurements", "temperature"),
        (),
    }
