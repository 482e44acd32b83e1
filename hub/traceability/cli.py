"""``fedhub trace``: capture EPCIS documents and show a lot's custody chain from the shell."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlmodel import Session, select

from hub.console import CliConsole
from hub.errors import HubError
from hub.identity.principal import Principal

app = typer.Typer(help="Cold-chain traceability (GS1 EPCIS 2.0).", no_args_is_help=True)
console = CliConsole()
err = CliConsole(stderr=True)

OrgOption = Annotated[str, typer.Option("--org", help="organization name or id to act for")]


def _principal(session: Session, org: str) -> Principal:
    from hub.audit import service as audit
    from hub.identity.models import Organization

    found = session.get(Organization, org) or session.exec(
        select(Organization).where(Organization.name == org)).first()
    if found is None:
        err.print(f"[bold red]error:[/] no organization {escape(org)!r}")
        raise typer.Exit(1)
    user = getpass.getuser()
    who = Principal("user", f"cli:{user}", f"{user} (fedhub CLI)", found.id,
                    frozenset({"site_admin"}))
    audit.set_actor(session, who.actor())
    return who


def _read(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        err.print(f"[bold red]error:[/] cannot read {escape(path)}: {escape(str(exc))}")
        raise typer.Exit(2) from exc


def _report(exc: HubError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(exc.detail)}")
    for e in exc.errors or []:
        err.print(f"  {escape(str(e.get('pointer')))}: {escape(str(e.get('message')))}")
    return typer.Exit(1)


@app.command("capture")
def capture(file: Annotated[str, typer.Argument(help="EPCIS 2.0 JSON(-LD) document, - = stdin")],
            org: OrgOption) -> None:
    """Validate and store an EPCIS document for ORG (already stored events are skipped)."""
    from hub.cli import open_db
    from hub.traceability import service

    doc = _read(file)
    db = open_db()
    with db.session() as session:
        try:
            result = service.capture(session, _principal(session, org), doc)
            session.commit()
        except HubError as exc:
            session.rollback()
            raise _report(exc) from exc
    cap = result.capture
    console.print(f"captured {cap.received} event(s): {cap.stored} stored, {cap.duplicates} "
                  f"already known; capture {cap.id}")
    for alert in result.alerts:
        console.print(f"[yellow]alert[/] for {alert.org_id}: {escape(alert.message)}")


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


@app.command("custody")
def custody(lot: Annotated[str, typer.Argument(help="lot (batch) number")], org: OrgOption,
            gtin: Annotated[str | None, typer.Option(help="GTIN, if lots clash")] = None,
            as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Show LOT's custody chain (shipping → transport → receiving) as ORG sees it."""
    from hub.cli import open_db
    from hub.traceability.custody import custody_chain
    from hub.traceability.products import gtin_or_error
    from hub.traceability.views import custody_public

    db = open_db()
    with db.session() as session:
        try:
            who = _principal(session, org)
            chain = custody_public(custody_chain(session, who.org_id, lot,
                                                 gtin_or_error(gtin) if gtin else None))
        except HubError as exc:
            raise _report(exc) from exc
    if as_json:
        console.print_json(chain.model_dump_json())
        return
    events = Table("time (UTC)", "step", "disposition", "location", "organization", "°C",
                   title=f"lot {lot}: events")
    for e in chain.events:
        temp = "" if e.max_celsius is None else f"{e.min_celsius:g}–{e.max_celsius:g}"
        events.add_row(e.event_time.strftime("%Y-%m-%d %H:%M"), e.biz_step or e.event_type,
                       e.disposition or "", e.location or "", e.org_name or e.org_id, temp)
    console.print(events)
    legs = Table("from", "to", "shipped", "received", "transport time", "°C", "status",
                 title="custody legs")
    for leg in chain.legs:
        temp = "" if leg.max_celsius is None else f"{leg.min_celsius:g}–{leg.max_celsius:g}"
        legs.add_row(leg.from_location or "?", leg.to_location or "?",
                     leg.shipped_at.strftime("%Y-%m-%d %H:%M") if leg.shipped_at else "—",
                     leg.received_at.strftime("%Y-%m-%d %H:%M") if leg.received_at else "—",
                     _minutes(leg.duration_seconds), temp, leg.status)
    console.print(legs)
