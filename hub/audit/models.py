"""Audit trail and electronic signature tables (append-only at the database level)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow


class AuditEntry(SQLModel, table=True):
    """One hash-chained record of who did what, when and why (21 CFR 11.10(e))."""

    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: str = Field(default_factory=new_id, unique=True, max_length=36)
    ts: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_id: str = Field(max_length=64)
    actor_name: str = Field(max_length=200)
    actor_org_id: str | None = Field(default=None, max_length=36, index=True)
    entity_type: str = Field(max_length=64, index=True)
    entity_id: str = Field(max_length=64, index=True)
    action: str = Field(max_length=32)
    old_values: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    new_values: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    reason: str | None = Field(default=None, max_length=2000)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class ESignature(SQLModel, table=True):
    """An electronic signature bound to the hash of the signed record (11.50, 11.70)."""

    __tablename__ = "esignature"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    entity_type: str = Field(max_length=64, index=True)
    entity_id: str = Field(max_length=64, index=True)
    record_hash: str = Field(max_length=64)
    meaning: str = Field(max_length=32)
    signer_id: str = Field(foreign_key="user_account.id", max_length=36)
    signer_username: str = Field(max_length=100)
    printed_name: str = Field(max_length=200)
    signed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    comment: str | None = Field(default=None, max_length=2000)
    signature_hash: str = Field(max_length=64)


APPEND_ONLY_TABLES = ("audit_entry", "esignature")
