"""Versioning rules: every minor only adds optional fields (structural + behavioural checks)."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import Field

from standards import registry
from standards.base import ModelStandard, StandardModel
from standards.classification import Level, classified
from standards.compat import CompatibilityProblem
from tests.standards.helpers import load_fixture

PAIRS = registry.default_registry().minor_pairs()


def _instances(standard: Any) -> list[Any]:
    return standard.examples() + load_fixture(standard.id)["valid"]


def test_there_are_minor_pairs_to_check() -> None:
    assert ("sensor-reading/1.0.0", "sensor-reading/1.1.0") in [(a.id, b.id) for a, b in PAIRS]
    # 0.x is pre-release: batch-record 0.9.0 -> 1.0.0 is a major change, not checked as minor
    assert all(a.version_info[0] > 0 for a, _ in PAIRS)


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=lambda s: s.id)
def test_consecutive_minors_are_compatible(old: Any, new: Any) -> None:
    assert registry.check_minor_compatible(old, new, _instances(old)) == []


@pytest.mark.parametrize("name", registry.default_registry().names())
def test_family_versions_accept_earlier_minor_instances(name: str) -> None:
    """For every family in the catalog: each version's instances validate under every later
    minor of the same major (and under their own version)."""
    versions = registry.versions(name)
    for i, old in enumerate(versions):
        for instance in _instances(old):
            assert old.validate(instance).ok
            for new in versions[i + 1 :]:
                if new.version_info[0] == old.version_info[0] and old.version_info[0] > 0:
                    assert new.validate(instance).ok, (old.id, new.id, instance)


# --- the check itself can fail: deliberately broken "minors" ---------------------------------


class V1(StandardModel):
    """Probe 1.0.0"""

    a: int
    b: str | None = None
    kind: Literal["x", "y"] = "x"
    note: str | None = classified(Level.pii, default=None)
    size: int = Field(default=0, le=100)


class RemovesField(StandardModel):
    """Probe 1.1.0 without b"""

    a: int
    kind: Literal["x", "y"] = "x"
    note: str | None = classified(Level.pii, default=None)
    size: int = Field(default=0, le=100)


class RequiresField(V1):
    """Probe 1.1.0 with a newly required c and b now required"""

    b: str
    c: float


class ChangesType(V1):
    """Probe 1.1.0 with a as string"""

    a: str  # type: ignore[assignment]


class NarrowsEnum(V1):
    """Probe 1.1.0 dropping kind y"""

    kind: Literal["x"] = "x"


class Declassifies(V1):
    """Probe 1.1.0 lowering note to consortium"""

    note: str | None = None


class Tightens(V1):
    """Probe 1.1.0 with a stricter bound (structurally identical)"""

    size: int = Field(default=0, le=10)


class AddsOptional(V1):
    """Probe 1.1.0 adding an optional field"""

    d: int | None = None


def _check(
    new_model: type[StandardModel], instances: list[Any] | None = None
) -> list[CompatibilityProblem]:
    old = ModelStandard(V1, "probe", "1.0.0")
    new = ModelStandard(new_model, "probe", "1.1.0")
    return registry.check_minor_compatible(old, new, instances or [])


def _kinds(problems: list[CompatibilityProblem]) -> set[tuple[str, str]]:
    return {(p.kind, p.pointer) for p in problems}


def test_adding_an_optional_field_is_compatible() -> None:
    assert _check(AddsOptional, [{"a": 1}, {"a": 2, "b": "x", "kind": "y"}]) == []


def test_removed_property_is_reported() -> None:
    assert _kinds(_check(RemovesField)) == {("removed-property", "/b")}


def test_newly_required_properties_are_reported() -> None:
    assert _kinds(_check(RequiresField)) == {
        ("newly-required", "/b"),
        ("newly-required", "/c"),
        ("type-changed", "/b"),  # null is no longer accepted
    }


def test_changed_type_is_reported() -> None:
    assert _kinds(_check(ChangesType)) == {("type-changed", "/a")}


def test_narrowed_enum_is_reported() -> None:
    assert _kinds(_check(NarrowsEnum)) == {("enum-narrowed", "/kind")}


def test_lowered_classification_is_reported() -> None:
    assert _kinds(_check(Declassifies)) == {("classification-lowered", "/note")}


def test_behavioural_check_catches_what_the_schema_diff_cannot() -> None:
    assert _check(Tightens) == []  # bounds are not compared structurally
    problems = _check(Tightens, [{"a": 1, "size": 5}, {"a": 1, "size": 50}, {"a": "bad"}])
    assert _kinds(problems) == {("instance-rejected", "/size")}
    assert "instance 1" in problems[0].detail


def test_nested_changes_are_found() -> None:
    old, new = registry.get("sensor-reading", "1.1.0"), registry.get("sensor-reading", "1.0.0")
    # going "back" is not a minor at all
    assert [p.kind for p in registry.check_minor_compatible(old, new)] == ["not-a-minor"]
    from standards.compat import structural_problems

    removed = _kinds(structural_problems(old, new))
    assert ("removed-property", "/measurements/temperature/quality_flag") in removed
    assert ("removed-property", "/measurements/vibration/quality_flag") in removed


def test_other_family_or_major_is_not_a_minor() -> None:
    a = registry.get("sensor-reading", "1.0.0")
    b = registry.get("qc-inspection", "1.0.0")
    assert [p.kind for p in registry.check_minor_compatible(a, b)] == ["not-a-minor"]
    old, new = registry.get("batch-record", "0.9.0"), registry.get("batch-record", "1.0.0")
    assert [p.kind for p in registry.check_minor_compatible(old, new)] == ["not-a-minor"]
