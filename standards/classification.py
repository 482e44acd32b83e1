"""Field classification (`x-classification`) read from JSON Schema: levels, walker, projection."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, Field

KEY = "x-classification"
UNDECLARED_KEY = "x-classification-undeclared"  # level of keys an object does not declare


class Level(StrEnum):
    """Ordered sensitivity levels: public < consortium < confidential < recipe < pii."""

    public = "public"
    consortium = "consortium"
    confidential = "confidential"
    recipe = "recipe"
    pii = "pii"

    @property
    def rank(self) -> int:
        """Position in the order (0 = public)."""
        return _RANK[self]


_RANK = {level: i for i, level in enumerate(Level)}
LEVELS: tuple[Level, ...] = tuple(Level)
DEFAULT_LEVEL = Level.consortium  # a declared field without a mark
UNDECLARED_LEVEL = Level.confidential  # a key the schema does not declare (extensions)
MAX_SHAREABLE = Level.confidential  # nothing above this may ever leave a site


def as_level(value: str | Level) -> Level:
    """Parse a level name; raises ValueError for an unknown one."""
    try:
        return Level(value)
    except ValueError:
        raise ValueError(f"unknown classification level {value!r}; one of {list(Level)}") from None


def max_level(*levels: Level) -> Level:
    """The most sensitive of the given levels."""
    return max(levels, key=_RANK.__getitem__)


def classified(level: str | Level, *args: Any, **kwargs: Any) -> Any:
    """A pydantic `Field(...)` carrying `x-classification` in its JSON Schema."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra[KEY] = as_level(level).value
    return Field(*args, json_schema_extra=extra, **kwargs)


def class_level(level: str | Level) -> dict[str, Any]:
    """`model_config` json_schema_extra marking every use of a model at `level`."""
    return {KEY: as_level(level).value}


def _mark(fragment: Mapping[str, Any]) -> Level | None:
    raw = fragment.get(KEY)
    return as_level(raw) if raw is not None else None


@dataclass
class SchemaNode:
    """The merged view of every schema fragment that may describe one instance location."""

    mark: Level | None
    undeclared: Level | None = None
    props: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    patterns: list[tuple[re.Pattern[str], dict[str, Any]]] = field(default_factory=list)
    additional: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    tuple_items: list[list[dict[str, Any]]] = field(default_factory=list)


