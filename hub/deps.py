"""Request dependencies: the transaction-owning session, the caller, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from hub.audit import service as audit
from hub.config import Settings
from hub.db import Database
from hub.errors import AuthenticationRequired, HubError, PermissionDenied
from hub.identity import security
from hub.identity import service as identity
from hub.identity.models import User
from hub.identity.principal import Principal

# the largest offset, page or sequence number a request may name: the database's integers are
# 64-bit, and a larger number would fail in the driver (a 500) instead of finding nothing
MAX_INDEX = 2**53 - 1
Offset = Annotated[int, Query(ge=0, le=MAX_INDEX)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_INDEX // 1000)]  # times per_page <= 1000

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on error."""
    db = get_database(request)
    with db.session() as session:
        try:
            yield session
            session.commit()
        except HubError as exc:
            session.rollback()
            if exc.after_rollback:
                for job in exc.after_rollback:
                    job(session)
                session.commit()
            raise
        except BaseException:
            session.rollback()
            raise


# scope="function": commit before the response is sent, so a 2xx always means committed
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """The authenticated caller from a bearer token or an API key (``X-API-Key``)."""
    raw_key = request.headers.get("x-api-key")
    if token and token.startswith(security.API_KEY_PREFIX + "_"):
        raw_key, token = token, None
    if raw_key:
        who = identity.authenticate_api_key(session, raw_key)
    elif token:
        claims = security.decode_token(settings, token)
        if claims is None:
            raise AuthenticationRequired("Token is invalid or has expired; log in again")
        user = session.get(User, claims.user_id)
        if user is None or not user.is_active:
            raise AuthenticationRequired("Account is no longer active")
        who = identity.principal_for_user(user)
    else:
        raise AuthenticationRequired("Log in (POST /auth/token) or send an API key")
    audit.set_actor(session, who.actor())
    request.state.principal = who
    return who


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_current_user(who: CurrentPrincipal, session: SessionDep) -> User:
    if not who.is_user:
        raise PermissionDenied("This action needs a person, not a machine key")
    user = session.get(User, who.id)
    assert user is not None
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """Dependency that admits callers holding at least one of ``roles``."""

    def _check(who: CurrentPrincipal) -> Principal:
        if not who.has(*roles):
            raise PermissionDenied(f"Requires one of the roles: {', '.join(roles)}")
        return who

    return _check
