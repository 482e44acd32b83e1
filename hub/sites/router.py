"""Site enrollment, approval, credentials, keys and agent heartbeats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query

from hub.deps import CurrentPrincipal, CurrentUser, SessionDep, SettingsDep, require
from hub.errors import PermissionDenied
from hub.identity.principal import Principal
from hub.sites import credentials
from hub.sites import service as sites
from hub.sites.deps import CurrentSite
from hub.sites.models import Site, SiteKind, SiteStatus
from hub.sites.schemas import (
    ApiKeyRotated,
    CredentialStatus,
    Decision,
    EnrollmentTokenCreate,
    EnrollmentTokenIssued,
    Heartbeat,
    HeartbeatAck,
    KeyRotate,
    Proof,
    Reason,
    SiteCreate,
    SiteEnroll,
    SiteKeyPublic,
    SitePublic,
    SiteUpdate,
)

public = APIRouter(tags=["sites"])
router = APIRouter(tags=["sites"])
Admin = Annotated[Principal, Depends(require("hub_admin"))]
SiteManager = Annotated[Principal, Depends(require("hub_admin", "site_admin", "site_agent"))]


def _public(session: SessionDep, site: Site) -> SitePublic:
    out = SitePublic.model_validate(site)
    key = credentials.active_key(session, site.id)
    out.key_fingerprint = key.fingerprint if key else None
    return out


@public.post("/sites/enroll", response_model=SitePublic, status_code=201)
def enroll(data: SiteEnroll, session: SessionDep,
           authorization: Annotated[str | None, Header()] = None) -> SitePublic:
    """Submit an enrollment request from a site agent (``Authorization: Bearer <token>``)."""
    raw = authorization.split(" ", 1)[1] if authorization and " " in authorization else None
    return _public(session, sites.enroll_with_token(session, raw, data))


@public.post("/sites/{site_id}/credentials", response_model=CredentialStatus)
def pick_up_credentials(site_id: str, proof: Proof, session: SessionDep) -> CredentialStatus:
    """Enrollment state and the sealed site API key, for the holder of the site's private key."""
    site, sealed = credentials.credential_status(session, site_id, proof)
    detail = {
        SiteStatus.pending: "awaiting approval by a hub admin",
        SiteStatus.active: "approved" + ("; API key enclosed" if sealed else ""),
    }.get(site.status, site.status_reason or str(site.status))
    return CredentialStatus(site_id=site.id, status=site.status, detail=detail,
                            api_key=credentials.sealed_model(sealed))


@router.post("/sites/enrollment-tokens", response_model=EnrollmentTokenIssued, status_code=201)
def create_enrollment_token(data: EnrollmentTokenCreate, who: CurrentPrincipal,
                            session: SessionDep) -> EnrollmentTokenIssued:
    """Issue a single-use enrollment token for a site agent (shown once)."""
    token, secret = credentials.create_token(session, who, data)
    return EnrollmentTokenIssued(id=token.id, organization_id=token.organization_id,
                                 expires_at=token.expires_at, token=secret)


@router.post("/sites", response_model=SitePublic, status_code=201)
def request_enrollment(data: SiteCreate, who: CurrentPrincipal,
                       session: SessionDep) -> SitePublic:
    """Request enrollment of a plant or lab (site admin; pending until a hub admin decides)."""
    return _public(session, sites.request_enrollment(session, who, data))


@router.get("/sites", response_model=list[SitePublic])
def list_sites(who: CurrentPrincipal, session: SessionDep,
               status: Annotated[SiteStatus | None, Query()] = None,
               kind: Annotated[SiteKind | None, Query()] = None) -> list[SitePublic]:
    """Sites of your organization (all sites for hub admins), with status and last contact."""
    rows = sites.list_sites(session, who, status, kind)
    fps = sites.active_fingerprints(session, [s.id for s in rows])
    out = [SitePublic.model_validate(s) for s in rows]
    for item in out:
        item.key_fingerprint = fps.get(item.id)
    return out


@router.get("/sites/me", response_model=SitePublic)
def my_site(site: CurrentSite, session: SessionDep) -> SitePublic:
    """The calling agent's own site."""
    return _public(session, site)


@router.post("/sites/me/heartbeat", response_model=HeartbeatAck)
def heartbeat(data: Heartbeat, site: CurrentSite, session: SessionDep) -> HeartbeatAck:
    """Agent heartbeat: records last contact and the agent version."""
    credentials.heartbeat(session, site, data)
    assert site.last_contact_at is not None
    return HeartbeatAck(site_id=site.id, status=site.status, server_time=site.last_contact_at)


@router.get("/sites/{site_id}", response_model=SitePublic)
def get_site(site_id: str, who: CurrentPrincipal, session: SessionDep) -> SitePublic:
    """One site with its status, last contact and agent version."""
    return _public(session, sites.get_site_for(session, who, site_id))


