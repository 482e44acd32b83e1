"""Test helpers: JSON Patch for fixtures, instance strategies from JSON Schema, model oracle."""

from __future__ import annotations

import copy
import json
import types
import typing
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

FIXTURES = Path(__file__).parent / "fixtures"
EPCIS_FIXTURES = Path(__file__).parent.parent / "fixtures" / "epcis"


def load_fixture(schema_id: str) -> dict[str, Any]:
    """`fixtures/NAME-VERSION.json`: {"valid": [...], "invalid": [{name, patch, expect}]}."""
    name, version = schema_id.split("/")
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}-{version}.json").read_text())
    return data


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def apply_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """Apply RFC 6902 `add` / `replace` / `remove` operations to a copy of `doc`."""
    out = copy.deepcopy(doc)
    for op in ops:
        *parents, last = _tokens(op["path"])
        target = out
        for tok in parents:
            target = target[int(tok)] if isinstance(target, list) else target[tok]
        if isinstance(target, list):
            index = len(target) if last == "-" else int(last)
            if op["op"] == "remove":
                del target[index]
            elif op["op"] == "add":
                target.insert(index, op["value"])
            else:
                target[index] = op["value"]
        elif op["op"] == "remove":
            del target[last]
        else:
            if op["op"] == "replace" and last not in target:
                raise KeyError(f"replace of a missing member {op['path']}")
            target[last] = op["value"]
    return out


# --- instances generated from a JSON Schema --------------------------------------------------

_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:/~", min_size=1, max_size=12)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False),
)


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    target: Any = root
    for tok in _tokens(ref[1:]):
        target = target[tok]
    return typing.cast(dict[str, Any], target)


def schema_strategy(
    root: dict[str, Any], schema: dict[str, Any] | None = None, depth: int = 0, extras: bool = True
) -> st.SearchStrategy[Any]:
    """Instances shaped by a JSON Schema (constraints loosely honoured) plus undeclared keys."""
    schema = root if schema is None else schema
    if "$ref" in schema:
        return schema_strategy(root, _resolve(root, schema["$ref"]), depth, extras)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([schema_strategy(root, s, depth, extras) for s in schema[key]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _object(root, schema, depth, extras)
    if kind == "array":
        items = schema.get("items", {})
        inner = schema_strategy(root, items, depth + 1, extras) if items else _SCALARS
        return st.lists(inner, min_size=schema.get("minItems", 0), max_size=3)
    if kind == "string":
        if schema.get("format") == "date-time":
            return st.datetimes().map(lambda d: d.isoformat() + "Z")
        if schema.get("format") == "date":
            return st.dates().map(lambda d: d.isoformat())
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(min_size=schema.get("minLength", 0), max_size=30)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(10**6)), schema.get("maximum", 10**6))
    if kind == "number":
        return st.floats(schema.get("minimum", -1e6), schema.get("maximum", 1e6), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return _SCALARS


def _object(
    root: dict[str, Any], schema: dict[str, Any], depth: int, extras: bool
) -> st.SearchStrategy[dict[str, Any]]:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    if depth > 6:
        required_only = {k: v for k, v in props.items() if k in required}
        props, required = required_only, set(required_only)
    req = {
        k: schema_strategy(root, v, depth + 1, extras) for k, v in props.items() if k in required
    }
    opt = {
        k: schema_strategy(root, v, depth + 1, extras)
        for k, v in props.items()
        if k not in required
    }
    base = st.fixed_dictionaries(req, optional=opt)
    if not extras:
        return base
    extra = st.dictionaries(_KEYS.filter(lambda k: k not in props), _SCALARS, max_size=2)
    return st.tuples(base, extra).map(lambda pair: {**pair[1], **pair[0]})


# --- independent oracle: restricted paths read from the pydantic model classes ---------------


def _models_in(annotation: Any) -> list[tuple[type[BaseModel], bool]]:
    """Model classes inside an annotation, each with whether it sits inside a list."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (list, tuple, set, frozenset):
        return [(m, True) for arg in typing.get_args(annotation) for m, _ in _models_in(arg)]
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _own_level(extra: Any) -> str | None:
    return extra.get("x-classification") if isinstance(extra, dict) else None


def restricted_patterns(
    model: type[BaseModel], levels: frozenset[str] = frozenset({"recipe", "pii"})
) -> set[tuple[str, ...]]:
    """Path patterns (`*` = any list index) whose fields the model classifies in `levels`."""
    out: set[tuple[str, ...]] = set()

    def walk(cls: type[BaseModel], prefix: tuple[str, ...], seen: frozenset[type]) -> None:
        if cls in seen:
            return
        for name, info in cls.model_fields.items():
            key = info.alias or name
            path = (*prefix, key)
            found = _models_in(info.annotation)
            marks = [_own_level(info.json_schema_extra)]
            marks += [_own_level(m.model_config.get("json_schema_extra")) for m, _ in found]
            if any(m in levels for m in marks):
                out.add(path)
                continue
            for sub, in_list in found:
                walk(sub, (*path, "*") if in_list else path, seen | {cls})

    walk(model, (), frozenset())
    return out


def leaf_paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every member path in a JSON value (list indices as `*`)."""
    out: list[tuple[str, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out += leaf_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for v in value:
            out += leaf_paths(v, (*prefix, "*"))
    return out
