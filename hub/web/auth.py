"""Page login sessions: an HttpOnly cookie carrying a hub-signed token with sliding expiry.

The token is a JWT of type ``web`` signed with a key derived from the hub secret, so API bearer
tokens and page session tokens are never interchangeable. It names the user and a random
session id (``sid``, to which the CSRF token is bound). Every page request reloads the user, so
role changes and deactivation take effect at once; a password change ends older sessions.
Idle timeout: ``Settings.access_token_minutes`` (same as API tokens), renewed while the user is
active; absolute limit: ``ABSOLUTE_HOURS`` after the password was entered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request, Response

from hub.audit import service as audit
from hub.config import Settings
from hub.db import utcnow
from hub.errors import AuthenticationRequired, PermissionDenied
from hub.identity import service as identity
from hub.identity.models import User
from hub.identity.principal import Principal
from hub.web.transaction import PageSession

COOKIE = "fedhub_session"
ABSOLUTE_HOURS = 12
RENEW_AFTER_SECONDS = 60
REFRESH_HEADER = "x-fedhub-refresh"  # background fragment refreshes do not extend the session
_TYP = "web"
_ALG = "HS256"


class LoginRequired(AuthenticationRequired):
    """No valid page session: pages answer with a redirect to the login form."""

    code, title = "login-required", "Login required"


@dataclass(frozen=True)
class WebSession:
    sid: str
    user_id: str
    issued_at: datetime
    auth_time: float  # epoch seconds when the password was entered
    expires_at: datetime


@dataclass(frozen=True)
class WebUser:
    """The logged-in person on a page: principal (roles, org) and the account row."""

    principal: Principal
    user: User
    session: WebSession

    @property
    def id(self) -> str:
        return self.principal.id

    @property
    def org_id(self) -> str:
        return self.principal.org_id

    @property
    def is_hub_admin(self) -> bool:
        return self.principal.is_hub_admin

    def has(self, *roles: str) -> bool:
        return self.principal.has(*roles)


def _key(settings: Settings) -> bytes:
    return hmac.new(settings.secret_key.encode(), b"fedhub web session v1", hashlib.sha256).digest()


def idle_timeout(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.access_token_minutes)


def issue(settings: Settings, user_id: str, *, sid: str | None = None,
          auth_time: float | None = None) -> str:
    """A signed session token; keeps ``sid`` and ``auth_time`` when renewing."""
    now = utcnow()
    auth = auth_time if auth_time is not None else now.timestamp()
    limit = datetime.fromtimestamp(auth, UTC) + timedelta(hours=ABSOLUTE_HOURS)
    claims: dict[str, Any] = {
        "typ": _TYP, "iss": "fedhub", "sub": user_id, "sid": sid or secrets.token_urlsafe(24),
        "iat": now, "exp": min(now + idle_timeout(settings), limit), "auth": auth,
    }
    return jwt.encode(claims, _key(settings), algorithm=_ALG)


def decode(settings: Settings, token: str) -> WebSession | None:
    """The session in a valid token, or None when forged, expired or of another type."""
    try:
        data = jwt.decode(token, _key(settings), algorithms=[_ALG], issuer="fedhub",
                          options={"require": ["exp", "iat", "sub", "sid", "iss"]})
    except jwt.PyJWTError:
        return None
    if data.get("typ") != _TYP or not isinstance(data.get("auth"), (int, float)):
        return None
    return WebSession(
        sid=str(data["sid"]), user_id=str(data["sub"]),
        issued_at=datetime.fromtimestamp(data["iat"], UTC), auth_time=float(data["auth"]),
        expires_at=datetime.fromtimestamp(data["exp"], UTC),
    )


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def is_https(request: Request) -> bool:
    """Cookies get ``Secure`` when the page was reached over HTTPS (or the hub's URL is)."""
    return request.url.scheme == "https" or settings_of(request).public_url.startswith("https")


def cookie_args(request: Request, path: str = "/") -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "secure": is_https(request), "path": path}


def later(request: Request, job: Callable[[Response], None]) -> None:
    """Run ``job`` on the page's response (cookies set by dependencies and helpers)."""
    jobs: list[Callable[[Response], None]] = getattr(request.state, "web_response_jobs", [])
    jobs.append(job)
    request.state.web_response_jobs = jobs


def apply_later(request: Request, response: Response) -> None:
    for job in getattr(request.state, "web_response_jobs", []):
        job(response)
    request.state.web_response_jobs = []


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, **cookie_args(request))


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, **cookie_args(request))


def session_from_request(request: Request) -> WebSession | None:
    """The valid page session carried by the request's cookie (decoded once per request)."""
    if hasattr(request.state, "web_session"):
        found: WebSession | None = request.state.web_session
        return found
    raw = request.cookies.get(COOKIE)
    found = decode(settings_of(request), raw) if raw else None
    request.state.web_session = found
    return found


def current_page_user(request: Request, session: PageSession) -> WebUser:
    """The logged-in person, or ``LoginRequired`` (pages redirect to the login form)."""
    ws = session_from_request(request)
    if ws is None:
        expired = bool(request.cookies.get(COOKIE))
        raise LoginRequired("Your session has expired; log in again" if expired else
                            "Log in to continue")
    user = session.get(User, ws.user_id)
    if user is None or not user.is_active or \
            user.password_changed_at.timestamp() > ws.auth_time:
        request.state.web_session = None
        later(request, lambda resp: clear_session_cookie(request, resp))
        raise LoginRequired("Your session has ended; log in again")
    who = identity.principal_for_user(user)
    audit.set_actor(session, who.actor())
    request.state.principal = who
    page_user = WebUser(principal=who, user=user, session=ws)
    request.state.web_user = page_user
    age = (utcnow() - ws.issued_at).total_seconds()
    if age > RENEW_AFTER_SECONDS and not request.headers.get(REFRESH_HEADER):
        token = issue(settings_of(request), user.id, sid=ws.sid, auth_time=ws.auth_time)
        later(request, lambda resp: set_session_cookie(request, resp, token))
    return page_user


PageUser = Annotated[WebUser, Depends(current_page_user)]


def require_page_role(*roles: str) -> Callable[..., WebUser]:
    """Dependency admitting logged-in people holding one of ``roles`` (403 page otherwise)."""

    def _check(who: PageUser) -> WebUser:
        if not who.has(*roles):
            raise PermissionDenied(f"This page needs one of the roles: {', '.join(roles)}")
        return who

    return _check


def start_session(request: Request, response: Response, user: User) -> None:
    """Log ``user`` in: a fresh session id (no fixation) in a new cookie."""
    set_session_cookie(request, response, issue(settings_of(request), user.id))
