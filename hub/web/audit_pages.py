"""Audit trail pages: browse entries and the hash-chain verification status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.audit.models import AuditEntry
from hub.db import utcnow
from hub.web.auth import REFRESH_HEADER, WebUser, require_page_role
from hub.web.rendering import Area, fragment, register_area, render
from hub.web.routing import page_router
from hub.web.transaction import PageSession

AUDITOR_ROLES = ("hub_admin", "qa", "regulator", "site_admin")
PAGE_SIZE = 50
FRESH_SECONDS = 60  # a verification this recent is shown on the audit page without redoing it
router = page_router("/web")
Auditor = Annotated[WebUser, Depends(require_page_role(*AUDITOR_ROLES))]

register_area(Area("Audit trail", "/web/audit",
                   "Who did what, when and why — and whether the tamper-evident chain is intact.",
                   roles=AUDITOR_ROLES, order=90))


@dataclass(frozen=True)
class ChainStatus:
    report: audit.ChainReport
    checked_at: datetime


def verify_now(request: Request, session: Session) -> ChainStatus:
    """Recompute the whole chain (O(entries)) and remember the result for this hub process."""
    status = ChainStatus(audit.verify_chain(session), utcnow())
    request.app.state.web_chain_status = status
    return status


def recent_status(request: Request) -> ChainStatus | None:
    status: ChainStatus | None = getattr(request.app.state, "web_chain_status", None)
    if status and (utcnow() - status.checked_at).total_seconds() <= FRESH_SECONDS:
        return status
    return None


@router.get("/audit")
def audit_trail(
    request: Request, who: Auditor, session: PageSession,
    entity_type: Annotated[str, Query(max_length=64)] = "",
    entity_id: Annotated[str, Query(max_length=64)] = "",
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """Audit entries, newest first (your organization's unless you are a hub admin)."""
    stmt = select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if not who.is_hub_admin:
        stmt = stmt.where(AuditEntry.actor_org_id == who.org_id)
    if before:
        stmt = stmt.where(AuditEntry.seq < before)
    entries = list(session.exec(stmt.order_by(col(AuditEntry.seq).desc()).limit(PAGE_SIZE + 1)))
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    types = session.exec(select(AuditEntry.entity_type).distinct()
                         .order_by(col(AuditEntry.entity_type))).all()
    return render(request, "audit.html", {
        "entries": entries, "older": entries[-1].seq if more and entries else None,
        "entity_type": entity_type, "entity_id": entity_id, "paged": before is not None,
        "types": types, "status": recent_status(request), "scoped": not who.is_hub_admin,
    })


@router.get("/audit/status")
def chain_status(request: Request, who: Auditor, session: PageSession) -> HTMLResponse:
    """Verify the chain now: a page, or the fragment the audit page refreshes live."""
    status = verify_now(request, session)
    if request.headers.get(REFRESH_HEADER):
        return fragment(request, "_audit_status.html", {"status": status})
    return render(request, "audit_status.html", {"status": status})
