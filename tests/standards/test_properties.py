"""Property: the shareable projection of ANY instance of each schema holds no recipe/pii field."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import example as seed_example
from hypothesis import strategies as st

from standards import registry
from standards.base import ModelStandard
from standards.classification import Level, sensitive_paths, shareable_projection
from tests.standards.helpers import (
    EPCIS_FIXTURES,
    leaf_paths,
    restricted_patterns,
    schema_strategy,
)

MODEL_STANDARDS = [
    s for s in registry.default_registry().standards() if isinstance(s, ModelStandard)
]
PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) >= len(pattern) and all(
        p == "*" or p == q for p, q in zip(pattern, path, strict=False)
    )


def test_oracle_sees_the_restricted_fields() -> None:
    batch = registry.get("batch-record", "1.0.0")
    assert isinstance(batch, ModelStandard)
    restricted = restricted_patterns(batch.model)
    assert {("formulation",), ("released_by",), ("phases", "*", "operators")} <= restricted


@pytest.mark.parametrize("standard", MODEL_STANDARDS, ids=lambda s: s.id)
def test_projection_never_contains_recipe_or_pii(standard: ModelStandard) -> None:
    schema = standard.json_schema()
    restricted = restricted_patterns(standard.model)
    leaked_marks = {Level.recipe.value, Level.pii.value}
    seen_restricted: list[int] = []

    @PROFILE
    @given(
        instance=schema_strategy(schema),
        limit=st.sampled_from(["public", "consortium", "confidential"]),
    )
    def check(instance: dict[str, Any], limit: str) -> None:
        if sensitive_paths(standard.id, instance, "recipe"):
            seen_restricted.append(1)
        shared = shareable_projection(standard.id, instance, max_level=limit)
        paths = leaf_paths(shared)
        # independent oracle: restricted fields read from the pydantic classes
        assert not [p for p in paths for pat in restricted if _matches(p, pat)]
        # and the JSON-Schema walker agrees there is nothing at recipe level or above
        assert sensitive_paths(standard.id, shared, "recipe") == []
        assert not leaked_marks & set(_values_of_marks(shared))
        # projecting again changes nothing; projection only ever removes members
        assert shareable_projection(standard.id, shared, max_level=limit) == shared
        assert set(paths) <= set(leaf_paths(instance))

    # the shipped examples carry the restricted fields, so every run exercises them at least
    # once, whatever the generator draws
    for shipped in standard.examples():
        check = seed_example(instance=shipped, limit="confidential")(check)
    check()
    if restricted:  # recipe/pii fields were present in what was projected
        assert seen_restricted


def _values_of_marks(value: Any) -> list[str]:
    """Values of any member literally named like a classification mark (must not survive)."""
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "x-classification" and isinstance(v, str):
                out.append(v)
            out += _values_of_marks(v)
    elif isinstance(value, list):
        for v in value:
            out += _values_of_marks(v)
    return out


@pytest.mark.parametrize("standard", MODEL_STANDARDS, ids=lambda s: s.id)
def test_projection_keeps_what_may_be_shared(standard: ModelStandard) -> None:
    """Completeness: at consortium level every example field the oracle allows is kept."""
    restricted = restricted_patterns(standard.model, frozenset({"confidential", "recipe", "pii"}))
    for example in standard.examples():
        shared = shareable_projection(standard.id, example)
        allowed = [p for p in leaf_paths(example) if not any(_matches(p, r) for r in restricted)]
        assert set(allowed) == set(leaf_paths(shared))


EPCIS_VALID = sorted(EPCIS_FIXTURES.glob("*.jsonld"))


@PROFILE
@given(
    name=st.sampled_from(EPCIS_VALID),
    seed=st.integers(0, 2**32 - 1),
    keys=st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz:", min_size=1, max_size=10), max_size=5
    ),
)
def test_epcis_projection_never_contains_extensions_or_lot_data(
    name: Any, seed: int, keys: list[str]
) -> None:
    doc = json.loads(name.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = []

    def collect(v: Any) -> None:
        if isinstance(v, dict):
            objects.append(v)
            for sub in v.values():
                collect(sub)
        elif isinstance(v, list):
            for sub in v:
                collect(sub)

    collect(doc["epcisBody"])
    planted = []
    for key in keys:
        target = rng.choice(objects)
        if key not in target:
            target[key] = "CANARY-" + key
            planted.append(key)
    shared = shareable_projection("epcis-document/2.0.0", doc)
    text = json.dumps(shared)
    for key in planted:
        if key not in _DECLARED:  # an undeclared (extension) member never survives
            assert json.dumps("CANARY-" + key) not in text
    for event in shared["epcisBody"].get("eventList", []):
        assert "ilmd" not in event
        assert event.get("bizTransactionList", []) == []
    assert sensitive_paths("epcis-document/2.0.0", shared, "confidential") == []


def _declared_keys() -> set[str]:
    from standards.epcis import published_schema

    found: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            found.update((v.get("properties") or {}).keys())
            for sub in v.values():
                walk(sub)
        elif isinstance(v, list):
            for sub in v:
                walk(sub)

    walk(published_schema())
    return found


_DECLARED = _declared_keys()
