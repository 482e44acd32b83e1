"""Login, accounts, organizations and machine API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from hub.audit.signatures import register_signable
from hub.deps import CurrentPrincipal, CurrentUser, SessionDep, SettingsDep, require
from hub.identity import security
from hub.identity import service as identity
from hub.identity.models import Organization
from hub.identity.principal import Principal
from hub.identity.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPublic,
    Me,
    OrganizationCreate,
    OrganizationPublic,
    PasswordChange,
    Revoke,
    Token,
    UserCreate,
    UserPublic,
    UserUpdate,
)

public = APIRouter(tags=["auth"])
router = APIRouter(tags=["identity"])
Admin = Annotated[Principal, Depends(require("hub_admin"))]
KeyIssuer = Annotated[Principal, Depends(require("hub_admin", "site_admin"))]


def _org_content(session: SessionDep, org_id: str) -> dict[str, object] | None:
    org = session.get(Organization, org_id)
    return None if org is None else {
        "id": org.id, "name": org.name, "kind": org.kind, "jurisdiction": org.jurisdiction,
    }


register_signable("organization", _org_content, roles=("hub_admin",))


@public.post("/auth/token", response_model=Token)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """Exchange a user id and password for a short-lived bearer token (OAuth2 password flow)."""
    user = identity.authenticate(session, settings, form.username, form.password)
    token, ttl = security.issue_token(settings, user.id, user.organization_id, user.roles)
    return Token(access_token=token, expires_in=ttl)


@router.get("/me", response_model=Me)
def me(user: CurrentUser, session: SessionDep) -> Me:
    """The logged-in user and their organization."""
    org = identity.get_organization(session, user.organization_id)
    return Me.model_validate({**UserPublic.model_validate(user).model_dump(),
                              "organization": OrganizationPublic.model_validate(org)})


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(data: PasswordChange, user: CurrentUser, session: SessionDep,
                    settings: SettingsDep) -> None:
    """Change your password (policy applies; recent passwords cannot be reused)."""
    identity.change_password(session, settings, user, data.current_password, data.new_password)


@router.get("/organizations", response_model=list[OrganizationPublic])
def list_organizations(_: CurrentPrincipal, session: SessionDep) -> list[Organization]:
    """Consortium members (names and kinds are visible to every member)."""
    return list(identity.list_organizations(session))


@router.post("/organizations", response_model=OrganizationPublic, status_code=201)
def create_organization(data: OrganizationCreate, _: Admin, session: SessionDep) -> Organization:
    """Register a consortium member (hub admin)."""
    return identity.create_organization(session, data)


@router.get("/organizations/{org_id}", response_model=OrganizationPublic)
def get_organization(org_id: str, _: CurrentPrincipal, session: SessionDep) -> Organization:
    """One consortium member."""
    return identity.get_organization(session, org_id)


@router.get("/users", response_model=list[UserPublic])
def list_users(who: CurrentPrincipal, session: SessionDep) -> list[UserPublic]:
    """Users of your organization (all users for hub admins)."""
    return [UserPublic.model_validate(u) for u in identity.list_users(session, who)]


@router.post("/users", response_model=UserPublic, status_code=201)
def create_user(data: UserCreate, _: Admin, session: SessionDep,
                settings: SettingsDep) -> UserPublic:
    """Create a user account (hub admin); the password must meet the policy."""
    return UserPublic.model_validate(identity.create_user(session, settings, data))


@router.get("/users/{user_id}", response_model=UserPublic)
def get_user(user_id: str, who: CurrentPrincipal, session: SessionDep) -> UserPublic:
    """One user of your organization."""
    return UserPublic.model_validate(identity.get_user_for(session, who, user_id))


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(user_id: str, data: UserUpdate, who: Admin, session: SessionDep) -> UserPublic:
    """Change a user's details, roles or active flag (hub admin; a reason is required)."""
    return UserPublic.model_validate(identity.update_user(session, who, user_id, data))


@router.get("/api-keys", response_model=list[ApiKeyPublic])
def list_api_keys(who: KeyIssuer, session: SessionDep) -> list[ApiKeyPublic]:
    """Machine API keys of your organization (secrets are never shown again)."""
    return [ApiKeyPublic.model_validate(k) for k in identity.list_api_keys(session, who)]


@router.post("/api-keys", response_model=ApiKeyIssued, status_code=201)
def issue_api_key(data: ApiKeyCreate, who: KeyIssuer, session: SessionDep) -> ApiKeyIssued:
    """Issue a machine API key; the response carries the secret once."""
    key, secret = identity.issue_api_key(session, who, data)
    return ApiKeyIssued.model_validate({**ApiKeyPublic.model_validate(key).model_dump(),
                                        "key": secret})


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyPublic)
def revoke_api_key(key_id: str, data: Revoke, who: KeyIssuer,
                   session: SessionDep) -> ApiKeyPublic:
    """Revoke a machine API key at once (reason recorded in the audit trail)."""
    return ApiKeyPublic.model_validate(identity.revoke_api_key(session, who, key_id, data.reason))

