"""Site credentials: enrollment tokens, sealed API key delivery, key rotation, heartbeats."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.db import utcnow
from hub.errors import AuthenticationRequired, Conflict, NotFound, PermissionDenied
from hub.identity import security
from hub.identity import service as identity
from hub.identity.models import ApiKey
from hub.identity.principal import Principal
from hub.identity.schemas import ApiKeyCreate
from hub.sites import crypto
from hub.sites.flows import registrar
from hub.sites.models import (
    CredentialDelivery,
    EnrollmentToken,
    KeyStatus,
    Site,
    SiteKey,
    SiteStatus,
)
from hub.sites.schemas import EnrollmentTokenCreate, Heartbeat, Proof, SealedSecret

TOKEN_PREFIX = "fhe"
CONTACT_RESOLUTION = timedelta(seconds=15)


def active_key(session: Session, site_id: str) -> SiteKey | None:
    return session.exec(select(SiteKey).where(SiteKey.site_id == site_id,
                                              SiteKey.status == KeyStatus.active)
                        .order_by(col(SiteKey.created_at).desc())).first()


def create_token(session: Session, who: Principal,
                 data: EnrollmentTokenCreate) -> tuple[EnrollmentToken, str]:
    """A single-use enrollment token for the caller's organization; the secret is shown once."""
    if not who.is_user or not who.has("site_admin", "hub_admin"):
        raise PermissionDenied("Enrollment tokens are issued by site admins and hub admins")
    org_id = data.organization_id or who.org_id
    if org_id != who.org_id and not who.is_hub_admin:
        raise PermissionDenied("You can only issue tokens for your own organization")
    identity.get_organization(session, org_id)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    token = EnrollmentToken(prefix=prefix, secret_hash=security.hash_api_secret(secret),
                            organization_id=org_id, created_by=who.id,
                            expires_at=utcnow() + timedelta(hours=data.valid_hours))
    session.add(token)
    session.flush()
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


def consume_token(session: Session, raw: str | None) -> EnrollmentToken:
    """The unused, unexpired token matching ``raw``; 401 otherwise (no detail on which)."""
    parts = (raw or "").split("_", 2)
    token = None
    if len(parts) == 3 and parts[0] == TOKEN_PREFIX:
        token = session.exec(select(EnrollmentToken)
                             .where(EnrollmentToken.prefix == parts[1])).first()
    if (token is None or not security.api_secret_matches(parts[2], token.secret_hash)
            or token.used_at is not None or token.expires_at <= utcnow()):
        raise AuthenticationRequired("Enrollment token is invalid, used or expired; ask your "
                                     "site admin for a new one")
    return token


def issue_site_api_key(session: Session, who: Principal, site: Site) -> ApiKey:
    """Issue the site's API key and seal it to the site's public key for agent pickup."""
    key_row = active_key(session, site.id)
    if key_row is None:
        raise Conflict("The site has no active public key to seal its credentials to")
    api_key, secret = identity.issue_api_key(session, who, ApiKeyCreate(
        name=f"site:{site.name}", organization_id=site.organization_id, site_id=site.id))
    sealed = crypto.seal(key_row.public_key, secret.encode(), context=site.id)
    delivery = session.get(CredentialDelivery, site.id)
    if delivery is None:
        delivery = CredentialDelivery(site_id=site.id, api_key_id=api_key.id)
    delivery.api_key_id, delivery.sealed = api_key.id, sealed
    delivery.created_at, delivery.picked_up_at = utcnow(), None
    session.add(delivery)
    session.flush()
    return api_key


def _revoke_site_api_keys(session: Session, site_id: str) -> None:
    now = utcnow()
    for key in session.exec(select(ApiKey).where(ApiKey.site_id == site_id,
                                                 col(ApiKey.revoked_at).is_(None))):
        key.revoked_at = now
        session.add(key)


def rotate_api_key(session: Session, who: Principal, site: Site, why: str) -> ApiKey:
    """Revoke the site's API keys and seal a new one for pickup by the agent."""
    if site.status != SiteStatus.active:
        raise Conflict(f"Site is {site.status}; only active sites get new API keys")
    with audit.reason(session, why):
        _revoke_site_api_keys(session, site.id)
        session.flush()
    return issue_site_api_key(session, who, site)


