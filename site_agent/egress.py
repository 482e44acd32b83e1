"""The egress gate: the ONE function every payload passes through before it leaves the site.

``gate(schema_id, payload)`` validates the payload against its standard, refuses it outright
if any field present is classified ``recipe`` or ``pii`` (raising :class:`EgressRefused`, which
names the fields but never their values), and projects the rest to fields classified at most
``consortium``. Only the gate constructs a :class:`GatedPayload`; the hub client sends nothing
else and checks the gate's per-process MAC on every payload before it is put on the wire.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from site_agent import messages
from standards import registry as standards_registry
from standards.base import Standard
from standards.classification import Level, iter_sensitive, project

SHAREABLE = Level.consortium
REFUSED = Level.recipe  # recipe and pii (everything at or above recipe)
_SEAL = object()
_MAC_KEY = os.urandom(32)


class EgressRefused(Exception):
    """A payload may not leave the site; ``pointers`` name the offending fields."""

    def __init__(self, schema_id: str, reason: str, pointers: list[str]) -> None:
        self.schema_id, self.reason, self.pointers = schema_id, reason, pointers
        shown = ", ".join(pointers[:20]) + (" …" if len(pointers) > 20 else "")
        super().__init__(f"egress refused for {schema_id}: {reason}: {shown}")


class GatedPayload:
    """A payload that has passed the gate: immutable JSON bytes plus the gate's MAC."""

    __slots__ = ("body", "count", "mac", "schema_id")
    schema_id: str
    body: bytes
    count: int
    mac: bytes

    def __init__(self, seal: object, schema_id: str, body: bytes, count: int) -> None:
        if seal is not _SEAL:
            raise TypeError("GatedPayload objects are made only by site_agent.egress.gate()")
        for name, value in (("schema_id", schema_id), ("body", body), ("count", count),
                            ("mac", _mac(schema_id, body))):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("GatedPayload is immutable")

    def __repr__(self) -> str:
        return f"<GatedPayload {self.schema_id} ×{self.count}, {len(self.body)} bytes>"


def _mac(schema_id: str, body: bytes) -> bytes:
    return hmac.new(_MAC_KEY, schema_id.encode() + b"\0" + body, hashlib.sha256).digest()


def verify(payload: object) -> GatedPayload:
    """The payload itself if the gate made it in this process and nobody changed it."""
    if type(payload) is not GatedPayload:
        raise TypeError(f"only gated payloads may leave the site, got {type(payload).__name__}")
    if not hmac.compare_digest(payload.mac, _mac(payload.schema_id, payload.body)):
        raise EgressRefused(payload.schema_id, "payload was not produced by the gate", [])
    return payload


def standard_for(schema_id: str) -> Standard:
    """The standard governing ``schema_id``: agent messages first, then shared standards."""
    try:
        return messages.registry().get_by_id(schema_id)
    except LookupError:
        pass
    try:
        return standards_registry.get_by_id(schema_id)
    except (LookupError, ValueError) as exc:
        raise EgressRefused(schema_id, "no such standard; unknown data cannot leave", []) from exc


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.loads(json.dumps(value, default=_encode))


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def gate(schema_id: str, payload: Any) -> GatedPayload:
    """Validate, refuse recipe/pii, project to shareable fields; a list is a batch."""
    std = standard_for(schema_id)
    batch = isinstance(payload, list)
    items = [_plain(p) for p in (payload if batch else [payload])]
    if not items:
        raise EgressRefused(schema_id, "empty batch", [])
    reports = std.validate_many(items) if batch else [std.validate(items[0])]
    index = std.classification_index
    bad: list[str] = []
    secret: list[str] = []
    for i, (item, report) in enumerate(zip(items, reports, strict=True)):
        prefix = f"/{i}" if batch else ""
        if not isinstance(item, Mapping):
            bad.append(prefix or "/")
            continue
        bad += [prefix + v.pointer for v in report.errors]
        secret += [prefix + p for p in iter_sensitive(index, item, REFUSED)]
    if secret:
        raise EgressRefused(schema_id, "fields classified recipe or pii never leave the site",
                            secret)
    if bad:
        raise EgressRefused(schema_id, "payload does not conform to its standard", bad)
    projected = [project(index, item, SHAREABLE) for item in items]
    body = json.dumps(projected if batch else projected[0], separators=(",", ":"),
                      sort_keys=True).encode()
    return GatedPayload(_SEAL, std.id, body, len(items))
