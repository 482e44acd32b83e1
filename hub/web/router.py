"""The portal: login/logout, the role-aware dashboard, static files and every page router."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from hub.deps import SettingsDep
from hub.errors import HubError
from hub.identity import service as identity
from hub.web import audit_pages, auth, identity_pages
from hub.web.rendering import ROLE_CAN, STATIC_DIR, areas_for, redirect, render
from hub.web.routing import page_router, safe_next
from hub.web.transaction import PageSession, fail

pages = page_router("/web")


@pages.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The login form (already logged in: straight to the destination)."""
    if auth.session_from_request(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "username": ""})


@pages.post("/login")
def login(
    request: Request, session: PageSession, settings: SettingsDep,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/web/",
) -> Response:
    """Check the user id and password (same service and lockout as the API), start a session."""
    try:
        user = identity.authenticate(session, settings, username.strip(), password)
    except HubError as exc:
        fail(session, exc)
        return render(request, "login.html", {
            "next": safe_next(next), "username": username, "error": exc.detail,
        }, status_code=exc.status)
    response = RedirectResponse(safe_next(next), status_code=303)
    auth.start_session(request, response, user)
    return response


@pages.post("/logout")
def logout(request: Request) -> Response:
    """End the page session (the cookie is removed)."""
    response = redirect(request, "/web/login", flash="You have logged out.")
    auth.clear_session_cookie(request, response)
    return response


@pages.get("/")
def dashboard(request: Request, who: auth.PageUser, session: PageSession) -> HTMLResponse:
    """What you can do here, by role, with links to your areas."""
    org = identity.get_organization(session, who.org_id)
    pending = identity_pages.pending_approvals(session) if who.is_hub_admin else []
    return render(request, "dashboard.html", {
        "org": org, "areas": areas_for(who.principal),
        "can": [(r, ROLE_CAN[r]) for r in sorted(who.principal.roles) if r in ROLE_CAN],
        "pending": pending,
    })


def _root_router() -> APIRouter:
    root = APIRouter(include_in_schema=False)

    @root.get("/")
    def home() -> RedirectResponse:
        """The portal lives under /web/."""
        return RedirectResponse("/web/", status_code=303)

    return root


router = APIRouter(include_in_schema=False)
router.include_router(_root_router())
router.include_router(pages)
router.include_router(identity_pages.router)
router.include_router(audit_pages.router)
router.mount("/web/static", StaticFiles(directory=STATIC_DIR), name="web-static")
