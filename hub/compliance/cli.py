"""``fedhub compliance``: pull submissions over HTTP, verify bundles offline, list overdue.

``pull`` talks to a hub over HTTP(S) as any API client does: a bearer token
(``--token``/``FEDHUB_TOKEN``), an API key (``--api-key``/``FEDHUB_API_KEY``) or a user id whose
password is prompted for (``--user``; ``FEDHUB_PASSWORD`` for scripts). It never touches the
hub's database, so regulators run it on their own machines. ``verify`` needs nothing but the
bundle (and, preferably, the hub's published JWKS). ``overdue`` is an operator tool on the
configured database, like the other admin commands.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from hub.compliance.verify import BundleVerification, verify_bundle
from hub.console import CliConsole

app = typer.Typer(help="Compliance submissions: regulator pulls and evidence bundles.",
                  no_args_is_help=True)
console = CliConsole()
err = CliConsole(stderr=True)
JWKS_PATH = "/.well-known/jwks.json"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _load_jwks(source: str) -> dict[str, Any]:
    try:
        if source.startswith(("http://", "https://")):
            resp = httpx.get(source, timeout=30, follow_redirects=True)
            resp.raise_for_status()
            data = resp.json()
        else:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError, httpx.HTTPError) as exc:
        raise _fail(f"cannot read the JWKS from {source}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise _fail("the JWKS has no 'keys' list")
    return data


def print_verification(name: str, result: BundleVerification) -> None:
    table = Table("file", "status", "detail", title=f"bundle {name}")
    colour = {"ok": "green", "altered": "red", "missing": "red", "extra": "yellow"}
    for f in result.files:
        table.add_row(escape(f.name), f"[{colour.get(f.status, 'red')}]{f.status}[/]",
                      escape(f.detail))
    console.print(table)
    console.print(f"manifest signature: {escape(result.signature)} "
                  f"(keys from {'--jwks' if result.key_source == 'given' else 'the bundle'})")
    if result.key_source == "bundle" and result.ok:
        console.print("[yellow]note:[/] the keys came from the bundle itself; pass --jwks "
                      "<hub>/.well-known/jwks.json to check who signed it")
    if result.audit:
        for p in result.audit:
            console.print(f"[red]audit excerpt:[/] {escape(p)}")
    elif any(f.name == "audit-excerpt.json" and f.status == "ok" for f in result.files):
        console.print("audit excerpt: every link and full entry verifies")
    for p in result.problems:
        err.print(f"[bold red]problem:[/] {escape(p)}")
    console.print("[bold green]VALID[/]" if result.ok else "[bold red]NOT VALID[/]")


@app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="the evidence bundle (ZIP)")],
    jwks: Annotated[str | None, typer.Option(
        help="the hub's JWKS, file or URL (<hub>/.well-known/jwks.json); default: the bundle's",
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Check a bundle offline; exit 1 naming any altered, missing or extra file."""
    if not bundle.is_file():
        raise _fail(f"no such file: {bundle}")
    keys = _load_jwks(jwks) if jwks else None
    result = verify_bundle(bundle, keys)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print_verification(bundle.name, result)
    if not result.ok:
        raise typer.Exit(1)


def http_client(hub: str, headers: dict[str, str]) -> httpx.Client:
    """The HTTP client ``pull`` uses (tests substitute one bound to the app)."""
    return httpx.Client(base_url=hub.rstrip("/"), headers=headers, timeout=120,
                        follow_redirects=False)


def _auth(client: httpx.Client, token: str | None, api_key: str | None,
          user: str | None) -> dict[str, str]:
    if token:
        return {"Authorization": f"Bearer {token}"}
    if api_key:
        return {"X-API-Key": api_key}
    if user:
        password = os.environ.get("FEDHUB_PASSWORD") or getpass.getpass(f"password for {user}: ")
        resp = client.post("/auth/token", data={"username": user, "password": password})
        if resp.status_code != 200:
            raise _fail(f"login refused: {resp.json().get('detail', resp.text)}", 1)
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}
    raise _fail("give --token, --api-key or --user (or set FEDHUB_TOKEN / FEDHUB_API_KEY)")


