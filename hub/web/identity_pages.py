"""Pages for organizations, people and machine API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from hub.audit.models import ESignature
from hub.deps import SettingsDep
from hub.errors import AccountLocked, PermissionDenied, SignatureRejected, ValidationFailed
from hub.identity import service as identity
from hub.identity.models import Organization, OrgKind, Role
from hub.identity.schemas import ApiKeyCreate, OrganizationCreate, Revoke, UserCreate
from hub.web.auth import PageUser, WebUser, require_page_role
from hub.web.esign import ESignForm, sign_record, signature_rows
from hub.web.rendering import FORM_ERRORS, Area, form_errors, redirect, register_area, render
from hub.web.routing import page_router
from hub.web.transaction import PageSession, fail

router = page_router("/web")
HubAdmin = Annotated[WebUser, Depends(require_page_role("hub_admin"))]
KeyIssuer = Annotated[WebUser, Depends(require_page_role("hub_admin", "site_admin"))]

register_area(Area("Organizations & people", "/web/organizations",
                   "Consortium members, their people and membership approvals.", order=10))
register_area(Area("API keys", "/web/api-keys",
                   "Issue and revoke the machine keys your site agents use.",
                   roles=("hub_admin", "site_admin"), order=20))


def _approved_ids(session: Session) -> set[str]:
    """Organizations with an intact 'approved' signature on their current record."""
    from hub.audit import signatures

    sigs = session.exec(select(ESignature).where(ESignature.entity_type == "organization",
                                                 ESignature.meaning == "approved")).all()
    return {s.entity_id for s in sigs if signatures.verify(session, s).valid}


def pending_approvals(session: Session) -> list[Organization]:
    approved = _approved_ids(session)
    return [o for o in identity.list_organizations(session) if o.id not in approved]


def _orgs_page(request: Request, session: Session, who: WebUser,
               errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
               status_code: int = 200) -> HTMLResponse:
    return render(request, "organizations.html", {
        "orgs": identity.list_organizations(session), "approved": _approved_ids(session),
        "kinds": [k.value for k in OrgKind], "errors": errors or {}, "form": form or {},
    }, status_code)


@router.get("/organizations")
def organizations(request: Request, who: PageUser, session: PageSession) -> HTMLResponse:
    """Consortium members; hub admins register new ones."""
    return _orgs_page(request, session, who)


@router.post("/organizations")
def create_organization(
    request: Request, who: HubAdmin, session: PageSession,
    name: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "",
    jurisdiction: Annotated[str, Form()] = "EU",
) -> Response:
    """Register a consortium member (hub admin)."""
    form = {"name": name.strip(), "kind": kind, "jurisdiction": jurisdiction.strip()}
    try:
        org = identity.create_organization(session, OrganizationCreate.model_validate(form))
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _orgs_page(request, session, who, form_errors(exc), form, 422)
    return redirect(request, f"/web/organizations/{org.id}",
                    flash=f"Organization {org.name} registered; approve its membership below.")


def _org_page(request: Request, session: Session, who: WebUser, org_id: str,
              sign_error: str | None = None, status_code: int = 200) -> HTMLResponse:
    org = identity.get_organization(session, org_id)
    own = who.is_hub_admin or org.id == who.org_id
    sigs = signature_rows(session, "organization", org.id)
    return render(request, "organization.html", {
        "org": org, "users": identity.list_users(session, who.principal) if own else [],
        "show_users": own, "signatures": sigs,
        "approved": any(r.valid and r.signature.meaning == "approved" for r in sigs),
        "record": {"Name": org.name, "Kind": org.kind, "Jurisdiction": org.jurisdiction,
                   "Record id": org.id},
        "sign_error": sign_error,
    }, status_code)


@router.get("/organizations/{org_id}")
def organization(org_id: str, request: Request, who: PageUser,
                 session: PageSession) -> HTMLResponse:
    """One member: details, its people (own organization or hub admin) and signatures."""
    return _org_page(request, session, who, org_id)


@router.post("/organizations/{org_id}/sign")
def sign_membership(org_id: str, request: Request, who: HubAdmin, session: PageSession,
                    settings: SettingsDep, form: ESignForm) -> Response:
    """Approve (or review) a membership with an electronic signature."""
    org = identity.get_organization(session, org_id)
    try:
        sig = sign_record(session, settings, who, form, entity_type="organization",
                          entity_id=org.id)
    except (SignatureRejected, AccountLocked, ValidationFailed) as exc:
        fail(session, exc)
        return _org_page(request, session, who, org_id, exc.detail, exc.status)
    return redirect(request, f"/web/organizations/{org.id}",
                    flash=f"Signed ({sig.meaning}) by {sig.printed_name}.")


def _users_page(request: Request, session: Session, who: WebUser, org_filter: str | None,
                errors: dict[str, str] | None = None, form: dict[str, object] | None = None,
                status_code: int = 200) -> HTMLResponse:
    if org_filter and not who.is_hub_admin and org_filter != who.org_id:
        raise PermissionDenied("You can only see the people of your own organization")
    users = [u for u in identity.list_users(session, who.principal)
             if not org_filter or u.organization_id == org_filter]
    orgs = identity.list_organizations(session)
    return render(request, "users.html", {
        "users": users, "orgs": orgs, "org_names": {o.id: o.name for o in orgs},
        "org_filter": org_filter, "roles": [r.value for r in Role],
        "errors": errors or {}, "form": form or {"organization_id": org_filter or ""},
    }, status_code)


@router.get("/users")
def users(request: Request, who: PageUser, session: PageSession,
          org: str | None = None) -> HTMLResponse:
    """People: everyone for hub admins, your organization's otherwise."""
    return _users_page(request, session, who, org)


