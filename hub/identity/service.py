"""Organizations, users, login with lockout, password policy and machine API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.config import Settings
from hub.db import utcnow
from hub.errors import (
    AccountLocked,
    AuthenticationRequired,
    Conflict,
    InvalidCredentials,
    NotFound,
    PasswordPolicyViolation,
    PermissionDenied,
)
from hub.identity import security
from hub.identity.models import ApiKey, Organization, PasswordHistory, User
from hub.identity.principal import Principal
from hub.identity.schemas import ApiKeyCreate, OrganizationCreate, UserCreate, UserUpdate

MACHINE_ROLE = "site_agent"


def create_organization(session: Session, data: OrganizationCreate) -> Organization:
    if session.exec(select(Organization).where(Organization.name == data.name)).first():
        raise Conflict(f"An organization named {data.name!r} already exists",
                       errors=[{"pointer": "/name", "message": "already exists"}])
    org = Organization(**data.model_dump())
    session.add(org)
    session.flush()
    return org


def get_organization(session: Session, org_id: str) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"Organization {org_id} not found")
    return org


def list_organizations(session: Session) -> Sequence[Organization]:
    return session.exec(select(Organization).order_by(col(Organization.name))).all()


def _check_password(settings: Settings, username: str, password: str) -> None:
    problems = security.password_problems(password, username, settings.password_min_length)
    if problems:
        raise PasswordPolicyViolation(
            "Password " + "; ".join(problems),
            errors=[{"pointer": "/password", "message": p} for p in problems],
        )


def create_user(session: Session, settings: Settings, data: UserCreate) -> User:
    """Create a user; user ids are unique forever (deactivate, never delete or reuse)."""
    get_organization(session, data.organization_id)
    if session.exec(select(User).where(User.username == data.username)).first():
        raise Conflict(f"User id {data.username!r} is taken (user ids are never reused)",
                       errors=[{"pointer": "/username", "message": "already exists"}])
    _check_password(settings, data.username, data.password)
    user = User(
        username=data.username, full_name=data.full_name, email=data.email,
        organization_id=data.organization_id, roles=[r.value for r in data.roles],
        password_hash=security.hash_password(data.password),
    )
    session.add(user)
    session.flush()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    session.flush()
    return user


def get_user_for(session: Session, who: Principal, user_id: str) -> User:
    """A user visible to the caller (own organization unless hub admin); 404 otherwise."""
    user = session.get(User, user_id)
    if user is None or (not who.is_hub_admin and user.organization_id != who.org_id):
        raise NotFound(f"User {user_id} not found")
    return user


def list_users(session: Session, who: Principal) -> Sequence[User]:
    stmt = select(User).order_by(col(User.username))
    if not who.is_hub_admin:
        stmt = stmt.where(User.organization_id == who.org_id)
    return session.exec(stmt).all()


def update_user(session: Session, who: Principal, user_id: str, data: UserUpdate) -> User:
    user = get_user_for(session, who, user_id)
    changes = data.model_dump(exclude_unset=True, exclude={"reason"})
    if "roles" in changes and changes["roles"] is not None:
        changes["roles"] = [str(r) for r in changes["roles"]]
    with audit.reason(session, data.reason):
        for key, value in changes.items():
            if value is not None:
                setattr(user, key, value)
        session.add(user)
    return user


def _record_failure(session: Session, settings: Settings, user_id: str) -> None:
    """Count a failed password check; lock the account at the threshold (audited)."""
    user = session.get(User, user_id)
    if user is None:
        return
    user.failed_attempts += 1
    if user.failed_attempts >= settings.lockout_threshold:
        user.locked_until = utcnow() + timedelta(minutes=settings.lockout_minutes)
        audit.append(session, entity_type="user", entity_id=user.id, action="lock",
                     new={"locked_until": user.locked_until,
                          "failed_attempts": user.failed_attempts},
                     reason_text="repeated failed password checks",
                     actor=audit.Actor(id=user.id, name=user.username,
                                       org_id=user.organization_id))
    session.add(user)
    session.flush()


def check_password(session: Session, settings: Settings, user: User, password: str) -> None:
    """Verify a user's password with lockout accounting (login and e-signatures)."""
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        security.burn_verify_time(password)
        raise AccountLocked(
            f"Account locked after repeated failures; try again after "
            f"{user.locked_until.isoformat()} or ask a hub administrator",
        )
    if not security.verify_password(password, user.password_hash):
        uid = user.id
        err = InvalidCredentials("Incorrect user id or password")
        err.after_rollback = [lambda s: _record_failure(s, settings, uid)]
        raise err
    if user.failed_attempts or user.locked_until:
        user.failed_attempts, user.locked_until = 0, None
        session.add(user)


