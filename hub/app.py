"""The hub's ASGI application factory."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from hub import __version__
from hub.admission import Admission
from hub.config import Settings, get_settings
from hub.db import Database
from hub.deps import get_principal
from hub.errors import PayloadTooLarge, install_error_handlers, problem_response
from hub.openapi import install as install_openapi
from hub.ratelimit import LoginRateLimit

log = logging.getLogger("fedhub")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
}


class GuardMiddleware(BaseHTTPMiddleware):
    """Refuses oversize bodies early and adds security headers to every response."""

    def __init__(self, app: Any, max_body: int) -> None:
        super().__init__(app)
        self.max_body = max_body

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            err = PayloadTooLarge(f"Request body exceeds {self.max_body} bytes")
            return problem_response(err, request)
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            if not request.url.path.startswith("/docs"):
                response.headers.setdefault(key, value)
        return response


class BodyLimit:
    """Counts streamed body bytes: a chunked upload without Content-Length gets 413 too."""

    def __init__(self, app: Any, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise StarletteHTTPException(413, f"Request body exceeds {self.max_body} bytes")
            return message

        await self.app(scope, counted, send)


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process is up."""
        return {"status": "ok", "version": __version__}

    @router.get("/ready", responses={
        200: {"content": {"application/json": {"example": {"status": "ready", "database": "ok"}}}},
        503: {"description": "The database is unreachable or its schema is not current",
              "content": {"application/json": {"example": {"status": "unavailable",
                                                           "database": "unreachable"}}}}})
    def ready(request: Request) -> Response:
        """Readiness: the database answers and the schema is current."""
        db: Database = request.app.state.db
        try:
            problem = db.readiness()
        except Exception as exc:  # the database is down: not ready
            log.warning("readiness check failed: %s", exc)
            problem = "unreachable"
        if problem:
            return Response(f'{{"status":"unavailable","database":"{problem}"}}', 503,
                            media_type="application/json")
        return Response('{"status":"ready","database":"ok"}', media_type="application/json")

    return router


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """Build the hub: routers (authenticated unless explicitly public), errors, pages."""
    settings = settings or get_settings()
    app = FastAPI(
        title="fedhub",
        version=__version__,
        description="Federated collaboration hub for pharmaceutical manufacturing, R&D, "
        "logistics and regulators. Errors are RFC 9457 problem documents.",
    )
    app.state.settings = settings
    app.state.db = db or Database(settings)
    install_error_handlers(app)
    install_openapi(app)  # the schema documents the problem documents the hub answers
    app.add_middleware(LoginRateLimit,
                       per_ip=settings.login_rate_per_ip, per_user=settings.login_rate_per_user,
                       window_seconds=settings.login_rate_window_seconds)
    app.add_middleware(BodyLimit, max_body=settings.max_body_bytes)
    app.add_middleware(GuardMiddleware, max_body=settings.max_body_bytes)
    app.add_middleware(Admission, limit=settings.max_concurrent_requests,  # outermost
                       wait_seconds=settings.admission_wait_seconds)

    from hub.audit.router import router as audit_router
    from hub.compliance.router import mount as mount_compliance
    from hub.federation.pages import pages as federation_pages
    from hub.federation.router import router as federation_router
    from hub.identity.router import public as auth_router
    from hub.identity.router import router as identity_router
    from hub.monitoring.pages import pages as monitoring_pages
    from hub.registry.pages import pages as registry_pages
    from hub.registry.router import router as registry_router
    from hub.screening.router import mount as mount_screening
    from hub.sites.pages import pages as site_pages
    from hub.sites.router import mount as mount_sites
    from hub.standards_registry.router import router as standards_router
    from hub.traceability.pages import pages as trace_pages
    from hub.traceability.router import router as trace_router
    from hub.web.errors import install_page_errors
    from hub.web.router import router as web_router  # pages: they log people in themselves
    from training_portal.router import mount as mount_training

    authenticated = [Depends(get_principal)]
    app.include_router(_health_router())
    app.include_router(auth_router)
    app.include_router(identity_router, dependencies=authenticated)
    app.include_router(audit_router, dependencies=authenticated)
    app.include_router(standards_router, dependencies=authenticated)
    mount_sites(app, authenticated)  # sites (+ public enrollment routes) and monitoring
    app.include_router(trace_router, dependencies=authenticated)
    app.include_router(federation_router, dependencies=authenticated)
    app.include_router(registry_router, dependencies=authenticated)
    mount_screening(app, authenticated)  # screening API and R&D pages
    mount_compliance(app, authenticated)  # compliance API (regulator pulls) and pages
    mount_training(app, authenticated)  # training API, public verification, trainee pages
    app.include_router(web_router)
    app.include_router(federation_pages)
    app.include_router(registry_pages)
    app.include_router(site_pages)
    app.include_router(monitoring_pages)
    app.include_router(trace_pages)
    install_page_errors(app)  # browsers get HTML error pages for unknown /web/ URLs
    return app
