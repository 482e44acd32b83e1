"""``fedhub sites``: enrollment tokens, approvals, revocation and housekeeping from the shell."""

from __future__ import annotations

import getpass
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Column, Table
from sqlmodel import Session

from hub.console import CliConsole, act_as, problem_exit
from hub.errors import HubError
from hub.identity.principal import Principal

app = typer.Typer(help="Site enrollment and credentials (plants and labs).", no_args_is_help=True)
console = CliConsole()
err = CliConsole(stderr=True)
ByOption = Annotated[str, typer.Option("--by", help="your user id (acts and signs as you)")]


def _as(session: Session, username: str) -> Principal:
    return act_as(session, username, err)


def _fail(exc: HubError) -> typer.Exit:
    return problem_exit(exc, err)


@app.command("list")
def list_sites(status: Annotated[str | None, typer.Option(help="filter by status")] = None
               ) -> None:
    """Every site with status, last contact, agent version and key fingerprint."""
    from hub.cli import open_db
    from hub.sites import service
    from hub.sites.models import SiteStatus

    db = open_db(migrate=False)
    table = Table(Column("id", no_wrap=True, min_width=36),
                  "name", "kind", "status", "last contact (UTC)", "agent", "key")
    admin = Principal("user", "cli", "cli", "", frozenset({"hub_admin"}))
    with db.session() as session:
        rows = service.list_sites(session, admin, SiteStatus(status) if status else None)
        fps = service.active_fingerprints(session, [s.id for s in rows])
        for s in rows:
            seen = s.last_contact_at.strftime("%Y-%m-%d %H:%M:%S") if s.last_contact_at else "-"
            table.add_row(s.id, s.name, s.kind, s.status, seen, s.agent_version or "-",
                          fps.get(s.id, "-")[:20])
    console.print(table)


@app.command("token")
def token(by: ByOption,
          hours: Annotated[int, typer.Option(help="valid for this many hours", min=1,
                                             max=168)] = 24) -> None:
    """Issue a single-use enrollment token for your organization (printed once)."""
    from hub.cli import _unit_of_work
    from hub.sites import credentials
    from hub.sites.schemas import EnrollmentTokenCreate

    with _unit_of_work() as session:
        try:
            row, secret = credentials.create_token(session, _as(session, by),
                                                   EnrollmentTokenCreate(valid_hours=hours))
        except HubError as exc:
            raise _fail(exc) from exc
        console.print(f"enrollment token (single use, expires {row.expires_at:%Y-%m-%d %H:%M} "
                      f"UTC):\n{secret}")


def _decide(site_id: str, by: str, approve: bool, comment: str | None,
            password: str | None) -> None:
    from hub.cli import _settings, _unit_of_work
    from hub.sites import service

    secret = password or getpass.getpass(f"password for {by} (electronic signature): ")
    with _unit_of_work() as session:
        who = _as(session, by)
        if not who.is_hub_admin:
            err.print("[bold red]error:[/] only hub admins decide enrollments")
            raise typer.Exit(1)
        decide = service.approve if approve else service.reject
        try:
            site = decide(session, _settings(), who, site_id, secret, comment)
        except HubError as exc:
            if exc.after_rollback:
                session.rollback()
                for job in exc.after_rollback:
                    job(session)
                session.commit()
            raise _fail(exc) from exc
        console.print(f"site {site.name} is now {site.status} (signed by {by})")


@app.command("approve")
def approve(site_id: str, by: ByOption,
            comment: Annotated[str | None, typer.Option()] = None,
            password: Annotated[str | None, typer.Option(hidden=True)] = None) -> None:
    """Approve a pending enrollment with your electronic signature (password re-entry)."""
    _decide(site_id, by, True, comment, password)


@app.command("reject")
def reject(site_id: str, by: ByOption, comment: Annotated[str, typer.Option(help="why")],
           password: Annotated[str | None, typer.Option(hidden=True)] = None) -> None:
    """Reject a pending enrollment with your electronic signature and a reason."""
    _decide(site_id, by, False, comment, password)


@app.command("revoke")
def revoke(site_id: str, by: ByOption, reason: Annotated[str, typer.Option(help="why")]) -> None:
    """Revoke a site for good: its API keys and site keys are revoked at once."""
    from hub.cli import _unit_of_work
    from hub.sites import service

    with _unit_of_work() as session:
        try:
            site = service.revoke(session, _as(session, by), site_id, reason)
        except HubError as exc:
            raise _fail(exc) from exc
        console.print(f"site {site.name} revoked")


@app.command("purge-keys")
def purge_keys(days: Annotated[int, typer.Option(help="forget keys older than this",
                                                 min=1)] = 30) -> None:
    """Forget idempotency keys older than DAYS (agents stop retrying long before)."""
    from hub.cli import _unit_of_work
    from hub.db import utcnow
    from hub.sites.idempotency import purge

    with _unit_of_work() as session:
        n = purge(session, utcnow() - timedelta(days=days))
    console.print(f"forgot {n} idempotency key(s) older than {days} day(s)")
