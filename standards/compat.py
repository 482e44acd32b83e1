"""Minor-version compatibility: structural JSON Schema diff plus behavioural re-validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from standards.classification import Level, SchemaIndex, SchemaNode

if TYPE_CHECKING:
    from standards.base import Standard


@dataclass(frozen=True)
class CompatibilityProblem:
    """Why a newer version is not a compatible minor of an older one."""

    kind: str  # not-a-minor | removed-property | newly-required | type-changed | enum-narrowed
    #            | classification-lowered | instance-rejected
    pointer: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} at {self.pointer or '/'}: {self.detail}"


def _required(index: SchemaIndex, frags: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for frag in frags:
        for e in index.expand(frag):
            out.update(r for r in e.get("required", ()) if isinstance(r, str))
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), "unknown")


def _types(index: SchemaIndex, frags: list[dict[str, Any]]) -> tuple[set[str], set[Any] | None]:
    """JSON types a value may have, and the closed set of allowed values (None if open)."""
    types: set[str] = set()
    enum: set[Any] | None = None
    for frag in frags:
        for e in index.expand(frag):
            t = e.get("type")
            if isinstance(t, str):
                types.add(t)
            elif isinstance(t, list):
                types.update(x for x in t if isinstance(x, str))
            values = e.get("enum", [e["const"]] if "const" in e else None)
            if values is not None:
                enum = (enum or set()) | {repr(v) for v in values}
                types.update(_json_type(v) for v in values)
            if "properties" in e and "type" not in e:
                types.add("object")
    return types, enum


def _covers(new: set[str], old: set[str]) -> bool:
    widened = set(new) | ({"integer"} if "number" in new else set())
    return old <= widened


def structural_problems(old: Standard, new: Standard) -> list[CompatibilityProblem]:
    """Removed properties, newly required ones, changed types, narrowed enums, lowered levels."""
    oi, ni = old.classification_index, new.classification_index
    problems: list[CompatibilityProblem] = []
    seen: set[tuple[int, int]] = set()

    def compare(
        on: SchemaNode,
        nn: SchemaNode,
        o_frags: list[dict[str, Any]],
        n_frags: list[dict[str, Any]],
        olvl: Level,
        nlvl: Level,
        ptr: str,
    ) -> None:
        if (id(on), id(nn)) in seen:
            return
        seen.add((id(on), id(nn)))
        for key in sorted(set(on.props) - set(nn.props)):
            problems.append(CompatibilityProblem("removed-property", f"{ptr}/{key}", "removed"))
        new_required = _required(ni, n_frags) - _required(oi, o_frags)
        for key in sorted(new_required):
            problems.append(CompatibilityProblem("newly-required", f"{ptr}/{key}", "now required"))
        for key in sorted(set(on.props) & set(nn.props)):
            o_sub, n_sub = on.props[key], nn.props[key]
            o_types, o_enum = _types(oi, o_sub)
            n_types, n_enum = _types(ni, n_sub)
            if o_types and n_types and not _covers(n_types, o_types):
                problems.append(
                    CompatibilityProblem(
                        "type-changed", f"{ptr}/{key}", f"{sorted(o_types)} → {sorted(n_types)}"
                    )
                )
            if o_enum is not None and n_enum is not None and not o_enum <= n_enum:
                lost = ", ".join(sorted(o_enum - n_enum))
                problems.append(
                    CompatibilityProblem(
                        "enum-narrowed", f"{ptr}/{key}", f"values no longer allowed: {lost}"
                    )
                )
            o_lvl, o_child = oi.key_level(on, key, olvl)
            n_lvl, n_child = ni.key_level(nn, key, nlvl)
            if n_lvl.rank < o_lvl.rank:
                problems.append(
                    CompatibilityProblem(
                        "classification-lowered", f"{ptr}/{key}", f"{o_lvl.value} → {n_lvl.value}"
                    )
                )
            if o_child is not None and n_child is not None:
                compare(o_child, n_child, o_sub, n_sub, o_lvl, n_lvl, f"{ptr}/{key}")
                if o_child.items and n_child.items:
                    o_it, n_it = oi.node(o_child.items), ni.node(n_child.items)
                    compare(
                        o_it, n_it, o_child.items, n_child.items, o_lvl, n_lvl, f"{ptr}/{key}/*"
                    )

    compare(
        oi.root_node(), ni.root_node(), [oi.root], [ni.root], oi.root_level(), ni.root_level(), ""
    )
    return problems


def check_minor_compatible(
    old: Standard, new: Standard, instances: Sequence[Any] = ()
) -> list[CompatibilityProblem]:
    """Problems that stop `new` being a compatible minor release of `old` (empty = compatible)."""
    if (
        old.name != new.name
        or old.version_info[0] != new.version_info[0]
        or (new.version_info <= old.version_info)
    ):
        return [
            CompatibilityProblem(
                "not-a-minor", "", f"{new.id} is not a later version of {old.id} in the same major"
            )
        ]
    problems = structural_problems(old, new)
    for i, instance in enumerate(instances):
        if not old.validate(instance).ok:
            continue
        report = new.validate(instance)
        for err in report.errors:
            problems.append(
                CompatibilityProblem(
                    "instance-rejected",
                    err.pointer,
                    f"instance {i} valid under {old.id} is rejected by {new.id}: {err.message}",
                )
            )
    return problems
