"""Rich consoles for the command lines.

On a terminal, tables fit the window. When output is piped or captured (scripts, ``grep``, CI
logs) there is no window: rich would fall back to 80 columns (or a stale ``COLUMNS``) and fold
ids across lines, so piped output is laid out at least ``PIPE_WIDTH`` columns wide instead.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from sqlmodel import Session, select

from hub.errors import HubError
from hub.identity.principal import Principal

PIPE_WIDTH = 200


class CliConsole(Console):
    """A console that keeps table rows whole when its output is not a terminal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kwargs.get("width") is None:
            self._width = None  # rich froze COLUMNS at import; read it when printing instead

    @property
    def size(self) -> ConsoleDimensions:
        dims = Console.size.fget(self)  # type: ignore[attr-defined]
        if self.is_terminal or self._width is not None:
            return dims
        return ConsoleDimensions(max(dims.width, PIPE_WIDTH), dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


def act_as(session: Session, username: str, err: Console) -> Principal:
    """The active user ``username`` as principal, recorded as the actor of audited changes;
    exits with code 1 (message on ``err``) if there is none."""
    from hub.audit import service as audit
    from hub.identity import service as identity
    from hub.identity.models import User

    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        err.print(f"[bold red]error:[/] no active user {escape(username)!r}")
        raise typer.Exit(1)
    who = identity.principal_for_user(user)
    audit.set_actor(session, who.actor())
    return who


def problem_exit(exc: HubError, err: Console) -> typer.Exit:
    """Print a hub error with its field pointers on ``err``; the exit to raise (code 1)."""
    err.print(f"[bold red]error:[/] {escape(exc.detail)}")
    for e in exc.errors or []:
        err.print(f"  {escape(str(e.get('pointer')))}: {escape(str(e.get('message')))}")
    return typer.Exit(1)