def authenticate(session: Session, settings: Settings, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        security.burn_verify_time(password)
        raise InvalidCredentials("Incorrect user id or password")
    check_password(session, settings, user, password)
    user.last_login_at = utcnow()
    session.add(user)
    session.flush()
    return user


def change_password(session: Session, settings: Settings, user: User, current: str,
                    new: str) -> None:
    check_password(session, settings, user, current)
    _check_password(settings, user.username, new)
    recent = session.exec(
        select(PasswordHistory).where(PasswordHistory.user_id == user.id)
        .order_by(col(PasswordHistory.created_at).desc()).limit(settings.password_history)
    ).all()
    if any(security.verify_password(new, h.password_hash) for h in recent):
        raise PasswordPolicyViolation(
            f"Password must differ from your last {settings.password_history} passwords",
            errors=[{"pointer": "/new_password", "message": "recently used"}],
        )
    with audit.reason(session, "password changed by its owner"):
        user.password_hash = security.hash_password(new)
        user.password_changed_at = utcnow()
        session.add(user)
        session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))


def principal_for_user(user: User) -> Principal:
    return Principal("user", user.id, user.username, user.organization_id, frozenset(user.roles))


def issue_api_key(session: Session, who: Principal, data: ApiKeyCreate,
                  roles: list[str] | None = None) -> tuple[ApiKey, str]:
    """Issue a machine key; returns the row and the secret (shown once)."""
    org_id = data.organization_id or who.org_id
    if org_id != who.org_id and not who.is_hub_admin:
        raise PermissionDenied("You can only issue keys for your own organization")
    get_organization(session, org_id)
    full, prefix, digest = security.new_api_key()
    key = ApiKey(prefix=prefix, secret_hash=digest, name=data.name, organization_id=org_id,
                 site_id=data.site_id, roles=roles or [MACHINE_ROLE], created_by=who.id)
    session.add(key)
    session.flush()
    return key, full


def list_api_keys(session: Session, who: Principal) -> Sequence[ApiKey]:
    stmt = select(ApiKey).order_by(col(ApiKey.created_at))
    if not who.is_hub_admin:
        stmt = stmt.where(ApiKey.organization_id == who.org_id)
    return session.exec(stmt).all()


def revoke_api_key(session: Session, who: Principal, key_id: str, why: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or (not who.is_hub_admin and key.organization_id != who.org_id):
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        with audit.reason(session, why):
            key.revoked_at = utcnow()
            session.add(key)
    return key


def authenticate_api_key(session: Session, raw: str) -> Principal:
    parts = security.split_api_key(raw)
    key = session.exec(select(ApiKey).where(ApiKey.prefix == parts[0])).first() if parts else None
    if parts is None or key is None or not security.api_secret_matches(parts[1], key.secret_hash):
        raise AuthenticationRequired("Invalid API key")
    if key.revoked_at is not None:
        raise AuthenticationRequired("API key has been revoked")
    now = utcnow()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        key.last_used_at = now
        session.add(key)
    return Principal("machine", key.id, f"apikey:{key.name}", key.organization_id,
                     frozenset(key.roles), key.site_id)
