"""API shapes for the audit trail and electronic signatures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.audit.signatures import Meaning


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    id: str
    ts: datetime
    actor_id: str
    actor_name: str
    actor_org_id: str | None
    entity_type: str
    entity_id: str
    action: str
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    reason: str | None
    prev_hash: str
    hash: str


class ChainVerification(BaseModel):
    ok: bool
    entries: int
    head_hash: str
    first_broken_seq: int | None = None
    first_broken_id: str | None = None
    problem: str | None = None


class SignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entity_type: str = Field(min_length=1, max_length=64)
    entity_id: str = Field(min_length=1, max_length=64)
    meaning: Meaning
    password: str = Field(min_length=1, max_length=256, description="re-entered at signing")
    comment: str | None = Field(default=None, max_length=2000)


class SignaturePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    entity_type: str
    entity_id: str
    record_hash: str
    meaning: str
    signer_id: str
    signer_username: str
    printed_name: str
    signed_at: datetime
    comment: str | None
    signature_hash: str


class SignatureVerification(BaseModel):
    signature_id: str
    valid: bool
    problems: list[str]
