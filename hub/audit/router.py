"""Audit trail queries, chain verification and electronic signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select

from hub.audit import service as audit
from hub.audit import signatures
from hub.audit.models import AuditEntry, ESignature
from hub.audit.schemas import (
    AuditEntryPublic,
    ChainVerification,
    SignaturePublic,
    SignatureVerification,
    SignRequest,
)
from hub.deps import CurrentPrincipal, CurrentUser, Offset, SessionDep, SettingsDep, require
from hub.errors import NotFound, PermissionDenied
from hub.identity.models import User
from hub.identity.principal import Principal

router = APIRouter(tags=["audit"])
Auditor = Annotated[Principal, Depends(require("hub_admin", "qa", "regulator", "site_admin"))]


@router.get("/audit", response_model=list[AuditEntryPublic])
def list_entries(
    who: Auditor,
    session: SessionDep,
    entity_type: str | None = None,
    entity_id: str | None = None,
    after_seq: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    """Audit entries in chain order (your organization's unless you are a hub admin)."""
    stmt = select(AuditEntry).where(AuditEntry.seq > after_seq)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if not who.is_hub_admin:
        stmt = stmt.where(AuditEntry.actor_org_id == who.org_id)
    return list(session.exec(stmt.order_by(col(AuditEntry.seq)).limit(limit)))


@router.get("/audit/verify", response_model=ChainVerification)
def verify_chain(_: Auditor, session: SessionDep) -> ChainVerification:
    """Recompute the whole hash chain and name the first broken entry, if any."""
    return ChainVerification.model_validate(audit.verify_chain(session).__dict__)


def _visible(session: SessionDep, who: Principal, sig: ESignature) -> bool:
    """Signatures by people of the caller's organization (every one for hub admins)."""
    if who.is_hub_admin:
        return True
    signer = session.get(User, sig.signer_id)
    return signer is not None and signer.organization_id == who.org_id


@router.post("/signatures", response_model=SignaturePublic, status_code=201)
def sign(data: SignRequest, user: CurrentUser, who: CurrentPrincipal, session: SessionDep,
         settings: SettingsDep) -> SignaturePublic:
    """Sign a record electronically (password re-entry; meaning is recorded)."""
    allowed = signatures.signer_roles(data.entity_type)
    if not who.has(*allowed):
        raise PermissionDenied(f"You may not sign {data.entity_type} records here")
    sig = signatures.sign(session, settings, signer_id=user.id, password=data.password,
                          meaning=data.meaning, entity_type=data.entity_type,
                          entity_id=data.entity_id, comment=data.comment)
    return SignaturePublic.model_validate(sig)


@router.get("/signatures", response_model=list[SignaturePublic])
def list_signatures(entity_type: str, entity_id: str, who: CurrentPrincipal,
                    session: SessionDep) -> list[SignaturePublic]:
    """Signatures on one record, oldest first (your organization's unless you are a hub
    admin, like the audit trail)."""
    return [SignaturePublic.model_validate(s)
            for s in signatures.for_record(session, entity_type, entity_id)
            if _visible(session, who, s)]


@router.get("/signatures/{sig_id}/verify", response_model=SignatureVerification)
def verify_signature(sig_id: str, who: CurrentPrincipal,
                     session: SessionDep) -> SignatureVerification:
    """Check that a signature is intact and still bound to the unchanged record."""
    sig = signatures.get(session, sig_id)
    if not _visible(session, who, sig):
        raise NotFound(f"Signature {sig_id} not found")
    check = signatures.verify(session, sig)
    return SignatureVerification.model_validate(check.__dict__)
