"""Valid and invalid fixtures for every standard: each error names exactly the offending fields."""

from __future__ import annotations

from typing import Any

import pytest

from standards import registry
from tests.standards.helpers import FIXTURES, apply_patch, load_fixture

IDS = [s.id for s in registry.default_registry().standards()]


def _valid_cases() -> list[Any]:
    cases = []
    for sid in IDS:
        standard = registry.get_by_id(sid)
        for i, inst in enumerate(standard.examples()):
            cases.append(pytest.param(sid, inst, id=f"{sid}-example{i}"))
        for i, inst in enumerate(load_fixture(sid)["valid"]):
            cases.append(pytest.param(sid, inst, id=f"{sid}-fixture{i}"))
    return cases


def _invalid_cases() -> list[Any]:
    return [
        pytest.param(sid, case, id=f"{sid}-{case['name']}")
        for sid in IDS
        for case in load_fixture(sid)["invalid"]
    ]


def test_every_standard_has_fixtures_with_invalid_cases() -> None:
    names = {p.stem for p in FIXTURES.glob("*.json")}
    for sid in IDS:
        name, version = sid.split("/")
        assert f"{name}-{version}" in names
        assert load_fixture(sid)["invalid"], f"{sid} has no invalid fixtures"
        assert registry.get_by_id(sid).examples(), f"{sid} ships no example"


@pytest.mark.parametrize(("sid", "instance"), _valid_cases())
def test_valid_instance_is_accepted(sid: str, instance: dict[str, Any]) -> None:
    report = registry.get_by_id(sid).validate(instance)
    assert report.ok, report.errors
    assert report.value is not None
    assert report.schema_id == sid


@pytest.mark.parametrize(("sid", "case"), _invalid_cases())
def test_invalid_instance_names_every_offending_field(sid: str, case: dict[str, Any]) -> None:
    standard = registry.get_by_id(sid)
    base = standard.examples()[0]
    assert standard.validate(base).ok
    report = standard.validate(apply_patch(base, case["patch"]))
    assert not report.ok
    assert report.value is None
    assert sorted({e.pointer for e in report.errors}) == sorted(case["expect"]), report.errors
    assert all(e.message and e.type for e in report.errors)


@pytest.mark.parametrize("sid", IDS)
def test_json_text_is_accepted_and_bad_json_reported(sid: str) -> None:
    import json

    standard = registry.get_by_id(sid)
    example = standard.examples()[0]
    assert standard.validate(json.dumps(example)).ok
    assert standard.validate(json.dumps(example).encode()).ok
    bad = standard.validate('{"unterminated": ')
    assert [(e.pointer, e.type) for e in bad.errors] == [("", "json_invalid")]
