"""Site tables: enrolled plants and labs, their keys, enrollment tokens, idempotency records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow


class SiteKind(StrEnum):
    plant = "plant"
    lab = "lab"


class SiteStatus(StrEnum):
    pending = "pending"
    active = "active"
    suspended = "suspended"
    revoked = "revoked"
    rejected = "rejected"


class KeyStatus(StrEnum):
    active = "active"
    retired = "retired"
    revoked = "revoked"


class Site(SQLModel, table=True):
    """A plant or lab of a member organization, enrolled with the hub."""

    __tablename__ = "site"
    __table_args__ = (sa.UniqueConstraint("organization_id", "name", name="uq_site_org_name"),)
    __audit_entity__ = "site"
    __audit_ignore__ = frozenset({"last_contact_at", "agent_version"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    kind: SiteKind = Field(sa_type=sa.String(10))
    location: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # ISA-95 levels
    datasets: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # standard ids
    tasks: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # federated tasks
    status: SiteStatus = Field(default=SiteStatus.pending, sa_type=sa.String(12), index=True)
    requested_by: str = Field(max_length=64)  # user id (or "token:<id>" for agent requests)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=36)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status_reason: str | None = Field(default=None, max_length=2000)
    last_contact_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    agent_version: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SiteKey(SQLModel, table=True):
    """A site's own public key (OpenSSH ECDSA, NIST curve) for Flower SuperNode auth."""

    __tablename__ = "site_key"
    __audit_entity__ = "site_key"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    site_id: str = Field(foreign_key="site.id", index=True, max_length=36)
    public_key: str = Field(max_length=2000)
    fingerprint: str = Field(unique=True, max_length=80)  # SHA256:<base64>, as ssh-keygen -l
    status: KeyStatus = Field(default=KeyStatus.active, sa_type=sa.String(10))
    supernode_id: str | None = Field(default=None, max_length=40)  # SuperLink node id
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EnrollmentToken(SQLModel, table=True):
    """A single-use, expiring token a site admin hands to a site agent to submit enrollment."""

    __tablename__ = "site_enrollment_token"
    __audit_entity__ = "enrollment_token"
    __audit_redact__ = frozenset({"secret_hash"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    prefix: str = Field(unique=True, index=True, max_length=32)
    secret_hash: str = Field(max_length=128)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    created_by: str = Field(max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    site_id: str | None = Field(default=None, max_length=36)


class CredentialDelivery(SQLModel, table=True):
    """An API key sealed to the site's public key, awaiting pickup by the agent.

    Only the site's private key opens it; it is erased once the key is first used.
    """

    __tablename__ = "site_credential_delivery"

    site_id: str = Field(foreign_key="site.id", primary_key=True, max_length=36)
    api_key_id: str = Field(max_length=36)
    sealed: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    picked_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    """A message key a site has already sent, with the response it got (replayed on retry)."""

    __tablename__ = "site_idempotency"

    site_id: str = Field(primary_key=True, max_length=36)
    key: str = Field(primary_key=True, max_length=128)
    method: str = Field(max_length=8)
    path: str = Field(max_length=300)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: Any = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
