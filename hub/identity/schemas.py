"""API shapes for organizations, users, tokens and API keys."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.identity.models import OrgKind, Role

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200)
    kind: OrgKind
    jurisdiction: str = Field(default="EU", min_length=2, max_length=20)


class OrganizationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    kind: OrgKind
    jurisdiction: str
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(description="unique, lower case, 3-64 of a-z 0-9 . _ -")
    full_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    organization_id: str
    roles: list[Role] = Field(min_length=1)
    password: str = Field(min_length=1, max_length=256)

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not USERNAME_RE.match(v):
            raise ValueError("must be 3-64 characters of a-z, 0-9, '.', '_' or '-'")
        return v


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    roles: list[Role] | None = Field(default=None, min_length=1)
    is_active: bool | None = None
    reason: str = Field(min_length=3, max_length=2000, description="why (audit trail)")


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    username: str
    full_name: str
    email: str
    organization_id: str
    roles: list[str]
    is_active: bool
    locked_until: datetime | None
    created_at: datetime


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    organization_id: str | None = Field(default=None, description="defaults to your own")
    site_id: str | None = None


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    prefix: str
    name: str
    organization_id: str
    site_id: str | None
    roles: list[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyIssued(ApiKeyPublic):
    key: str = Field(description="the secret; shown once, store it now")


class Revoke(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=2000)


class Me(UserPublic):
    organization: OrganizationPublic
