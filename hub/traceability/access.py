"""Who sees whose traceability data: the capturing organization and its declared partners."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.errors import NotFound, PermissionDenied, ValidationFailed
from hub.identity.models import Organization, OrgKind
from hub.identity.principal import Principal
from hub.traceability.models import PartnerRole, TracePartner

MANAGER_ROLES = ("site_admin", "qa", "hub_admin")
CAPTURE_ROLES = MANAGER_ROLES


def can_capture(who: Principal) -> bool:
    """Site agents (machine keys) and site admins / QA capture for their own organization."""
    return not who.is_user or who.has(*CAPTURE_ROLES)


def require_capture(who: Principal) -> None:
    if not can_capture(who):
        raise PermissionDenied("Capturing events needs a site API key or the site_admin or qa "
                               "role")


def require_manager(who: Principal) -> None:
    if not who.is_user or not who.has(*MANAGER_ROLES):
        raise PermissionDenied("Requires a person with one of the roles: "
                               + ", ".join(MANAGER_ROLES))


def visible_orgs(session: Session, org_id: str) -> list[str]:
    """The organization itself first, then every organization that declared it a partner."""
    rows = session.exec(
        select(TracePartner.org_id).where(TracePartner.partner_org_id == org_id)
        .order_by(col(TracePartner.created_at))
    ).all()
    return [org_id, *[r for r in rows if r != org_id]]


def partners_of(session: Session, org_id: str,
                role: PartnerRole | None = None) -> Sequence[TracePartner]:
    stmt = select(TracePartner).where(TracePartner.org_id == org_id)
    if role is not None:
        stmt = stmt.where(TracePartner.role == role)
    return session.exec(stmt.order_by(col(TracePartner.created_at))).all()


def _default_role(org: Organization) -> PartnerRole:
    if org.kind == OrgKind.logistics:
        return PartnerRole.logistics
    if org.kind == OrgKind.regulator:
        return PartnerRole.regulator
    return PartnerRole.distributor


def declare_partner(session: Session, who: Principal, partner_org_id: str,
                    role: PartnerRole | None, reason: str | None = None) -> TracePartner:
    """Let another organization read your events (or change its role, with a reason)."""
    require_manager(who)
    if partner_org_id == who.org_id:
        raise ValidationFailed("An organization is always its own partner", errors=[
            {"pointer": "/partner_org_id", "message": "must be another organization"}])
    org = session.get(Organization, partner_org_id)
    if org is None:
        raise NotFound(f"Organization {partner_org_id} not found")
    link = session.exec(select(TracePartner).where(
        TracePartner.org_id == who.org_id, TracePartner.partner_org_id == partner_org_id)).first()
    wanted = role or _default_role(org)
    if link is None:
        link = TracePartner(org_id=who.org_id, partner_org_id=partner_org_id, role=wanted,
                            created_by=who.id)
        session.add(link)
        session.flush()
    elif link.role != wanted:
        with audit.reason(session, reason or ""):
            link.role = wanted
            session.add(link)
    return link


def remove_partner(session: Session, who: Principal, partner_org_id: str, reason: str) -> None:
    """Withdraw a partner's read access (the reason goes to the audit trail)."""
    require_manager(who)
    link = session.exec(select(TracePartner).where(
        TracePartner.org_id == who.org_id, TracePartner.partner_org_id == partner_org_id)).first()
    if link is None:
        raise NotFound(f"Organization {partner_org_id} is not a partner")
    with audit.reason(session, reason):
        session.delete(link)
