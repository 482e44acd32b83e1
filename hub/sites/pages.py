"""Site pages: enrollment tokens, sites and their credentials, hub-admin approvals."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from hub.config import Settings
from hub.deps import SettingsDep
from hub.errors import (
    AccountLocked,
    HubError,
    NotFound,
    PermissionDenied,
    SignatureRejected,
    ValidationFailed,
)
from hub.identity import service as identity
from hub.identity.models import ApiKey
from hub.identity.principal import Principal
from hub.monitoring import service as monitoring
from hub.monitoring.models import ShadowReport
from hub.sites import credentials
from hub.sites import service as sites
from hub.sites.models import CredentialDelivery, EnrollmentToken, Site, SiteStatus
from hub.sites.schemas import EnrollmentTokenCreate, Reason
from hub.web import (
    FORM_ERRORS,
    Area,
    ESignForm,
    ESignInput,
    PageSession,
    Series,
    WebUser,
    fail,
    form_errors,
    line_chart,
    page_router,
    redirect,
    register_area,
    render,
    require_page_role,
    signature_rows,
)

pages = page_router("/web")
VIEW_ROLES = ("site_admin", "qa", "hub_admin")
Viewer = Annotated[WebUser, Depends(require_page_role(*VIEW_ROLES))]
Manager = Annotated[WebUser, Depends(require_page_role("site_admin", "hub_admin"))]
HubAdmin = Annotated[WebUser, Depends(require_page_role("hub_admin"))]

register_area(Area("Sites", "/web/sites",
                   "Enroll plants and labs, follow their agents, credentials and models.",
                   roles=VIEW_ROLES, order=30))
register_area(Area("Enrollment requests", "/web/enrollments",
                   "Approve or reject pending site enrollments with your electronic signature.",
                   roles=("hub_admin",), order=31))


# --------------------------------------------------------------------------- models in use

@dataclass(frozen=True)
class ModelInUse:
    """A model a site runs: ``role`` is "production" (acts) or "shadow" (scored alongside)."""

    role: str
    name: str
    version: str | None = None
    since: datetime | None = None
    source: str = "model registry"


ModelProvider = Callable[[Session, Principal, Site], list[ModelInUse]]
_model_provider: ModelProvider | None = None


def set_model_provider(provider: ModelProvider | None) -> None:
    """Replace the default view of a site's models (the registry's versions of its tasks)."""
    global _model_provider
    _model_provider = provider


def registry_models(session: Session, who: Principal, site: Site) -> list[ModelInUse] | None:
    """Production and shadow versions of the site's federated tasks; None without a registry."""
    try:
        from hub.registry import service as registry
        from hub.registry.models import ModelStatus
    except ImportError:  # a hub built without the federation model registry
        return None
    return [ModelInUse(status.value, task, f"v{m.version}", m.promoted_at or m.created_at)
            for task in site.tasks for status in (ModelStatus.production, ModelStatus.shadow)
            for m in registry.list_models(session, task, status)]


def models_in_use(session: Session, who: Principal, site: Site,
                  reports: Sequence[ShadowReport]) -> tuple[list[ModelInUse], bool]:
    """(models, registry_connected): the registry's versions of the site's tasks; where it
    has none (or is absent), the scorers the site's latest shadow report names."""
    found = (_model_provider(session, who, site) if _model_provider is not None
             else registry_models(session, who, site))
    if found:
        return found, True
    if not reports:
        return [], found is not None
    last = reports[0]
    return [ModelInUse("production", last.current_scorer, since=last.window_end,
                       source="shadow report"),
            ModelInUse("shadow", last.shadow_scorer, since=last.window_end,
                       source="shadow report")], found is not None


# --------------------------------------------------------------------------- helpers

def hub_url(request: Request, settings: Settings) -> str:
    """The URL site agents reach the hub at: FEDHUB_PUBLIC_URL when set, else this page's."""
    if "public_url" in settings.model_fields_set:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def enroll_commands(url: str, token: str) -> list[str]:
    """The commands to run at the site (init with placeholders, then enroll with the token)."""
    return [f"site-agent init --name \"<site name>\" --kind plant --enterprise <enterprise> "
            f"--site <site code> --hub {shlex.quote(url)}",
            f"site-agent enroll --token {shlex.quote(token)}"]


def _tokens(session: Session, who: Principal) -> Sequence[EnrollmentToken]:
    stmt = select(EnrollmentToken).order_by(col(EnrollmentToken.created_at).desc()).limit(20)
    if not who.is_hub_admin:
        stmt = stmt.where(EnrollmentToken.organization_id == who.org_id)
    return session.exec(stmt).all()


def _org_names(session: Session) -> dict[str, str]:
    return {o.id: o.name for o in identity.list_organizations(session)}


