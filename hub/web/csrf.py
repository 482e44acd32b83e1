"""CSRF protection: a synchronizer token bound to the page session, checked on every POST.

Logged in, the token is an HMAC of the session id (stable while the session lives, useless in
another session). Before login (the login form) it is bound the same way to a random
pre-session id kept in its own HttpOnly cookie. Forms carry it in the hidden ``csrf_token``
input (``{{ csrf_field() }}`` in templates); scripts may send the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from fastapi import Request

from hub.errors import PermissionDenied
from hub.web import auth

FIELD = "csrf_token"
HEADER = "x-csrf-token"
PRE_COOKIE = "fedhub_pre"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PRE_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class CsrfRejected(PermissionDenied):
    code, title = "csrf-rejected", "Form check failed"


def _mac(request: Request, label: str, value: str) -> str:
    key = auth.settings_of(request).secret_key.encode()
    return hmac.new(key, f"fedhub csrf v1|{label}|{value}".encode(), hashlib.sha256).hexdigest()


def _pre_id(request: Request, create: bool) -> str | None:
    known: str | None = getattr(request.state, "csrf_pre_id", None)
    if known:
        return known
    raw = request.cookies.get(PRE_COOKIE, "")
    if _PRE_RE.match(raw):
        request.state.csrf_pre_id = raw
        return raw
    if not create:
        return None
    fresh = secrets.token_urlsafe(32)
    request.state.csrf_pre_id = fresh
    auth.later(request, lambda resp: resp.set_cookie(
        PRE_COOKIE, fresh, **auth.cookie_args(request, path="/web")))
    return fresh


def token_for(request: Request) -> str:
    """The token a form rendered for this request must carry back."""
    ws = auth.session_from_request(request)
    if ws is not None:
        return _mac(request, "session", ws.sid)
    pre = _pre_id(request, create=True)
    assert pre is not None
    return _mac(request, "pre", pre)


def _expected(request: Request) -> str | None:
    ws = auth.session_from_request(request)
    if ws is not None:
        return _mac(request, "session", ws.sid)
    pre = _pre_id(request, create=False)
    return _mac(request, "pre", pre) if pre else None


async def csrf_protect(request: Request) -> None:
    """Router dependency: refuse state-changing requests without the session's token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(HEADER, "")
    if not sent:
        form = await request.form()
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else ""
    expected = _expected(request)
    if sent and expected and hmac.compare_digest(sent, expected):
        return
    if auth.session_from_request(request) is None and request.cookies.get(auth.COOKIE):
        raise auth.LoginRequired("Your session has expired; log in again")
    raise CsrfRejected(
        "This form could not be accepted: it has expired or was not sent from a fedhub page. "
        "Go back, reload the page and try again.")