@router.post("/users")
def create_user(
    request: Request, who: HubAdmin, session: PageSession, settings: SettingsDep,
    username: Annotated[str, Form()] = "", full_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "", organization_id: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "", roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create a person's account (hub admin); the password policy applies."""
    form: dict[str, object] = {"username": username.strip(), "full_name": full_name.strip(),
                               "email": email.strip(), "organization_id": organization_id,
                               "roles": roles or []}
    try:
        data = UserCreate.model_validate({**form, "password": password})
        user = identity.create_user(session, settings, data)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _users_page(request, session, who, None, form_errors(exc), form, 422)
    return redirect(request, f"/web/users?org={user.organization_id}",
                    flash=f"Account {user.username} created.")


def _keys_page(request: Request, session: Session, who: WebUser,
               errors: dict[str, str] | None = None, issued: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    orgs = identity.list_organizations(session)
    return render(request, "api_keys.html", {
        "keys": identity.list_api_keys(session, who.principal), "orgs": orgs,
        "org_names": {o.id: o.name for o in orgs}, "errors": errors or {}, "issued": issued,
    }, status_code)


@router.get("/api-keys")
def api_keys(request: Request, who: KeyIssuer, session: PageSession) -> HTMLResponse:
    """Machine API keys of your organization (all for hub admins)."""
    return _keys_page(request, session, who)


@router.post("/api-keys")
def issue_api_key(
    request: Request, who: KeyIssuer, session: PageSession,
    name: Annotated[str, Form()] = "", site_id: Annotated[str, Form()] = "",
    organization_id: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Issue a key; the page shows the secret once and never again."""
    try:
        data = ApiKeyCreate.model_validate({"name": name.strip(),
                                            "site_id": site_id.strip() or None,
                                            "organization_id": organization_id or None})
        _, secret = identity.issue_api_key(session, who.principal, data)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _keys_page(request, session, who, form_errors(exc), status_code=422)
    session.flush()
    return _keys_page(request, session, who, issued=secret)


@router.post("/api-keys/{key_id}/revoke")
def revoke_api_key(key_id: str, request: Request, who: KeyIssuer, session: PageSession,
                   reason: Annotated[str, Form()] = "") -> Response:
    """Revoke a key at once; the reason goes into the audit trail."""
    try:
        data = Revoke.model_validate({"reason": reason.strip()})
        key = identity.revoke_api_key(session, who.principal, key_id, data.reason)
    except FORM_ERRORS as exc:
        fail(session, exc)
        errors = {f"reason-{key_id}": form_errors(exc).get("reason", "Give a reason")}
        return _keys_page(request, session, who, errors, status_code=422)
    return redirect(request, "/web/api-keys", flash=f"Key {key.name} ({key.prefix}) revoked.")
