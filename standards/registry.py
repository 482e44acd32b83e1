"""The registry of standards: catalog, lookup by name/version, latest, compatibility checks.

Usage: `from standards import registry; registry.get("sensor-reading", "1.0.0").validate(x)`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from standards.base import NAME_RE, Standard, StandardInfo, parse_version
from standards.compat import CompatibilityProblem
from standards.compat import check_minor_compatible as _check_minor_compatible


class UnknownStandard(LookupError):
    """No standard with that name (and version) is registered."""

    def __init__(self, name: str, version: str | None = None) -> None:
        self.name = name
        self.version = version
        what = f"{name}/{version}" if version else name
        super().__init__(f"unknown standard {what!r}")


class InvalidStandardId(ValueError):
    """A schema id that is not `name/MAJOR.MINOR.PATCH`."""


def parse_id(schema_id: str) -> tuple[str, str]:
    """`"sensor-reading/1.0.0"` → `("sensor-reading", "1.0.0")`; raises InvalidStandardId."""
    name, sep, version = schema_id.strip().partition("/")
    if not sep or not NAME_RE.match(name):
        raise InvalidStandardId(f"expected NAME/MAJOR.MINOR.PATCH, got {schema_id!r}")
    try:
        parse_version(version)
    except ValueError as exc:
        raise InvalidStandardId(f"{schema_id!r}: {exc}") from None
    return name, version


class Registry:
    """A set of standards keyed by name and version."""

    def __init__(self, standards: Iterable[Standard] = ()) -> None:
        self._by_name: dict[str, dict[str, Standard]] = {}
        for standard in standards:
            self.register(standard)

    def register(self, standard: Standard) -> Standard:
        """Add a standard; an id can be registered once."""
        versions = self._by_name.setdefault(standard.name, {})
        if standard.version in versions:
            raise ValueError(f"{standard.id} is already registered")
        versions[standard.version] = standard
        return standard

    def standards(self) -> list[Standard]:
        """Every registered standard, by name then version."""
        return [s for name in sorted(self._by_name) for s in self.versions(name)]

    def catalog(self) -> list[StandardInfo]:
        """Catalog entries of every registered standard."""
        return [s.info() for s in self.standards()]

    def versions(self, name: str) -> list[Standard]:
        """All versions of one standard, oldest first."""
        if name not in self._by_name:
            raise UnknownStandard(name)
        return sorted(self._by_name[name].values(), key=lambda s: s.version_info)

    def names(self) -> list[str]:
        """Registered standard names."""
        return sorted(self._by_name)

    def get(self, name: str, version: str) -> Standard:
        """One standard version; raises UnknownStandard."""
        try:
            return self._by_name[name][version]
        except KeyError:
            raise UnknownStandard(name, version) from None

    def get_by_id(self, schema_id: str) -> Standard:
        """Look up `name/version`; raises InvalidStandardId or UnknownStandard."""
        return self.get(*parse_id(schema_id))

    def latest(self, name: str) -> Standard:
        """Newest non-deprecated version (newest of all if every version is deprecated)."""
        versions = self.versions(name)
        current = [s for s in versions if not s.deprecated]
        return (current or versions)[-1]

    def minor_pairs(self) -> list[tuple[Standard, Standard]]:
        """Consecutive minor versions within one major, for every family."""
        pairs: list[tuple[Standard, Standard]] = []
        for name in self.names():
            versions = self.versions(name)
            for old, new in itertools.pairwise(versions):
                if old.version_info[0] == new.version_info[0] and old.version_info[0] > 0:
                    pairs.append((old, new))
        return pairs

    def integrity_problems(self) -> list[str]:
        """Dangling or inconsistent `superseded_by` links."""
        problems: list[str] = []
        for s in self.standards():
            if s.superseded_by is None:
                continue
            try:
                successor = self.get_by_id(s.superseded_by)
            except (UnknownStandard, InvalidStandardId):
                problems.append(f"{s.id}: superseded_by {s.superseded_by!r} is not registered")
                continue
            if successor.name != s.name or successor.version_info <= s.version_info:
                problems.append(f"{s.id}: superseded_by {successor.id} is not a newer version")
        return problems


_default: Registry | None = None
_lock = threading.Lock()


def default_registry() -> Registry:
    """The registry of every standard fedhub ships (built once, on first use)."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                from standards.catalog import build_standards

                _default = Registry(build_standards())
    return _default


def catalog() -> list[StandardInfo]:
    """Catalog entries of every shipped standard."""
    return default_registry().catalog()


def get(name: str, version: str) -> Standard:
    """One shipped standard; raises UnknownStandard (with `.name`, `.version`)."""
    return default_registry().get(name, version)


def get_by_id(schema_id: str) -> Standard:
    """One shipped standard by `name/version`."""
    return default_registry().get_by_id(schema_id)


def latest(name: str) -> Standard:
    """Newest non-deprecated version of a shipped standard."""
    return default_registry().latest(name)


def versions(name: str) -> list[Standard]:
    """All shipped versions of one standard, oldest first."""
    return default_registry().versions(name)


def check_minor_compatible(
    old: Standard, new: Standard, instances: Sequence[Any] = ()
) -> list[CompatibilityProblem]:
    """Structural and behavioural problems that stop `new` being a compatible minor of `old`."""
    return _check_minor_compatible(old, new, instances)


__all__ = [
    "CompatibilityProblem",
    "InvalidStandardId",
    "Registry",
    "Standard",
    "StandardInfo",
    "UnknownStandard",
    "catalog",
    "check_minor_compatible",
    "default_registry",
    "get",
    "get_by_id",
    "latest",
    "parse_id",
    "versions",
]