class SchemaIndex:
    """Classification lookups over one JSON Schema document (local `$ref`s, unions merged)."""

    _BRANCHES = ("allOf", "anyOf", "oneOf")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.root: dict[str, Any] = dict(schema)
        self._expanded: dict[int, list[dict[str, Any]]] = {}
        self._nodes: dict[tuple[int, ...], SchemaNode] = {}
        self._keys: dict[tuple[int, str, Level], tuple[Level, SchemaNode | None]] = {}

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            raise ValueError(f"only local $ref is supported, got {ref!r}")
        target: Any = self.root
        for part in unquote(ref[1:]).split("/")[1:]:
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target

    def expand(self, fragment: dict[str, Any], _seen: frozenset[int] = frozenset()) -> list[dict]:
        """All fragments a value matching `fragment` may also match ($ref, unions, then/else)."""
        key = id(fragment)
        if key in self._expanded:
            return self._expanded[key]
        if key in _seen:
            return []
        seen = _seen | {key}
        out = [fragment]
        if isinstance(fragment.get("$ref"), str):
            out += self.expand(self._resolve(fragment["$ref"]), seen)
        for branch in self._BRANCHES:
            for sub in fragment.get(branch, ()):
                if isinstance(sub, dict):
                    out += self.expand(sub, seen)
        for branch in ("then", "else"):
            if isinstance(fragment.get(branch), dict):
                out += self.expand(fragment[branch], seen)
        unique = list({id(f): f for f in out}.values())
        if not _seen:
            self._expanded[key] = unique
        return unique

    def node(self, fragments: list[dict[str, Any]]) -> SchemaNode:
        """The merged node for a set of fragments (cached)."""
        key = tuple(id(f) for f in fragments)
        cached = self._nodes.get(key)
        if cached is not None:
            return cached
        expanded = list({id(e): e for f in fragments for e in self.expand(f)}.values())
        marks = [m for m in (_mark(f) for f in expanded) if m is not None]
        node = SchemaNode(mark=max_level(*marks) if marks else None)
        loose = [as_level(f[UNDECLARED_KEY]) for f in expanded if UNDECLARED_KEY in f]
        node.undeclared = max_level(*loose) if loose else None
        for frag in expanded:
            for name, sub in (frag.get("properties") or {}).items():
                if isinstance(sub, dict):
                    node.props.setdefault(name, []).append(sub)
            for pattern, sub in (frag.get("patternProperties") or {}).items():
                if isinstance(sub, dict):
                    node.patterns.append((re.compile(pattern), sub))
            extra = frag.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                node.additional.append(extra)
            items = frag.get("items")
            if isinstance(items, dict):
                node.items.append(items)
            elif isinstance(items, list):
                for i, sub in enumerate(items):
                    while len(node.tuple_items) <= i:
                        node.tuple_items.append([])
                    node.tuple_items[i].append(sub)
        self._nodes[key] = node
        return node

    def root_node(self) -> SchemaNode:
        """The node of the document root."""
        return self.node([self.root])

    def child_of_object(self, node: SchemaNode, key: str) -> list[dict[str, Any]] | None:
        """Fragments declaring `key` inside an object at `node`; None if undeclared."""
        if key in node.props:
            return node.props[key]
        matched = [sub for pattern, sub in node.patterns if pattern.search(key)]
        if matched:
            return matched
        return node.additional or None

    def child_of_array(self, node: SchemaNode, index: int) -> list[dict[str, Any]]:
        """Fragments describing element `index` of an array at `node` (may be empty)."""
        if index < len(node.tuple_items):
            return node.tuple_items[index]
        return node.items

    def key_level(
        self, node: SchemaNode, key: str, parent: Level
    ) -> tuple[Level, SchemaNode | None]:
        """Effective level of `key` inside an object at `node` whose own level is `parent`."""
        memo = (id(node), key, parent)
        hit = self._keys.get(memo)
        if hit is not None:
            return hit
        frags = self.child_of_object(node, key)
        if frags is None:
            result: tuple[Level, SchemaNode | None] = (
                max_level(parent, node.undeclared or UNDECLARED_LEVEL),
                None,
            )
        else:
            child = self.node(frags)
            result = (max_level(parent, child.mark or DEFAULT_LEVEL), child)
        if len(self._keys) < 100_000:  # bounded: keys of undeclared maps are data
            self._keys[memo] = result
        return result

    def item_level(self, node: SchemaNode, index: int, parent: Level) -> tuple[Level, SchemaNode]:
        """Effective level of an array element (unmarked elements inherit the array's level)."""
        child = self.node(self.child_of_array(node, index))
        return max_level(parent, child.mark or parent), child

    def root_level(self) -> Level:
        """Level of the root value (its own mark, else public so fields decide)."""
        return self.root_node().mark or Level.public


def _escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


_EMPTY = SchemaNode(mark=None)  # the node of a value the schema does not describe
_SCALARS = frozenset({str, int, float, bool, type(None)})


def iter_sensitive(index: SchemaIndex, instance: Any, level: Level) -> Iterator[str]:
    """JSON pointers (document order) of the outermost values classified at or above `level`."""

    def walk(value: Any, node: SchemaNode, eff: Level, pointer: str) -> Iterator[str]:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                lvl, child = index.key_level(node, str(key), eff)
                ptr = f"{pointer}/{_escape(key)}"
                if lvl.rank >= level.rank:
                    yield ptr
                elif isinstance(sub, Mapping | list | tuple):
                    yield from walk(sub, child or _EMPTY, lvl, ptr)
        elif isinstance(value, list | tuple):
            for i, sub in enumerate(value):
                lvl, item = index.item_level(node, i, eff)
                ptr = f"{pointer}/{i}"
                if lvl.rank >= level.rank:
                    yield ptr
                elif isinstance(sub, Mapping | list | tuple):
                    yield from walk(sub, item, lvl, ptr)

    root = index.root_level()
    if root.rank >= level.rank:
        yield ""
        return
    yield from walk(instance, index.root_node(), root, "")


