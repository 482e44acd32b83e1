"""HTTP errors outside page routes (no such page, wrong method) as HTML pages for browsers.

Page routes render their own errors (``WebRoute``). A URL under ``/web/`` that matches no route
never reaches one: the kernel's handler would answer with a problem document. Browsers (their
``Accept`` prefers ``text/html``) get the portal's error page instead, in the usual layout with
the navigation when someone is logged in; API clients keep ``application/problem+json``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.db import Database
from hub.web import auth
from hub.web.rendering import error_page

TITLES = {404: "Page not found", 405: "Not allowed here"}


def _quality(accept: str, media: str) -> float:
    """The q-value ``accept`` gives ``media`` (exact type or ``type/*``; ``*/*`` not counted)."""
    best = 0.0
    kind = media.split("/")[0] + "/*"
    for part in accept.lower().split(","):
        name, *params = [p.strip() for p in part.split(";")]
        if name not in (media, kind):
            continue
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def wants_html(request: Request) -> bool:
    """The client asks for HTML rather than JSON (a browser navigating, not an API client)."""
    accept = request.headers.get("accept", "")
    html = _quality(accept, "text/html")
    return html > 0 and html >= max(_quality(accept, "application/json"),
                                    _quality(accept, "application/problem+json"))


def is_page_path(path: str) -> bool:
    return path == "/web" or path.startswith("/web/")


def _load_user(request: Request) -> None:
    """Who is logged in (for the navigation); nobody when the session is missing or ended."""
    if auth.session_from_request(request) is None:
        return
    db: Database = request.app.state.db
    with db.session() as session:
        try:
            auth.current_page_user(request, session)
        except auth.LoginRequired:
            return
        session.expunge_all()


def page_error(request: Request, exc: StarletteHTTPException) -> Response:
    """The error page for an HTTP error under ``/web/``."""
    status = exc.status_code
    try:
        title = TITLES.get(status) or HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    if status == 404:
        detail = f"There is no page at {request.url.path}. The link may be out of date."
    else:
        detail = str(exc.detail) if exc.detail else title
    response = error_page(request, status, title, detail)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    response.headers.setdefault("Cache-Control", "no-store")
    auth.apply_later(request, response)
    return response


def install_page_errors(app: FastAPI) -> None:
    """Let browsers get HTML error pages under ``/web/``; everyone else the kernel's answer."""
    api_handler: Any = app.exception_handlers[StarletteHTTPException]

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if is_page_path(request.url.path) and wants_html(request):
            await run_in_threadpool(_load_user, request)
            return page_error(request, exc)
        response: Response = await api_handler(request, exc)
        return response

    app.add_exception_handler(StarletteHTTPException, handler)