@router.patch("/sites/{site_id}", response_model=SitePublic)
def update_site(site_id: str, data: SiteUpdate, who: CurrentPrincipal,
                session: SessionDep) -> SitePublic:
    """Change a site's location or capabilities (a reason is required)."""
    return _public(session, sites.update_site(session, who, site_id, data))


@router.post("/sites/{site_id}/approve", response_model=SitePublic)
def approve(site_id: str, data: Decision, _: CurrentUser, who: Admin, session: SessionDep,
            settings: SettingsDep) -> SitePublic:
    """Approve an enrollment with an electronic signature; issues the site's credentials."""
    site = sites.approve(session, settings, who, site_id, data.password, data.comment)
    return _public(session, site)


@router.post("/sites/{site_id}/reject", response_model=SitePublic)
def reject(site_id: str, data: Decision, _: CurrentUser, who: Admin, session: SessionDep,
           settings: SettingsDep) -> SitePublic:
    """Reject an enrollment with an electronic signature (the comment says why)."""
    return _public(session, sites.reject(session, settings, who, site_id, data.password,
                                         data.comment))


@router.post("/sites/{site_id}/suspend", response_model=SitePublic)
def suspend(site_id: str, data: Reason, who: Admin, session: SessionDep) -> SitePublic:
    """Suspend an active site: its agent is refused until resumed (hub admin)."""
    return _public(session, sites.suspend(session, who, site_id, data.reason))


@router.post("/sites/{site_id}/resume", response_model=SitePublic)
def resume(site_id: str, data: Reason, who: Admin, session: SessionDep) -> SitePublic:
    """Resume a suspended site (hub admin)."""
    return _public(session, sites.resume(session, who, site_id, data.reason))


@router.post("/sites/{site_id}/revoke", response_model=SitePublic)
def revoke(site_id: str, data: Reason, who: CurrentPrincipal, session: SessionDep) -> SitePublic:
    """Revoke a site for good; its API keys and site keys are revoked at once."""
    return _public(session, sites.revoke(session, who, site_id, data.reason))


def _managed_site(session: SessionDep, who: Principal, site_id: str) -> Site:
    site = sites.get_site_for(session, who, site_id)
    if who.is_user and not who.has("site_admin", "hub_admin"):
        raise PermissionDenied("Managing site keys needs a site admin or hub admin")
    return site


@router.get("/sites/{site_id}/keys", response_model=list[SiteKeyPublic])
def list_keys(site_id: str, who: CurrentPrincipal, session: SessionDep) -> list[SiteKeyPublic]:
    """The site's public keys, current and past."""
    sites.get_site_for(session, who, site_id)
    return [SiteKeyPublic.model_validate(k) for k in credentials.list_keys(session, site_id)]


@router.post("/sites/{site_id}/keys", response_model=SiteKeyPublic, status_code=201)
def rotate_key(site_id: str, data: KeyRotate, who: SiteManager,
               session: SessionDep) -> SiteKeyPublic:
    """Rotate the site's public key: the new key is active, the old one retired."""
    site = _managed_site(session, who, site_id)
    return SiteKeyPublic.model_validate(
        credentials.rotate_public_key(session, site, data.public_key, data.reason))


@router.post("/sites/{site_id}/keys/{key_id}/revoke", response_model=SiteKeyPublic)
def revoke_key(site_id: str, key_id: str, data: Reason, who: SiteManager,
               session: SessionDep) -> SiteKeyPublic:
    """Revoke one of the site's public keys (e.g. suspected compromise)."""
    site = _managed_site(session, who, site_id)
    return SiteKeyPublic.model_validate(
        credentials.revoke_public_key(session, site, key_id, data.reason))


@router.post("/sites/{site_id}/api-key/rotate", response_model=ApiKeyRotated)
def rotate_api_key(site_id: str, data: Reason, who: SiteManager,
                   session: SessionDep) -> ApiKeyRotated:
    """Revoke the site's API keys and seal a new one for the agent to pick up."""
    site = _managed_site(session, who, site_id)
    key = credentials.rotate_api_key(session, who, site, data.reason)
    return ApiKeyRotated(site_id=site.id, api_key_prefix=key.prefix,
                         detail="new key sealed to the site's public key; the agent picks it "
                                "up with POST /sites/{id}/credentials")


def mount(app: FastAPI, authenticated: Sequence[Any]) -> None:
    """Mount the site routes (enrollment and credential pickup are public) and monitoring."""
    from hub.monitoring.router import router as monitoring

    app.include_router(public)
    app.include_router(router, dependencies=list(authenticated))
    app.include_router(monitoring, dependencies=list(authenticated))

