"""Site enrollment, approval with e-signature, lifecycle (suspend/resume/revoke), listing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.audit import signatures
from hub.audit.signatures import Meaning
from hub.config import Settings
from hub.db import utcnow
from hub.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from hub.identity import service as identity
from hub.identity.models import ApiKey
from hub.identity.principal import Principal
from hub.sites import credentials, crypto
from hub.sites.flows import registrar
from hub.sites.models import CredentialDelivery, KeyStatus, Site, SiteKey, SiteStatus
from hub.sites.schemas import SiteBase, SiteCreate, SiteUpdate

SIGNABLE = "site"


def _check_datasets(datasets: list[str]) -> None:
    """Each declared dataset must be a standard the hub knows (when the registry is present)."""
    try:
        from standards import registry
    except ImportError:  # standards not installed in this deployment: syntax check only
        return
    errors = []
    for i, sid in enumerate(datasets):
        name, _, version = sid.partition("/")
        try:
            registry.get(name, version)
        except Exception:  # the registry raises its own lookup error
            errors.append({"pointer": f"/capabilities/datasets/{i}",
                           "message": f"unknown standard {sid}"})
    if errors:
        raise ValidationFailed("Capabilities name unknown standards", errors=errors)


def _new_site(session: Session, org_id: str, requested_by: str, data: SiteBase) -> Site:
    identity.get_organization(session, org_id)
    key = crypto.load_public_key(data.public_key)
    fp = crypto.fingerprint(key)
    if session.exec(select(SiteKey).where(SiteKey.fingerprint == fp)).first():
        raise Conflict("This public key is already registered to a site; generate a new key "
                       "pair at the site", errors=[{"pointer": "/public_key",
                                                    "message": "already registered"}])
    if session.exec(select(Site).where(Site.organization_id == org_id,
                                       Site.name == data.name)).first():
        raise Conflict(f"Your organization already has a site named {data.name!r}",
                       errors=[{"pointer": "/name", "message": "already exists"}])
    _check_datasets(data.capabilities.datasets)
    site = Site(name=data.name, organization_id=org_id, kind=data.kind,
                location=data.location.model_dump(exclude_none=True),
                datasets=data.capabilities.datasets, tasks=data.capabilities.tasks,
                requested_by=requested_by, agent_version=data.agent_version)
    session.add(site)
    session.flush()
    session.add(SiteKey(site_id=site.id, public_key=crypto.openssh(key), fingerprint=fp))
    session.flush()
    return site


def request_enrollment(session: Session, who: Principal, data: SiteCreate) -> Site:
    """A site admin (own organization) or hub admin (any) asks to enroll a site."""
    if not who.is_user or not who.has("site_admin", "hub_admin"):
        raise PermissionDenied("Enrolling a site needs a site admin or hub admin")
    org_id = data.organization_id or who.org_id
    if org_id != who.org_id and not who.is_hub_admin:
        raise PermissionDenied("You can only enroll sites of your own organization")
    return _new_site(session, org_id, who.id, data)


def enroll_with_token(session: Session, raw_token: str | None, data: SiteBase) -> Site:
    """A site agent submits enrollment with a single-use token from its site admin."""
    token = credentials.consume_token(session, raw_token)
    audit.set_actor(session, audit.Actor(id=f"token:{token.id}", name="site-agent enrollment",
                                         org_id=token.organization_id))
    site = _new_site(session, token.organization_id, token.created_by, data)
    with audit.reason(session, "enrollment token used"):
        token.used_at, token.site_id = utcnow(), site.id
        session.add(token)
    return site


def visible(who: Principal, site: Site) -> bool:
    if who.is_hub_admin:
        return True
    if not who.is_user:
        return who.site_id == site.id
    return site.organization_id == who.org_id


def get_site_for(session: Session, who: Principal, site_id: str) -> Site:
    """A site visible to the caller (own organization or own site; all for hub admins)."""
    site = session.get(Site, site_id)
    if site is None or not visible(who, site):
        raise NotFound(f"Site {site_id} not found")
    return site


def list_sites(session: Session, who: Principal, status: SiteStatus | None = None,
               kind: str | None = None) -> Sequence[Site]:
    stmt = select(Site).order_by(col(Site.name))
    if not who.is_hub_admin:
        stmt = (stmt.where(Site.organization_id == who.org_id) if who.is_user
                else stmt.where(Site.id == (who.site_id or "")))
    if status:
        stmt = stmt.where(Site.status == status)
    if kind:
        stmt = stmt.where(Site.kind == kind)
    return session.exec(stmt).all()


def active_fingerprints(session: Session, site_ids: list[str]) -> dict[str, str]:
    rows = session.exec(select(SiteKey).where(col(SiteKey.site_id).in_(site_ids),
                                              SiteKey.status == KeyStatus.active))
    return {k.site_id: k.fingerprint for k in rows}


def update_site(session: Session, who: Principal, site_id: str, data: SiteUpdate) -> Site:
    site = get_site_for(session, who, site_id)
    if not who.is_user or not who.has("site_admin", "hub_admin"):
        raise PermissionDenied("Changing a site needs a site admin or hub admin")
    with audit.reason(session, data.reason):
        if data.location is not None:
            site.location = data.location.model_dump(exclude_none=True)
        if data.capabilities is not None:
            _check_datasets(data.capabilities.datasets)
            site.datasets, site.tasks = data.capabilities.datasets, data.capabilities.tasks
        session.add(site)
    return site


def signable_content(session: Session, site_id: str) -> dict[str, Any] | None:
    """What an enrollment signature covers: the request as submitted, with its first key."""
    site = session.get(Site, site_id)
    if site is None:
        return None
    first = session.exec(select(SiteKey).where(SiteKey.site_id == site_id)
                         .order_by(col(SiteKey.created_at))).first()
    return {"id": site.id, "name": site.name, "organization_id": site.organization_id,
            "kind": site.kind, "location": site.location, "datasets": site.datasets,
            "tasks": site.tasks, "requested_by": site.requested_by,
            "requested_at": site.requested_at.isoformat(),
            "key_fingerprint": first.fingerprint if first else None}


# approvals sign through the flows below, not the generic POST /signatures (no roles)
signatures.register_signable(SIGNABLE, signable_content, roles=())


def _pending(session: Session, site_id: str) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"Site {site_id} not found")
    if site.status != SiteStatus.pending:
        raise Conflict(f"Site is {site.status}; only pending requests can be decided")
    return site


def approve(session: Session, settings: Settings, who: Principal, site_id: str,
            password: str, comment: str | None) -> Site:
    """Hub admin signs the request; the site becomes active and its credentials are issued."""
    site = _pending(session, site_id)
    signatures.sign(session, settings, signer_id=who.id, password=password,
                    meaning=Meaning.approved, entity_type=SIGNABLE, entity_id=site.id,
                    comment=comment or "site enrollment approved")
    with audit.reason(session, comment or "site enrollment approved"):
        site.status, site.decided_by, site.decided_at = SiteStatus.active, who.id, utcnow()
        site.status_reason = comment
        session.add(site)
    credentials.issue_site_api_key(session, who, site)
    key = credentials.active_key(session, site.id)
    if key is not None:
        credentials.register_key(session, site, key)
    return site


def reject(session: Session, settings: Settings, who: Principal, site_id: str,
           password: str, comment: str | None) -> Site:
    """Hub admin rejects the request (signed, with the reason as the signature comment)."""
    if not comment or len(comment.strip()) < 3:
        raise ValidationFailed("A rejection needs a comment saying why",
                               errors=[{"pointer": "/comment", "message": "required"}])
    site = _pending(session, site_id)
    signatures.sign(session, settings, signer_id=who.id, password=password,
                    meaning=Meaning.reviewed, entity_type=SIGNABLE, entity_id=site.id,
                    comment=f"rejected: {comment}")
    with audit.reason(session, comment):
        site.status, site.decided_by, site.decided_at = SiteStatus.rejected, who.id, utcnow()
        site.status_reason = comment
        session.add(site)
    return site


def _set_status(session: Session, site: Site, status: SiteStatus, why: str) -> None:
    with audit.reason(session, why):
        site.status, site.status_reason = status, why
        session.add(site)


def suspend(session: Session, who: Principal, site_id: str, why: str) -> Site:
    site = get_site_for(session, who, site_id)
    if site.status != SiteStatus.active:
        raise Conflict(f"Site is {site.status}; only active sites can be suspended")
    _set_status(session, site, SiteStatus.suspended, why)
    return site


def resume(session: Session, who: Principal, site_id: str, why: str) -> Site:
    site = get_site_for(session, who, site_id)
    if site.status != SiteStatus.suspended:
        raise Conflict(f"Site is {site.status}; only suspended sites can be resumed")
    _set_status(session, site, SiteStatus.active, why)
    return site


def revoke(session: Session, who: Principal, site_id: str, why: str) -> Site:
    """Revoke a site for good: its API keys and site keys are revoked in the same transaction."""
    site = get_site_for(session, who, site_id)
    if not who.is_user or not who.has("site_admin", "hub_admin"):
        raise PermissionDenied("Revoking a site needs a site admin or hub admin")
    if site.status == SiteStatus.revoked:
        return site
    now = utcnow()
    with audit.reason(session, why):
        _set_status(session, site, SiteStatus.revoked, why)
        for key in session.exec(select(ApiKey).where(ApiKey.site_id == site.id,
                                                     col(ApiKey.revoked_at).is_(None))):
            key.revoked_at = now
            session.add(key)
        for sk in session.exec(select(SiteKey).where(SiteKey.site_id == site.id,
                                                     SiteKey.status == KeyStatus.active)):
            registrar().unregister(site, sk)
            sk.status, sk.retired_at = KeyStatus.revoked, now
            session.add(sk)
    delivery = session.get(CredentialDelivery, site.id)
    if delivery is not None:
        session.delete(delivery)
    session.flush()
    return site
