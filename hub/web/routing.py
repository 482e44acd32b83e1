"""Page routers: CSRF on every POST, HTML error pages, login redirects, deferred cookies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from hub.errors import HubError, field_errors
from hub.web import auth, csrf
from hub.web.rendering import error_page, redirect
from hub.web.transaction import fail

log = logging.getLogger("fedhub.web")
LOGIN_PATH = "/web/login"


def safe_next(target: str | None, default: str = "/web/") -> str:
    """Only local page paths are accepted as a post-login destination (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    local = parts.path == "/web" or parts.path.startswith("/web/")
    if parts.scheme or parts.netloc or not local or target.startswith("//") or "\\" in target:
        return default
    return target


def login_redirect(request: Request, exc: auth.LoginRequired) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = here if request.method == "GET" else "/web/"
    url = LOGIN_PATH if target == "/web/" else f"{LOGIN_PATH}?next={quote(target, safe='')}"
    return redirect(request, url, flash=exc.detail if request.cookies.get(auth.COOKIE) else None)


async def _rollback(request: Request, exc: BaseException) -> None:
    session = getattr(request.state, "db_session", None)
    if session is not None:
        await run_in_threadpool(fail, session, exc)


class WebRoute(APIRoute):
    """A page route: errors become HTML pages (login redirect for 401), never problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response: Response
            try:
                response = await original(request)
            except auth.LoginRequired as exc:
                await _rollback(request, exc)
                response = login_redirect(request, exc)
            except HubError as exc:
                await _rollback(request, exc)
                response = error_page(request, exc.status, exc.title, exc.detail, exc.errors)
            except RequestValidationError as exc:
                await _rollback(request, exc)
                errs = field_errors(list(exc.errors()))
                response = error_page(request, 422, "The form was incomplete",
                                      "Some fields were missing or invalid.", errs)
            except Exception as exc:
                log.exception("page error on %s %s", request.method, request.url.path)
                await _rollback(request, exc)
                response = error_page(request, 500, "Something went wrong",
                                      "An internal error occurred; it has been logged.")
            auth.apply_later(request, response)
            if isinstance(response, HTMLResponse):
                response.headers.setdefault("Cache-Control", "no-store")
            return response

        return handler


def page_router(prefix: str = "", **kwargs: Any) -> APIRouter:
    """A router for pages: mount it on the app *without* the API's principal dependency.

    Routes get HTML error pages, CSRF checks on every state-changing request and no OpenAPI
    entry. Use ``PageUser`` / ``require_page_role`` for the login, ``PageSession`` for the
    database.
    """
    deps = [Depends(csrf.csrf_protect), *kwargs.pop("dependencies", [])]
    kwargs.setdefault("include_in_schema", False)
    kwargs.setdefault("default_response_class", HTMLResponse)
    return APIRouter(prefix=prefix, route_class=WebRoute, dependencies=deps, **kwargs)
