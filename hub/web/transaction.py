"""The page transaction: committed before the response leaves, rolled back on any failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from hub.db import Database
from hub.errors import HubError


def fail(session: Session, exc: BaseException) -> None:
    """Roll back the page's work, then persist what the error asks for (failed-login counts)."""
    session.rollback()
    jobs = list(getattr(exc, "after_rollback", None) or [])
    if isinstance(exc, HubError):
        exc.after_rollback = []  # run once, even if the error travels further
    if jobs:
        for job in jobs:
            job(session)
        session.commit()


def get_page_session(request: Request) -> Iterator[Session]:
    """One transaction per page request, closed before the response is sent.

    Pages redirect after a POST (post/redirect/get); committing before the redirect leaves
    means the browser's next GET always sees the change.
    """
    db: Database = request.app.state.db
    with db.session() as session:
        request.state.db_session = session
        try:
            yield session
            session.commit()
        except BaseException as exc:
            fail(session, exc)
            raise


PageSession = Annotated[Session, Depends(get_page_session, scope="function")]