def project(index: SchemaIndex, instance: Any, limit: Level) -> Any:
    """A copy of `instance` without any value classified above `limit`."""
    cap = limit.rank

    def walk(value: Any, node: SchemaNode, eff: Level) -> Any:
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, sub in value.items():
                lvl, child = index.key_level(node, str(key), eff)
                if _RANK[lvl] <= cap:
                    out[key] = sub if type(sub) in _SCALARS else walk(sub, child or _EMPTY, lvl)
            return out
        if isinstance(value, list | tuple):
            kept = []
            for i, sub in enumerate(value):
                lvl, item = index.item_level(node, i, eff)
                if _RANK[lvl] <= cap:
                    kept.append(sub if type(sub) in _SCALARS else walk(sub, item, lvl))
            return kept
        return copy.deepcopy(value)

    return walk(instance, index.root_node(), index.root_level())


def field_levels(index: SchemaIndex, max_depth: int = 12) -> list[tuple[str, Level]]:
    """Every declared field of the schema as (pointer with `*` for items/map keys, level)."""
    out: list[tuple[str, Level]] = []

    def walk(node: SchemaNode, eff: Level, pointer: str, path: frozenset[int]) -> None:
        if id(node) in path or pointer.count("/") > max_depth:
            return
        path = path | {id(node)}
        for key in sorted(node.props):
            lvl, child = index.key_level(node, key, eff)
            ptr = f"{pointer}/{_escape(key)}"
            out.append((ptr, lvl))
            if child is not None:
                walk(child, lvl, ptr, path)
        if node.items:
            lvl, item = index.item_level(node, 0, eff)
            walk(item, lvl, f"{pointer}/*", path)
        if node.additional:
            child = index.node(node.additional)
            walk(child, max_level(eff, child.mark or eff), f"{pointer}/*", path)

    walk(index.root_node(), index.root_level(), "", frozenset())
    return out


def fill_marks(schema: dict[str, Any]) -> dict[str, Any]:
    """Give every declared property an explicit `x-classification` (returns a new schema)."""
    doc = copy.deepcopy(schema)
    index = SchemaIndex(doc)

    def visit(value: Any, enclosing: Level | None) -> None:
        if isinstance(value, dict):
            own = _mark(value) or enclosing
            props = value.get("properties")
            if isinstance(props, dict):
                for sub in props.values():
                    if isinstance(sub, dict) and KEY not in sub:
                        marks = [m for m in map(_mark, index.expand(sub)) if m is not None]
                        sub[KEY] = (max_level(*marks) if marks else own or DEFAULT_LEVEL).value
            for key, sub in value.items():
                if key != "if":
                    visit(sub, own)
        elif isinstance(value, list):
            for sub in value:
                visit(sub, enclosing)

    visit(doc, None)
    return doc


def to_instance(instance: Any) -> Any:
    """Plain JSON data for a pydantic model (aliases, JSON mode) or the value itself."""
    if isinstance(instance, BaseModel):
        return instance.model_dump(mode="json", by_alias=True, exclude_none=True)
    return instance


def sensitive_paths(schema_id: str, instance: Any, level: str | Level) -> list[str]:
    """JSON pointers of fields present in `instance` classified at or above `level`."""
    from standards import registry

    index = registry.get_by_id(schema_id).classification_index
    return list(iter_sensitive(index, to_instance(instance), as_level(level)))


def shareable_projection(
    schema_id: str, instance: Any, max_level: str | Level = Level.consortium
) -> dict[str, Any]:
    """`instance` with every field above `max_level` removed (what may leave a site)."""
    from standards import registry

    limit = as_level(max_level)
    if limit.rank > MAX_SHAREABLE.rank:
        raise ValueError(
            f"max_level {limit.value!r} would let recipe or personal data leave a site"
        )
    index = registry.get_by_id(schema_id).classification_index
    data = to_instance(instance)
    if not isinstance(data, Mapping):
        raise TypeError(f"{schema_id} instances are JSON objects, got {type(data).__name__}")
    result: dict[str, Any] = project(index, data, limit)
    return result