def credential_status(session: Session, site_id: str, proof: Proof) -> tuple[Site, dict | None]:
    """The site's state and its sealed API key (if awaiting pickup), for its key holder only."""
    site = session.get(Site, site_id)
    key_row = active_key(session, site_id) if site else None
    if site is None or key_row is None:
        raise AuthenticationRequired("Proof of key possession failed")
    crypto.verify_proof(key_row.public_key, site_id, "credentials", proof.timestamp,
                        proof.nonce, proof.signature)
    delivery = session.get(CredentialDelivery, site_id)
    sealed = None
    if site.status == SiteStatus.active and delivery is not None and delivery.sealed:
        sealed = delivery.sealed
        if delivery.picked_up_at is None:
            delivery.picked_up_at = utcnow()
            session.add(delivery)
    return site, sealed


def api_key_used(session: Session, site_id: str, api_key_id: str) -> None:
    """The agent authenticated with its delivered key: erase the sealed copy."""
    delivery = session.get(CredentialDelivery, site_id)
    if delivery is not None and delivery.sealed and delivery.api_key_id == api_key_id:
        delivery.sealed = None
        session.add(delivery)


def register_key(session: Session, site: Site, key: SiteKey) -> None:
    node = registrar().register(site, key)
    if node:
        with audit.reason(session, "registered with the SuperLink"):
            key.supernode_id = node
            session.add(key)


def rotate_public_key(session: Session, site: Site, public_key: str, why: str) -> SiteKey:
    """Replace the site's public key: the new one becomes active, the old one is retired."""
    if site.status != SiteStatus.active:
        raise Conflict(f"Site is {site.status}; only active sites can rotate keys")
    parsed = crypto.load_public_key(public_key)
    fp = crypto.fingerprint(parsed)
    if session.exec(select(SiteKey).where(SiteKey.fingerprint == fp)).first():
        raise Conflict("This public key was registered before; generate a fresh key pair",
                       errors=[{"pointer": "/public_key", "message": "already registered"}])
    now = utcnow()
    with audit.reason(session, why):
        for old in session.exec(select(SiteKey).where(SiteKey.site_id == site.id,
                                                      SiteKey.status == KeyStatus.active)):
            registrar().unregister(site, old)
            old.status, old.retired_at = KeyStatus.retired, now
            session.add(old)
        session.flush()
    new = SiteKey(site_id=site.id, public_key=crypto.openssh(parsed), fingerprint=fp)
    session.add(new)
    session.flush()
    register_key(session, site, new)
    return new


def revoke_public_key(session: Session, site: Site, key_id: str, why: str) -> SiteKey:
    key = session.get(SiteKey, key_id)
    if key is None or key.site_id != site.id:
        raise NotFound(f"Key {key_id} not found")
    if key.status != KeyStatus.revoked:
        registrar().unregister(site, key)
        with audit.reason(session, why):
            key.status, key.retired_at = KeyStatus.revoked, key.retired_at or utcnow()
            session.add(key)
    return key


def list_keys(session: Session, site_id: str) -> Sequence[SiteKey]:
    return session.exec(select(SiteKey).where(SiteKey.site_id == site_id)
                        .order_by(col(SiteKey.created_at))).all()


def touch(session: Session, site: Site, agent_version: str | None = None) -> None:
    """Record contact from the site's agent (coarse-grained, to keep writes rare)."""
    now = utcnow()
    stale = site.last_contact_at is None or now - site.last_contact_at > CONTACT_RESOLUTION
    if stale or (agent_version and agent_version != site.agent_version):
        site.last_contact_at = now
        if agent_version:
            site.agent_version = agent_version
        session.add(site)


def heartbeat(session: Session, site: Site, data: Heartbeat) -> Site:
    site.last_contact_at = None  # force the write
    touch(session, site, data.agent_version)
    session.flush()
    return site


def sealed_model(sealed: dict | None) -> SealedSecret | None:
    return SealedSecret.model_validate(sealed) if sealed else None
