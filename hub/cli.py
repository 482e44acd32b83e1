"""The ``fedhub`` command line: serve, db, admin, audit, demo."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.markup import escape
from sqlmodel import Session, select

from hub.compliance.cli import app as compliance_app
from hub.config import Settings, get_settings
from hub.console import CliConsole
from hub.db import Database
from hub.errors import HubError
from hub.federation.cli import app as run_app
from hub.registry.cli import app as models_app
from hub.screening.cli import app as screen_app
from hub.sites.cli import app as sites_app
from hub.traceability.cli import app as trace_app
from standards.cli import app as standards_cli
from training_portal.cli import cert_app, training_app

app = typer.Typer(help="fedhub — federated collaboration hub.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
admin_app = typer.Typer(help="Organizations and user accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
app.add_typer(compliance_app, name="compliance")
app.add_typer(standards_cli, name="standards", help="Data-interface standards.")
app.add_typer(trace_app, name="trace")
app.add_typer(training_app, name="training")
app.add_typer(cert_app, name="cert")
app.add_typer(sites_app, name="sites")
app.add_typer(screen_app, name="screen")
app.add_typer(run_app, name="run")
app.add_typer(models_app, name="models")
console = CliConsole()
err = CliConsole(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        raise fail(f"invalid settings: {exc}", 2) from exc


def open_db(migrate: bool = True) -> Database:
    from hub.migrations import upgrade

    settings = _settings()
    db = Database(settings)
    if migrate:
        upgrade(settings.database_url, engine=db.engine)
    return db


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[int | None, typer.Option(help="uvicorn worker processes")] = None,
    migrate: Annotated[bool, typer.Option(help="apply migrations first")] = True,
) -> None:
    """Run the hub (uvicorn); migrations are applied first."""
    import uvicorn

    settings = _settings()
    if migrate:
        open_db(migrate=True).engine.dispose()
    console.print(f"fedhub on {settings.public_url} (docs at /docs), database "
                  f"{settings.database_url.split('@')[-1]}")
    uvicorn.run("hub.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=workers or settings.workers,
                proxy_headers=True, log_level="info", timeout_worker_healthcheck=30)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "heads") -> None:
    """Apply migrations up to REVISION (default: every domain head)."""
    from hub.migrations import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    console.print(f"database at revision {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show whether the database schema is current."""
    from hub.migrations import current_matches_head, head_revisions

    db = open_db(migrate=False)
    state = "current" if current_matches_head(db.engine) else "behind"
    console.print(f"heads {', '.join(sorted(head_revisions()))}: database is {state}")


@admin_app.command("create-org")
def create_org(
    name: str,
    kind: Annotated[str, typer.Option(help="pharma|institute|logistics|regulator|operator")],
    jurisdiction: Annotated[str, typer.Option()] = "EU",
) -> None:
    """Register a consortium member organization."""
    from hub.identity import service
    from hub.identity.schemas import OrganizationCreate

    with _unit_of_work() as session:
        org = service.create_organization(
            session, OrganizationCreate(name=name, kind=kind, jurisdiction=jurisdiction))
        console.print(f"organization {org.name} id={org.id}")


@admin_app.command("create-user")
def create_user(
    username: str,
    org: Annotated[str, typer.Option(help="organization name or id")],
    role: Annotated[list[str], typer.Option(help="role (repeatable)")],
    full_name: Annotated[str, typer.Option(help="printed name used in signatures")],
    email: Annotated[str, typer.Option()],
    password: Annotated[str | None, typer.Option(help="omit to be prompted")] = None,
) -> None:
    """Create a user account (the password is prompted for unless given)."""
    from hub.identity import service
    from hub.identity.models import Organization
    from hub.identity.schemas import UserCreate

    pw = password or getpass.getpass("password: ")
    with _unit_of_work() as session:
        found = session.get(Organization, org) or session.exec(
            select(Organization).where(Organization.name == org)).first()
        if found is None:
            raise fail(f"no organization {org!r}")
        user = service.create_user(session, _settings(), UserCreate(
            username=username, full_name=full_name, email=email, organization_id=found.id,
            roles=role, password=pw))
        console.print(f"user {user.username} id={user.id} roles={','.join(user.roles)}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain; exit 1 and name the first broken entry if any."""
    from hub.audit.service import verify_chain

    db = open_db(migrate=False)
    with db.session() as session:
        report = verify_chain(session)
    if report.ok:
        console.print(f"[green]audit chain intact[/]: {report.entries} entries, "
                      f"head {report.head_hash}")
        return
    err.print(f"[bold red]audit chain BROKEN[/] at entry seq={report.first_broken_seq} "
              f"id={report.first_broken_id}: {report.problem}")
    raise typer.Exit(1)


@audit_app.command("log")
def audit_log(limit: Annotated[int, typer.Option(min=1, max=10000)] = 20) -> None:
    """Show the most recent audit entries."""
    from rich.table import Table
    from sqlmodel import col

    from hub.audit.models import AuditEntry

    db = open_db(migrate=False)
    table = Table("seq", "time (UTC)", "actor", "action", "entity", "reason")
    with db.session() as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(limit))
        for e in reversed(list(rows)):
            table.add_row(str(e.seq), e.ts.strftime("%Y-%m-%d %H:%M:%S"), e.actor_name, e.action,
                          f"{e.entity_type}/{e.entity_id[:8]}", e.reason or "")
    console.print(table)


class _unit_of_work:
    """A session that commits on success and prints domain errors cleanly."""

    def __enter__(self) -> Session:
        self.db = open_db()
        self.session = self.db.session()
        return self.session

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if exc is None:
                self.session.commit()
                return
            self.session.rollback()
            if isinstance(exc, HubError):
                fields = ", ".join(dict.fromkeys(e.get("pointer", "") for e in exc.errors or []))
                raise fail(exc.detail + (f" [{fields}]" if fields else ""))
        finally:
            self.session.close()


def _register_commands() -> None:
    from hub.demo import demo

    app.command()(demo)


def main() -> None:
    _register_commands()
    try:
        app()
    except HubError as exc:
        err.print(f"[bold red]error:[/] {escape(exc.detail)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
