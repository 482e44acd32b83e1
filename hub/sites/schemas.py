"""API shapes for site enrollment, keys, credentials and heartbeats."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.sites.models import KeyStatus, SiteKind, SiteStatus

STANDARD_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}/\d+\.\d+\.\d+$")
TASK_NAME = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")


IDENT = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class Isa95Location(BaseModel):
    """Where the site sits in the ISA-95 hierarchy; levels are identifiers, as in readings."""

    model_config = ConfigDict(extra="forbid")
    enterprise: str = Field(pattern=IDENT, description="e.g. helix-pharma")
    site: str = Field(pattern=IDENT, description="the site code readings carry as site_id")
    area: str | None = Field(default=None, pattern=IDENT)
    work_center: str | None = Field(default=None, pattern=IDENT)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$",
                                description="ISO 3166-1 alpha-2")


class Capabilities(BaseModel):
    """What the site holds and can do: standard datasets and federated tasks."""

    model_config = ConfigDict(extra="forbid")
    datasets: list[str] = Field(default_factory=list, max_length=100,
                                description="standard ids held locally, e.g. sensor-reading/1.0.0")
    tasks: list[str] = Field(default_factory=list, max_length=100,
                             description="federated tasks the site can join")

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, v: list[str]) -> list[str]:
        for item in v:
            if not STANDARD_ID.match(item):
                raise ValueError(f"{item!r} is not a standard id like name/MAJOR.MINOR.PATCH")
        return sorted(set(v))

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, v: list[str]) -> list[str]:
        for item in v:
            if not TASK_NAME.match(item):
                raise ValueError(f"{item!r} is not a task name (a-z, 0-9, '.', '_', '-')")
        return sorted(set(v))


class SiteBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200)
    kind: SiteKind
    location: Isa95Location
    capabilities: Capabilities = Field(default_factory=Capabilities)
    public_key: str = Field(min_length=20, max_length=2000,
                            description="the site's OpenSSH ECDSA public key (NIST curve)")
    agent_version: str | None = Field(default=None, max_length=40)


class SiteCreate(SiteBase):
    """An enrollment request submitted by a site admin (or a hub admin for an organization)."""

    organization_id: str | None = Field(default=None, description="defaults to your own")


class SiteEnroll(SiteBase):
    """An enrollment request submitted by a site agent with an enrollment token."""


class SiteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location: Isa95Location | None = None
    capabilities: Capabilities | None = None
    reason: str = Field(min_length=3, max_length=2000, description="why (audit trail)")


class SitePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    organization_id: str
    kind: SiteKind
    location: dict[str, Any]
    datasets: list[str]
    tasks: list[str]
    status: SiteStatus
    status_reason: str | None
    requested_at: datetime
    decided_at: datetime | None
    last_contact_at: datetime | None
    agent_version: str | None
    key_fingerprint: str | None = None
    created_at: datetime


class Decision(BaseModel):
    """Approve or reject with an electronic signature (password re-entry)."""

    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=256)
    comment: str | None = Field(default=None, max_length=2000)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=2000)


class SiteKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    site_id: str
    public_key: str
    fingerprint: str
    status: KeyStatus
    created_at: datetime
    retired_at: datetime | None


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_key: str = Field(min_length=20, max_length=2000)
    reason: str = Field(default="scheduled key rotation", min_length=3, max_length=2000)


class EnrollmentTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organization_id: str | None = Field(default=None, description="defaults to your own")
    valid_hours: int = Field(default=24, ge=1, le=24 * 7)


class EnrollmentTokenIssued(BaseModel):
    id: str
    organization_id: str
    expires_at: datetime
    token: str = Field(description="single use; shown once; hand it to the site agent")


class Proof(BaseModel):
    """A fresh signature by the site's private key (proof of possession)."""

    model_config = ConfigDict(extra="forbid")
    timestamp: str = Field(max_length=40, description="ISO 8601 with offset, within 5 minutes")
    nonce: str = Field(min_length=8, max_length=64)
    signature: str = Field(min_length=16, max_length=400, description="base64 DER ECDSA")


class SealedSecret(BaseModel):
    alg: str
    epk: str
    nonce: str
    ciphertext: str


class CredentialStatus(BaseModel):
    site_id: str
    status: SiteStatus
    detail: str
    api_key: SealedSecret | None = Field(
        default=None, description="the site API key sealed to the site's public key")


class ApiKeyRotated(BaseModel):
    site_id: str
    api_key_prefix: str
    detail: str


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_version: str = Field(min_length=1, max_length=40)
    sent_at: datetime | None = None
    outbox_pending: int | None = Field(default=None, ge=0)
    records_stored: int | None = Field(default=None, ge=0)


class HeartbeatAck(BaseModel):
    site_id: str
    status: SiteStatus
    server_time: datetime
