"""``fedhub screen``: submit screens to a running hub over HTTP and follow them.

The CLI talks to the hub's API (not to the database): screens run in the hub process, the
qualification gate and the audit trail apply to the person whose token is used. Give a token
with ``--token``/``FEDHUB_TOKEN`` or log in with ``--username`` (password prompted or
``FEDHUB_PASSWORD``); the hub is ``--url``/``FEDHUB_URL`` (default: the hub's public URL).
"""

from __future__ import annotations

import getpass
import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from hub.console import CliConsole

app = typer.Typer(help="Molecular screening (talks to a running hub over HTTP).",
                  no_args_is_help=True)
console = CliConsole()
err = CliConsole(stderr=True)
MEDIA = {".csv": "text/csv", ".tsv": "text/csv", ".sdf": "chemical/x-mdl-sdfile",
         ".sd": "chemical/x-mdl-sdfile", ".smi": "chemical/x-daylight-smiles"}

Url = Annotated[str | None, typer.Option(help="hub URL (FEDHUB_URL)", envvar="FEDHUB_URL")]
Token = Annotated[str | None, typer.Option(help="bearer token or API key (FEDHUB_TOKEN)",
                                           envvar="FEDHUB_TOKEN")]
User = Annotated[str | None, typer.Option("--username", "-u", help="log in as this user")]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(1)


def _client(url: str | None, token: str | None, username: str | None) -> httpx.Client:
    if url is None:
        from hub.config import get_settings

        url = get_settings().public_url
    client = httpx.Client(base_url=url, timeout=300)
    if token is None and username:
        password = os.environ.get("FEDHUB_PASSWORD") or getpass.getpass("password: ")
        resp = client.post("/auth/token", data={"username": username, "password": password})
        _check(resp)
        token = resp.json()["access_token"]
    if token is None:
        raise _fail("give --token (or FEDHUB_TOKEN) or --username")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _check(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        body = resp.json()
        fields = ", ".join(f"{e.get('pointer')}: {e.get('message')}"
                           for e in body.get("errors") or [])
        message = f"{resp.status_code} {body.get('detail', '')}" + (f" [{fields}]" if fields
                                                                  else "")
    except ValueError:
        message = f"{resp.status_code} {resp.text[:200]}"
    raise _fail(message)


def _line(s: dict[str, Any]) -> str:
    p = s["progress"]
    eta = f", ETA {p['eta_seconds']:.0f} s" if p.get("eta_seconds") is not None else ""
    return (f"{s['id']} {s['status']}: {p['done']}/{p['total']} ({p['percent']:.0f} %){eta}; "
            f"{s['unique_count']} unique, {s['failed_count']} failed")


def follow(client: httpx.Client, screen_id: str, interval: float = 1.0) -> dict[str, Any]:
    """Poll a screen until it finishes, printing progress; returns the final screen."""
    last = ""
    while True:
        resp = client.get(f"/screens/{screen_id}")
        _check(resp)
        s: dict[str, Any] = resp.json()
        line = _line(s)
        if line != last:
            console.print(escape(line))
            last = line
        if s["status"] not in ("queued", "running"):
            return s
        time.sleep(interval)


def print_ranking(client: httpx.Client, screen_id: str, top: int = 10) -> None:
    """The first positions of the diverse ranking with their reasons."""
    resp = client.get(f"/screens/{screen_id}/ranking")
    _check(resp)
    table = Table("#", "id", "SMILES", "priority", "reason", show_lines=False)
    for r in resp.json()[:top]:
        m = r["molecule"]
        table.add_row(str(r["rank"]), escape(m["input_id"]), escape(m["smiles"][:40]),
                      f"{m['priority']:.3f}", escape(r["reason"]))
    console.print(table)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".smi, .csv, .sdf")],
    wait: Annotated[bool, typer.Option("--wait", help="follow progress until it ends")] = False,
    name: Annotated[str | None, typer.Option(help="screen name")] = None,
    options: Annotated[str | None, typer.Option(help="ScreenOptions as JSON")] = None,
    top_n: Annotated[int | None, typer.Option(help="length of the diverse ranking")] = None,
    id_column: Annotated[str | None, typer.Option(help="CSV id column")] = None,
    url: Url = None, token: Token = None, username: User = None,
) -> None:
    """Submit FILE as a screen; with --wait, follow it and print the top of the ranking."""
    opts: dict[str, Any] = json.loads(options) if options else {}
    if top_n is not None:
        opts["top_n"] = top_n
    data = {k: v for k, v in (("name", name), ("options", json.dumps(opts) if opts else None),
                              ("id_column", id_column)) if v}
    media = MEDIA.get(file.suffix.lower(), "application/octet-stream")
    with _client(url, token, username) as client, file.open("rb") as fh:
        resp = client.post("/screens", files={"file": (file.name, fh, media)}, data=data)
        _check(resp)
        s = resp.json()
        console.print(f"submitted screen {s['id']} ({s['total']} records)")
        if wait:
            final = follow(client, s["id"])
            if final["status"] != "completed":
                raise _fail(f"screen {final['status']}: {final.get('status_reason')}")
            print_ranking(client, s["id"])


@app.command()
def status(screen_id: str, wait: Annotated[bool, typer.Option("--wait")] = False,
           url: Url = None, token: Token = None, username: User = None) -> None:
    """Status and progress of a screen."""
    with _client(url, token, username) as client:
        if wait:
            follow(client, screen_id)
            return
        resp = client.get(f"/screens/{screen_id}")
        _check(resp)
        console.print(escape(_line(resp.json())))


@app.command()
def cancel(screen_id: str, reason: Annotated[str, typer.Option()] = "cancelled from the CLI",
           url: Url = None, token: Token = None, username: User = None) -> None:
    """Cancel a queued or running screen."""
    with _client(url, token, username) as client:
        resp = client.post(f"/screens/{screen_id}/cancel", json={"reason": reason})
        _check(resp)
        console.print(escape(_line(resp.json())))


@app.command()
def ranking(screen_id: str, top: Annotated[int, typer.Option(min=1)] = 10,
            url: Url = None, token: Token = None, username: User = None) -> None:
    """The diverse ranked top of a screen with the reason for each position."""
    with _client(url, token, username) as client:
        print_ranking(client, screen_id, top)


@app.command()
def export(screen_id: str, out: Annotated[Path, typer.Option("-o", help="file to write")],
           fmt: Annotated[str, typer.Option("--format", help="csv or sdf")] = "csv",
           url: Url = None, token: Token = None, username: User = None) -> None:
    """Download all results as CSV or SDF (streamed to OUT)."""
    with _client(url, token, username) as client, client.stream(
            "GET", f"/screens/{screen_id}/export.{fmt}") as resp:
        if resp.status_code >= 400:
            resp.read()
            _check(resp)
        with out.open("wb") as fh:
            for chunk in resp.iter_bytes():
                fh.write(chunk)
    console.print(f"wrote {out}")
