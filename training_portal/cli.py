"""``fedhub training`` (seed, remind, coverage) and ``fedhub cert verify`` (offline check)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hub.console import CliConsole

training_app = typer.Typer(help="Training portal: seed courses, expiry reminders, coverage.",
                           no_args_is_help=True)
cert_app = typer.Typer(help="Qualification certificates (Open Badges 3.0 JWT-VC).",
                       no_args_is_help=True)
console = CliConsole()
err = CliConsole(stderr=True)


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _fail(f"not a date-time: {text!r}", 2) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@training_app.command("seed")
def seed() -> None:
    """Install the shipped seed courses and any newer seed versions (idempotent, audited)."""
    from hub.cli import open_db
    from training_portal.service import seed_courses

    db = open_db()
    with db.session() as session:
        added = seed_courses(session)
        session.commit()
    console.print(f"seed courses: {', '.join(added) if added else 'all present'}")


@training_app.command("remind")
def remind(
    lead_days: Annotated[int | None, typer.Option(help="days of notice (default: setting)")] = None,
    as_of: Annotated[str | None, typer.Option(help="pretend it is this time (ISO 8601)")] = None,
) -> None:
    """Create notices for certificates expiring soon or expired (run it daily from a scheduler)."""
    from hub.cli import open_db
    from training_portal.flows import remind as run

    db = open_db()
    with db.session() as session:
        created = run(session, db.settings, lead_days, _when(as_of))
        session.commit()
    days = lead_days or db.settings.training_reminder_days
    console.print(f"{created} notice(s) created (lead time {days} days)")


@training_app.command("coverage")
def coverage(
    org: Annotated[str, typer.Argument(help="organization name or id")],
    site: Annotated[str | None, typer.Option(help="site id")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="training records as JSON")] = False,
) -> None:
    """Who holds which valid qualification, and coverage per role (personal data)."""
    from sqlmodel import select

    from hub.cli import open_db
    from hub.identity.models import Organization
    from training_portal.records import training_coverage

    db = open_db(migrate=False)
    with db.session() as session:
        found = session.get(Organization, org) or session.exec(
            select(Organization).where(Organization.name == org)).first()
        if found is None:
            raise _fail(f"no organization {org!r}", 1)
        report = training_coverage(session, found.id, site,
                                   requirements=db.settings.qualification_requirements)
    if as_json:
        print(json.dumps({"records": report.records, "coverage": [
            {"role": c.role, "qualification": c.qualification, "required": c.required,
             "qualified": c.qualified, "coverage": c.coverage} for c in report.coverage]},
            indent=2))
        return
    table = Table("role", "qualification", "qualified", "required", "coverage")
    for c in report.coverage:
        table.add_row(c.role, c.qualification, str(c.qualified), str(c.required),
                      f"{c.coverage:.0%}")
    console.print(table)
    console.print(f"overall coverage {report.overall:.0%}; {len(report.records)} record(s)")


def _fetch(source: str) -> str:
    """Text from a file path, ``-`` (stdin) or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        import httpx

        resp = httpx.get(source, timeout=30, follow_redirects=True)
        resp.raise_for_status()
        return resp.text
    return sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")


def _read_source(source: str, what: str) -> str:
    """Like :func:`_fetch`; failure is a usage problem (exit 2)."""
    try:
        return _fetch(source)
    except Exception as exc:  # unreadable file or failed download
        raise _fail(f"cannot read the {what} from {source}: {exc}", 2) from exc


def _credential_text(raw: str) -> str:
    text = raw.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise _fail(f"not a JWT-VC or JSON: {exc}", 2) from exc
        text = str(data.get("credential") or data.get("token") or "").strip()
    return text


@cert_app.command("verify")
def verify(
    file: Annotated[str, typer.Argument(help="the certificate (JWT-VC) file, or - for stdin")],
    jwks: Annotated[str, typer.Option(help="JWKS file or URL (e.g. <hub>/.well-known/jwks.json)")],
    status_list: Annotated[str | None, typer.Option(
        help="status list credential file or URL (default: fetch the URL in the certificate)",
    )] = None,
    no_status: Annotated[bool, typer.Option(
        "--no-status", help="do not check revocation (fully offline; reported as skipped)",
    )] = False,
    at: Annotated[str | None, typer.Option(help="check validity at this time (ISO 8601)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Verify a certificate offline against a JWKS; exit 1 when it is not valid, 2 on bad input."""
    from training_portal.credentials import verify_credential

    token = _credential_text(_read_source(file, "certificate"))
    try:
        keys: dict[str, Any] = json.loads(_read_source(jwks, "JWKS"))
    except ValueError as exc:
        raise _fail(f"the JWKS is not JSON: {exc}", 2) from exc
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise _fail("the JWKS has no 'keys' list", 2)
    fetcher = None
    if not no_status:
        def fetcher(url: str) -> str:
            return _fetch(status_list or url).strip()  # a failure fails the status check
    result = verify_credential(token, keys, status_list_fetcher=fetcher, now=_when(at))
    if as_json:
        print(json.dumps(result.model_dump(mode="json", exclude={"credential"}), indent=2))
    else:
        table = Table("check", "outcome", "detail")
        colour = {"pass": "green", "fail": "red", "skip": "yellow"}
        for c in result.checks:
            table.add_row(c.name, f"[{colour[c.outcome]}]{c.outcome}[/]", escape(c.message))
        console.print(table)
        if result.credential:
            name = result.credential.get("credentialSubject", {}).get("achievement", {}).get("name")
            console.print(f"qualification: {escape(str(name))}; valid until "
                          f"{result.credential.get('validUntil')}")
        console.print("[bold green]VALID[/]" if result.valid else "[bold red]NOT VALID[/]")
    if not result.valid:
        raise typer.Exit(1)