def _filename(resp: httpx.Response, fallback: str) -> str:
    found = re.search(r'filename="([^"/\\]+)"', resp.headers.get("content-disposition", ""))
    return found.group(1) if found else fallback


@app.command("pull")
def pull(
    since: Annotated[str, typer.Option(help="submitted on or after this date (YYYY-MM-DD)")],
    out: Annotated[Path, typer.Option(help="directory for the bundles")],
    site: Annotated[str | None, typer.Option(help="only this site id")] = None,
    period: Annotated[str | None, typer.Option(help="2026-Q1, 2026-03, 2026 or START/END")] = None,
    status: Annotated[str | None, typer.Option(help="approved or superseded")] = None,
    hub: Annotated[str, typer.Option(envvar="FEDHUB_HUB_URL", help="hub base URL")] = (
        "http://127.0.0.1:8080"),
    token: Annotated[str | None, typer.Option(envvar="FEDHUB_TOKEN", help="bearer token")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="FEDHUB_API_KEY", help="API key")] = None,
    user: Annotated[str | None, typer.Option(help="log in as this user id")] = None,
) -> None:
    """Download every visible submission's evidence bundle over HTTP and verify each one."""
    out.mkdir(parents=True, exist_ok=True)
    with http_client(hub, {}) as client:
        client.headers.update(_auth(client, token, api_key, user))
        jwks_resp = client.get(JWKS_PATH)
        if jwks_resp.status_code != 200:
            raise _fail(f"cannot fetch the hub's JWKS ({jwks_resp.status_code})", 1)
        jwks = jwks_resp.json()
        (out / "jwks.json").write_text(json.dumps(jwks, indent=2))
        params = {k: v for k, v in {"since": since, "site_id": site, "period": period,
                                    "status": status}.items() if v}
        resp = client.get("/compliance/submissions", params=params)
        if resp.status_code != 200:
            raise _fail(f"listing refused ({resp.status_code}): "
                        f"{resp.json().get('detail', resp.text)}", 1)
        rows = resp.json()
        table = Table("submission", "site", "period", "v", "status", "file", "verified")
        index, failures = [], 0
        for row in rows:
            got = client.get(f"/compliance/submissions/{row['id']}/bundle")
            if got.status_code != 200:
                failures += 1
                table.add_row(row["id"][:8], row.get("site_name") or "", row["period_label"],
                              str(row["version"]), row["status"], "-",
                              f"[red]HTTP {got.status_code}[/]")
                continue
            name = _filename(got, f"{row['id']}.zip")
            (out / name).write_bytes(got.content)
            result = verify_bundle(got.content, jwks)
            failures += not result.ok
            index.append({**row, "file": name, "verified": result.ok,
                          "problems": result.problems})
            table.add_row(row["id"][:8], escape(row.get("site_name") or ""),
                          row["period_label"], str(row["version"]), row["status"], name,
                          "[green]ok[/]" if result.ok else "[red]FAILED[/]")
    (out / "index.json").write_text(json.dumps(index, indent=2, default=str))
    console.print(table)
    console.print(f"{len(index)} bundle(s) in {out}; JWKS saved as {out / 'jwks.json'}")
    if failures:
        raise _fail(f"{failures} bundle(s) failed to download or verify", 1)


@app.command("overdue")
def overdue(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Periods past due without a QA-approved report, every site (operator, database)."""
    from hub.cli import open_db
    from hub.compliance.schedules import overdue as find
    from hub.identity.principal import Principal

    db = open_db(migrate=False)
    admin = Principal("user", "cli", "cli", "", frozenset({"hub_admin"}))
    with db.session() as session:
        rows = find(session, admin)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    table = Table("site", "period", "due", "days overdue", "latest")
    for r in rows:
        table.add_row(escape(r.site_name), r.period_label, r.due_on.isoformat(),
                      str(r.days_overdue), r.latest_status or "none")
    console.print(table)
    console.print(f"{len(rows)} overdue report(s)")
