"""Request dependencies for site agents: the calling site, idempotent message handling."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Request

from hub.deps import CurrentPrincipal, SessionDep
from hub.errors import PermissionDenied
from hub.sites import credentials
from hub.sites.idempotency import Idempotency
from hub.sites.models import Site, SiteStatus


def get_current_site(who: CurrentPrincipal, session: SessionDep) -> Site:
    """The site whose agent is calling; refused unless the site is active."""
    if who.is_user or not who.site_id:
        raise PermissionDenied("Only a site agent (site API key) can call this")
    site = session.get(Site, who.site_id)
    if site is None or site.status != SiteStatus.active:
        state = site.status if site else "unknown"
        raise PermissionDenied(f"Site is {state}; its agent is refused")
    credentials.touch(session, site)
    credentials.api_key_used(session, site.id, who.id)
    return site


CurrentSite = Annotated[Site, Depends(get_current_site)]


async def get_idempotency(request: Request, site: CurrentSite,
                          session: SessionDep) -> Idempotency:
    """The ``Idempotency-Key`` of a site message, with a hash of the body it came with."""
    body = await request.body()
    return Idempotency(session=session, site_id=site.id,
                       key=request.headers.get("idempotency-key"), method=request.method,
                       path=request.url.path, request_hash=hashlib.sha256(body).hexdigest())


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
