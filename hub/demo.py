"""``fedhub demo``: the end-to-end tour on the embedded SQLite default."""

from __future__ import annotations

import importlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from rich.console import Console
from sqlmodel import Session, select

from hub.config import Settings, get_settings
from hub.console import CliConsole
from hub.db import Database
from hub.identity import service as identity
from hub.identity.models import Organization, User
from hub.identity.schemas import OrganizationCreate, UserCreate

console = CliConsole()

# Each domain contributes one step, run in this order against the live demo hub.
DEMO_STEPS: list[str] = [
    "training_portal.demo:run",
    "hub.federation.demo:run",
    "hub.screening.demo:run",
    "hub.compliance.demo:run",
]


@dataclass
class DemoContext:
    """What a demo step gets: the live hub, an admin client, and a place for credentials."""

    settings: Settings
    db: Database
    url: str
    client: httpx.Client
    admin_headers: dict[str, str]
    console: Console
    credentials: dict[str, str] = field(default_factory=dict)
    summary: dict[str, object] = field(default_factory=dict)


def _load_step(ref: str) -> Callable[[DemoContext], None]:
    module, _, name = ref.partition(":")
    step: Callable[[DemoContext], None] = getattr(importlib.import_module(module), name)
    return step

OPERATOR_ORG = "fedhub Consortium Operator"
ADMIN_USER = "hubadmin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_password() -> str:
    return "Demo-" + secrets.token_urlsafe(9) + "-7a"


def ensure_org(session: Session, name: str, kind: str, jurisdiction: str = "EU") -> Organization:
    org = session.exec(select(Organization).where(Organization.name == name)).first()
    return org or identity.create_organization(
        session, OrganizationCreate(name=name, kind=kind, jurisdiction=jurisdiction))


def ensure_user(session: Session, settings: Settings, username: str, org: Organization,
                roles: list[str], full_name: str, password: str) -> tuple[User, str | None]:
    """Create the user if missing; returns the password only when it was just set."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user:
        return user, None
    user = identity.create_user(session, settings, UserCreate(
        username=username, full_name=full_name, email=f"{username}@example.org",
        organization_id=org.id, roles=roles, password=password))
    return user, password


def _password_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-credentials.json"


def _all_passwords(settings: Settings) -> dict[str, str]:
    path = _password_file(settings)
    return dict(json.loads(path.read_text())) if path.exists() else {}


def remember_password(settings: Settings, user: str, password: str) -> None:
    """Demo accounts only: keep generated passwords in the data dir (mode 0600)."""
    data = _all_passwords(settings)
    data[user] = password
    path = _password_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)


def _stored_password(settings: Settings, user: str) -> str:
    try:
        return _all_passwords(settings)[user]
    except KeyError:
        console.print(f"[red]no demo password for {user}[/]; remove {settings.data_dir} "
                      "to start the demo afresh")
        raise typer.Exit(1) from None


class HubServer:
    """The hub running under uvicorn in a background thread (real HTTP on loopback)."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        from hub.app import create_app

        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("hub did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def demo(
    serve: Annotated[bool, typer.Option(help="keep the hub running afterwards")] = False,
    port: Annotated[int, typer.Option(help="port for the demo hub (0 = any free port)")] = 0,
) -> None:
    """Run the end-to-end demo on the embedded SQLite default and print how to log in."""
    from hub.migrations import upgrade

    settings = get_settings()
    db = Database(settings)
    console.rule("[bold]fedhub demo")
    console.print(f"database: {settings.database_url}")
    upgrade(settings.database_url, engine=db.engine)
    creds: dict[str, str] = {}
    with db.session() as session:
        operator = ensure_org(session, OPERATOR_ORG, "operator")
        _, pw = ensure_user(session, settings, ADMIN_USER, operator, ["hub_admin", "qa"],
                            "Hub Administrator", demo_password())
        if pw:
            creds[ADMIN_USER] = pw
            remember_password(settings, ADMIN_USER, pw)
        session.commit()

    with HubServer(settings, port or None) as hub:
        console.print(f"hub running at {hub.url} (OpenAPI docs at {hub.url}/docs)")
        with httpx.Client(base_url=hub.url, timeout=120) as client:
            ready = client.get("/ready").json()
            console.print(f"readiness: {ready}")
            admin_pw = creds.get(ADMIN_USER) or _stored_password(settings, ADMIN_USER)
            tok = client.post("/auth/token", data={"username": ADMIN_USER,
                                                   "password": admin_pw})
            tok.raise_for_status()
            auth = {"Authorization": f"Bearer {tok.json()['access_token']}"}
            me = client.get("/me", headers=auth).json()
            console.print(f"logged in over HTTP as {me['username']} ({', '.join(me['roles'])})")
            ctx = DemoContext(settings, db, hub.url, client, auth, console, creds)
            for ref in DEMO_STEPS:
                _load_step(ref)(ctx)
            chain = client.get("/audit/verify", headers=auth).json()
            console.print(f"audit chain: ok={chain['ok']} entries={chain['entries']} "
                          f"head={chain['head_hash'][:16]}…")

        console.rule("how to log in")
        for user, pw in _all_passwords(settings).items():
            console.print(f"  user [bold]{user}[/]  password [bold]{pw}[/]")
        console.print("  start the hub:  fedhub serve   then open "
                      f"{settings.public_url}/web/ (portal) or {settings.public_url}/docs (API)")
        console.print("  or:  curl -d 'username=hubadmin&password=…' "
                      f"{settings.public_url}/auth/token")
        if serve:
            console.print(f"serving at {hub.url}; Ctrl-C to stop")
            try:
                while hub.thread.is_alive():
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
