"""Validation reports: violations named by RFC 6901 JSON pointers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class Violation:
    """One offending field: JSON pointer into the instance, human message, machine type."""

    pointer: str
    message: str
    type: str

    def as_dict(self) -> dict[str, str]:
        """Plain dict for problem documents and logs."""
        return {"pointer": self.pointer, "message": self.message, "type": self.type}


@dataclass(slots=True)
class ValidationReport:
    """Outcome of validating one instance; `value` is the parsed model (or data) when valid."""

    errors: list[Violation] = field(default_factory=list)
    value: Any = None
    schema_id: str = ""

    @property
    def ok(self) -> bool:
        """True when there are no violations."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (without the parsed value)."""
        return {
            "schema": self.schema_id,
            "ok": self.ok,
            "errors": [e.as_dict() for e in self.errors],
        }


def escape_token(token: str | int) -> str:
    """Escape one reference token per RFC 6901 (`~` → `~0`, `/` → `~1`)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(parts: Iterable[str | int]) -> str:
    """Build a JSON pointer from path parts (`()` → `""`, the whole document)."""
    return "".join("/" + escape_token(p) for p in parts)


def loc_to_parts(loc: Sequence[str | int], instance: Any) -> list[str | int]:
    """Map a pydantic `loc` onto the instance, dropping union/tag segments that are not keys."""
    parts: list[str | int] = []
    current = instance
    last = len(loc) - 1
    for i, seg in enumerate(loc):
        in_dict = isinstance(current, dict) and seg in current
        if in_dict or (
            isinstance(current, list) and isinstance(seg, int) and -1 < seg < len(current)
        ):
            parts.append(seg)
            current = current[seg]
        elif i == last and isinstance(current, dict):
            parts.append(seg)  # a missing required key
            current = None
        elif isinstance(current, dict | list):
            continue  # a union member or discriminator tag in the loc
        else:
            parts.append(seg)
            current = None
    return parts


def violations(exc: ValidationError, instance: Any) -> list[Violation]:
    """Violations of one instance from a pydantic error."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return [
        Violation(pointer(loc_to_parts(e["loc"], instance)), e["msg"], e["type"]) for e in errors
    ]


def batch_violations(exc: ValidationError, records: Sequence[Any]) -> dict[int, list[Violation]]:
    """Violations of a list validated in one call, keyed by record index."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    by_index: dict[int, list[Violation]] = {}
    for e in errors:
        loc = e["loc"]
        idx = loc[0] if loc and isinstance(loc[0], int) else -1
        record = records[idx] if 0 <= idx < len(records) else None
        ptr = pointer(loc_to_parts(loc[1:], record))
        by_index.setdefault(idx, []).append(Violation(ptr, e["msg"], e["type"]))
    return by_index