def _list_page(request: Request, session: Session, who: WebUser, settings: Settings,
               status: str = "", errors: dict[str, str] | None = None,
               issued: tuple[EnrollmentToken, str] | None = None,
               form: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    wanted = _status(status)
    rows = sites.list_sites(session, who.principal, wanted)
    counts, _ = monitoring.summary(session, who.principal)
    return render(request, "sites/list.html", {
        "sites": rows, "status": status, "statuses": [s.value for s in SiteStatus],
        "fingerprints": sites.active_fingerprints(session, [s.id for s in rows]),
        "counts": {c.site_id: c for c in counts}, "org_names": _org_names(session),
        "tokens": _tokens(session, who.principal), "errors": errors or {},
        "form": form or {"valid_hours": "24", "organization_id": who.org_id},
        "issued": issued[0] if issued else None,
        "commands": enroll_commands(hub_url(request, settings), issued[1]) if issued else [],
        "secret": issued[1] if issued else None,
    }, status_code)


def _status(value: str) -> SiteStatus | None:
    if not value:
        return None
    try:
        return SiteStatus(value)
    except ValueError as exc:
        raise ValidationFailed(f"Unknown site status {value!r}", errors=[
            {"pointer": "/status", "message": "unknown status"}]) from exc


def credential_state(site: Site, delivery: CredentialDelivery | None,
                     keys: Sequence[ApiKey]) -> tuple[str, str]:
    """(badge, sentence) describing where the site's API key stands."""
    live = [k for k in keys if k.revoked_at is None]
    if site.status == SiteStatus.revoked:
        return "bad", "Revoked: every API key and site key of this site was revoked."
    if site.status in (SiteStatus.pending, SiteStatus.rejected):
        return "wait", "No credentials: an API key is issued when a hub admin approves."
    if not live:
        return "bad", "No active API key."
    if delivery is not None and delivery.sealed and delivery.picked_up_at is None:
        return "wait", (f"A new API key is sealed to the site's public key, waiting for the "
                        f"agent to pick it up (since {delivery.created_at:%Y-%m-%d %H:%M} UTC).")
    if delivery is not None and delivery.sealed:
        return "wait", (f"Picked up by the agent at {delivery.picked_up_at:%Y-%m-%d %H:%M} UTC; "
                        "the sealed copy is erased when the agent first uses the key.")
    return "ok", "In use by the site agent (the sealed copy was erased on first use)."


def _agreement_chart(reports: Sequence[ShadowReport]) -> Any:
    ordered = list(reversed(reports))
    if len(ordered) < 2:
        return None
    return line_chart([Series("Agreement", [r.agreement for r in ordered])],
                      title="Shadow vs production agreement per report",
                      x_label="Shadow report", y_label="Agreement (share of readings)",
                      y_range=(0.0, 1.0))


def _site_page(request: Request, session: Session, who: WebUser, site_id: str, *,
               errors: dict[str, str] | None = None, sign_error: str | None = None,
               dialog: str | None = None, sign_field: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    site = sites.get_site_for(session, who.principal, site_id)
    keys = [k for k in identity.list_api_keys(session, who.principal) if k.site_id == site.id]
    delivery = session.get(CredentialDelivery, site.id)
    reports = monitoring.list_shadow_reports(session, who.principal, site.id, limit=50)
    models, registry_on = models_in_use(session, who.principal, site, reports)
    active = credentials.active_key(session, site.id)
    badge, state = credential_state(site, delivery, keys)
    content = sites.signable_content(session, site.id) or {}
    org_name = _org_names(session).get(site.organization_id, site.organization_id)
    return render(request, "sites/detail.html", {
        "site": site, "org_name": org_name, "fingerprint": active.fingerprint if active else None,
        "site_keys": credentials.list_keys(session, site.id), "api_keys": keys,
        "cred_badge": badge, "cred_state": state,
        "signatures": signature_rows(session, sites.SIGNABLE, site.id),
        "record": {"Site": site.name, "Organization": org_name, "Kind": site.kind,
                   "Location": " / ".join(str(v) for v in site.location.values()),
                   "Datasets": ", ".join(site.datasets) or "none",
                   "Tasks": ", ".join(site.tasks) or "none",
                   "Key fingerprint": content.get("key_fingerprint") or "none",
                   "Requested": f"{site.requested_at:%Y-%m-%d %H:%M} UTC", "Record id": site.id},
        "alerts": monitoring.list_alerts(session, who.principal, site.id, limit=20),
        "work_orders": monitoring.list_work_orders(session, who.principal, site.id, limit=20),
        "reports": reports[:10], "chart": _agreement_chart(reports), "models": models,
        "registry": registry_on, "errors": errors or {}, "sign_error": sign_error,
        "dialog": dialog, "sign_field": sign_field, "site_names": {site.id: site.name},
        "can_manage": who.has("site_admin", "hub_admin"),
    }, status_code)


# --------------------------------------------------------------------------- routes

@pages.get("/sites")
def site_list(request: Request, who: Viewer, session: PageSession, settings: SettingsDep,
              status: str = "") -> HTMLResponse:
    """Your organization's sites (all for hub admins) and enrollment tokens."""
    return _list_page(request, session, who, settings, status)


@pages.post("/sites/enrollment-tokens")
def issue_token(request: Request, who: Manager, session: PageSession, settings: SettingsDep,
                valid_hours: Annotated[str, Form(max_length=10)] = "24",
                organization_id: Annotated[str, Form(max_length=36)] = "") -> HTMLResponse:
    """Issue a single-use enrollment token; the page shows it (and the commands) once."""
    form = {"valid_hours": valid_hours.strip(), "organization_id": organization_id}
    try:
        data = EnrollmentTokenCreate.model_validate({
            "valid_hours": valid_hours.strip() or "24",
            "organization_id": (organization_id or None) if who.is_hub_admin else None})
        issued = credentials.create_token(session, who.principal, data)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _list_page(request, session, who, settings, errors=form_errors(exc), form=form,
                          status_code=422)
    session.flush()
    return _list_page(request, session, who, settings, issued=issued, form=form)


@pages.get("/enrollments")
def enrollment_requests(request: Request, who: HubAdmin, session: PageSession) -> HTMLResponse:
    """Pending enrollment requests awaiting a hub admin's signed decision."""
    pending = sites.list_sites(session, who.principal, SiteStatus.pending)
    return render(request, "sites/requests.html", {
        "pending": sorted(pending, key=lambda s: s.requested_at), "org_names": _org_names(session),
        "fingerprints": sites.active_fingerprints(session, [s.id for s in pending])})


@pages.get("/sites/{site_id}")
def site_detail(site_id: str, request: Request, who: Viewer,
                session: PageSession) -> HTMLResponse:
    """One site: status, agent, credentials, signatures, alerts and models."""
    return _site_page(request, session, who, site_id)


def _decide(request: Request, who: WebUser, session: Session, settings: Settings, site_id: str,
            form: ESignInput, approve: bool) -> Response:
    action = "approve" if approve else "reject"
    try:
        if form.meaning != ("approved" if approve else "reviewed"):
            raise ValidationFailed("Choose the meaning offered for this decision", errors=[
                {"pointer": "/meaning", "message": "not the meaning of this decision"}])
        if not form.password:
            raise ValidationFailed("Re-enter your password to sign",
                                   errors=[{"pointer": "/password", "message": "required"}])
        decide = sites.approve if approve else sites.reject
        site = decide(session, settings, who.principal, site_id, form.password, form.comment)
    except (SignatureRejected, AccountLocked, ValidationFailed) as exc:
        fail(session, exc)
        field = next((str(e.get("pointer", "")).strip("/") for e in exc.errors or []), None)
        return _site_page(request, session, who, site_id, sign_error=exc.detail, dialog=action,
                          sign_field=field, status_code=exc.status)
    verb = "approved: the site is active and its API key is sealed for the agent" if approve \
        else "rejected"
    return redirect(request, f"/web/sites/{site.id}", flash=f"Enrollment of {site.name} {verb}.")


@pages.post("/sites/{site_id}/approve")
def approve(site_id: str, request: Request, who: HubAdmin, session: PageSession,
            settings: SettingsDep, form: ESignForm) -> Response:
    """Approve a pending enrollment with an electronic signature (issues the API key)."""
    return _decide(request, who, session, settings, site_id, form, approve=True)


@pages.post("/sites/{site_id}/reject")
def reject(site_id: str, request: Request, who: HubAdmin, session: PageSession,
           settings: SettingsDep, form: ESignForm) -> Response:
    """Reject a pending enrollment with an electronic signature and a comment saying why."""
    return _decide(request, who, session, settings, site_id, form, approve=False)


ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "rotate-api-key": (("site_admin", "hub_admin"), "New API key sealed for {name}'s agent."),
    "revoke": (("site_admin", "hub_admin"), "Site {name} revoked: its keys no longer work."),
    "suspend": (("hub_admin",), "Site {name} suspended: its agent is refused until resumed."),
    "resume": (("hub_admin",), "Site {name} resumed."),
}


def _act(session: Session, who: WebUser, site_id: str, action: str, why: str) -> Site:
    p = who.principal
    if action == "rotate-api-key":
        site = sites.get_site_for(session, p, site_id)
        credentials.rotate_api_key(session, p, site, why)
        return site
    if action == "revoke":
        return sites.revoke(session, p, site_id, why)
    return (sites.suspend if action == "suspend" else sites.resume)(session, p, site_id, why)


@pages.post("/sites/{site_id}/{action}")
def site_action(site_id: str, action: str, request: Request, who: Viewer, session: PageSession,
                reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Rotate the API key, revoke, suspend or resume a site (each with a reason)."""
    if action not in ACTIONS:
        raise NotFound(f"No such site action {action!r}")
    roles, message = ACTIONS[action]
    if not who.has(*roles):
        raise PermissionDenied(f"This action needs one of the roles: {', '.join(roles)}")
    try:
        why = Reason.model_validate({"reason": reason.strip()}).reason
        site = _act(session, who, site_id, action, why)
    except FORM_ERRORS as exc:
        fail(session, exc)
        msg = form_errors(exc)
        text = msg.get("reason") or "; ".join(msg.values())
        return _site_page(request, session, who, site_id, errors={f"reason-{action}": text},
                          status_code=422 if not isinstance(exc, HubError) else exc.status)
    return redirect(request, f"/web/sites/{site.id}", flash=message.format(name=site.name))
