"""Identity tables: organizations, users, password history, machine API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.db import UTCDateTime, new_id, utcnow


class Role(StrEnum):
    hub_admin = "hub_admin"
    qa = "qa"
    site_admin = "site_admin"
    researcher = "researcher"
    instructor = "instructor"
    trainee = "trainee"
    regulator = "regulator"


class OrgKind(StrEnum):
    pharma = "pharma"
    institute = "institute"
    logistics = "logistics"
    regulator = "regulator"
    operator = "operator"  # the consortium hub operator itself


class Organization(SQLModel, table=True):
    """A consortium member."""

    __tablename__ = "organization"
    __audit_entity__ = "organization"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(index=True, unique=True, max_length=200)
    kind: OrgKind = Field(sa_type=sa.String(20))
    jurisdiction: str = Field(default="EU", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class User(SQLModel, table=True):
    """A person with a unique, never-reused user id (21 CFR 11.300(a))."""

    __tablename__ = "user_account"
    __audit_entity__ = "user"
    __audit_redact__ = frozenset({"password_hash"})
    __audit_ignore__ = frozenset({"failed_attempts", "locked_until", "last_login_at"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    username: str = Field(index=True, unique=True, max_length=100)
    full_name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    roles: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    password_hash: str = Field(max_length=255)
    password_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    failed_attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PasswordHistory(SQLModel, table=True):
    """Previous password hashes, to refuse reuse of recent passwords."""

    __tablename__ = "password_history"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="user_account.id", index=True, max_length=36)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A machine credential (site agents); only a hash of the secret is stored."""

    __tablename__ = "api_key"
    __audit_entity__ = "api_key"
    __audit_redact__ = frozenset({"secret_hash"})
    __audit_ignore__ = frozenset({"last_used_at"})

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    prefix: str = Field(index=True, unique=True, max_length=32)
    secret_hash: str = Field(max_length=128)
    name: str = Field(max_length=200)
    organization_id: str = Field(foreign_key="organization.id", index=True, max_length=36)
    site_id: str | None = Field(default=None, index=True, max_length=36)
    roles: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_by: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
