"""Domain errors and their RFC 9457 problem-document rendering."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from python_multipart.exceptions import FormParserError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("fedhub.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://fedhub.dev/problems/"


class HubError(Exception):
    """Base for errors a service raises on purpose; rendered as a problem document."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers
        self.extra = extra
        # work to persist even though the request fails (e.g. counting a failed login)
        self.after_rollback: list[Callable[[Any], None]] = []

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class ValidationFailed(HubError):
    status, code, title = 422, "validation-error", "Request validation failed"


class AuthenticationRequired(HubError):
    status, code, title = 401, "authentication-required", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class InvalidCredentials(AuthenticationRequired):
    code, title = "invalid-credentials", "Invalid credentials"


class AccountLocked(HubError):
    status, code, title = 423, "account-locked", "Account locked"


class PermissionDenied(HubError):
    status, code, title = 403, "permission-denied", "Permission denied"


class NotFound(HubError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(HubError):
    status, code, title = 409, "conflict", "Conflict"


class PasswordPolicyViolation(ValidationFailed):
    code, title = "password-policy", "Password does not meet the policy"


class SignatureRejected(HubError):
    status, code, title = 403, "signature-rejected", "Electronic signature rejected"


class PayloadTooLarge(HubError):
    status, code, title = 413, "payload-too-large", "Payload too large"


class ServiceUnavailable(HubError):
    status, code, title = 503, "service-unavailable", "Service unavailable"


DATABASE_RETRY_AFTER = "5"


def pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    """RFC 6901 JSON pointer for a pydantic/FastAPI error location."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    return "/" + "/".join(parts) if parts else ""


def field_errors(raw: list[Any]) -> list[dict[str, Any]]:
    """Pydantic error dicts to ``{pointer, message, type}`` entries."""
    out = []
    for e in raw:
        loc = list(e.get("loc", ()))
        out.append({"pointer": pointer(loc), "message": e.get("msg", ""), "type": e.get("type")})
    return out


def problem_response(exc: HubError, request: Request) -> JSONResponse:
    return JSONResponse(
        exc.to_problem(instance=request.url.path),
        status_code=exc.status,
        media_type=PROBLEM_JSON,
        headers=exc.headers,
    )


_STATUS_CODES = {
    400: ("bad-request", "Bad request"),
    401: ("authentication-required", "Authentication required"),
    403: ("permission-denied", "Permission denied"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as ``application/problem+json``; never leak internals."""

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = field_errors(list(exc.errors()))
        names = ", ".join(e["pointer"] for e in errs) or "request"
        err = ValidationFailed(f"Invalid fields: {names}", errors=errs)
        return problem_response(err, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _STATUS_CODES.get(exc.status_code, ("http-error", "HTTP error"))
        err = HubError(str(exc.detail) if exc.detail else title,
                       headers=dict(exc.headers) if exc.headers else None)
        err.status, err.code, err.title = exc.status_code, code, title
        return problem_response(err, request)

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        log.warning("nesting too deep on %s %s", request.method, request.url.path)
        return problem_response(HubError("The request body is nested too deeply"), request)

    @app.exception_handler(FormParserError)  # a malformed multipart or urlencoded body
    async def _malformed_form(request: Request, exc: FormParserError) -> JSONResponse:
        log.info("malformed form body on %s %s: %s", request.method, request.url.path, exc)
        return problem_response(HubError(f"The form body could not be parsed: {exc}"), request)

    @app.exception_handler(sa_exc.OperationalError)  # server gone, connection refused or lost
    @app.exception_handler(sa_exc.InterfaceError)
    @app.exception_handler(sa_exc.TimeoutError)  # no pooled connection came free in time
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        cause = getattr(exc, "orig", None) or exc
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    type(cause).__name__)
        err = ServiceUnavailable("The database is unavailable or busy; retry later (a site "
                                 "message resent with the same Idempotency-Key is stored once)",
                                 headers={"Retry-After": DATABASE_RETRY_AFTER})
        return problem_response(err, request)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        err = HubError("An internal error occurred; it has been logged.")
        err.status, err.code, err.title = 500, "internal-error", "Internal server error"
        return problem_response(err, request)
