"""Canonical JSON and the hash chain of the audit trail."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

GENESIS = "0" * 64


def _default(o: Any) -> Any:
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if isinstance(o, Enum):
        return o.value
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, bytes):
        return o.hex()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_default)


def jsonable(value: Any) -> Any:
    """Round-trip a value through canonical JSON so it stores and hashes identically."""
    return json.loads(canonical_json(value))


def sha256_hex(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


HASHED_FIELDS = (
    "seq", "id", "ts", "actor_id", "actor_name", "actor_org_id", "entity_type", "entity_id",
    "action", "old_values", "new_values", "reason", "prev_hash",
)


def entry_hash(fields: dict[str, Any]) -> str:
    """Hash of one entry: covers its canonical content, which includes the previous hash."""
    body = {k: fields[k] for k in HASHED_FIELDS}
    return sha256_hex(canonical_json(body))
