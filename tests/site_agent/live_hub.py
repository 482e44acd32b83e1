"""A real hub served by uvicorn on loopback, and site agents run as real subprocesses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session

from hub.app import create_app
from hub.config import Settings
from hub.db import Database
from hub.demo import HubServer
from hub.identity import service as identity
from hub.identity.schemas import OrganizationCreate, UserCreate
from hub.migrations import upgrade

PASSWORD = "Correct-Horse-42!"
Scope = dict[str, Any]


class HoldResponse:
    """ASGI wrapper: lets the hub finish (and commit) the Nth POST to ``path``, then holds its
    response until released; counts responses that were idempotent replays."""

    def __init__(self, app: Any, path: str, hold_at: int | None = None) -> None:
        self.app, self.path, self.hold_at = app, path, hold_at
        self.count = self.replayed = 0
        self.held, self.release = threading.Event(), threading.Event()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.count += 1
        number = self.count
        buffered: list[Scope] = []

        async def capture(message: Scope) -> None:
            buffered.append(message)

        await self.app(scope, receive, capture)  # the request is fully handled and committed
        for message in buffered:
            if message["type"] == "http.response.start" and (
                    (b"idempotent-replayed", b"true") in message.get("headers", [])):
                self.replayed += 1
        if number == self.hold_at:
            self.held.set()
            await asyncio.to_thread(self.release.wait, 60)
        for message in buffered:
            await send(message)


@dataclass
class LiveHub:
    url: str
    settings: Settings
    db: Database
    hold: HoldResponse
    users: dict[str, dict[str, str]] = field(default_factory=dict)

    def count(self, sql: str, **params: Any) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.execute(sa.text(sql), params).scalar_one())

    def login(self, username: str) -> dict[str, str]:
        resp = httpx.post(f"{self.url}/auth/token",
                          data={"username": username, "password": PASSWORD})
        resp.raise_for_status()
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def seed(db: Database, settings: Settings, orgs: dict[str, tuple[str, str, list[str]]]) -> None:
    """orgs: name -> (kind, username, roles)."""
    with db.session() as session:
        for name, (kind, username, roles) in orgs.items():
            org = identity.create_organization(session, OrganizationCreate(name=name, kind=kind))
            identity.create_user(session, settings, UserCreate(
                username=username, full_name=username.replace(".", " ").title(),
                email=f"{username}@example.org", organization_id=org.id, roles=roles,
                password=PASSWORD))
        session.commit()


@contextmanager
def live_hub(tmp: Path, orgs: dict[str, tuple[str, str, list[str]]],
             hold_path: str = "/monitoring/alerts", hold_at: int | None = None
             ) -> Iterator[LiveHub]:
    settings = Settings(environment="test", data_dir=tmp / "hub", secret_key="l" * 40,
                        database_url=f"sqlite:///{tmp / 'hub' / 'hub.db'}")
    db = Database(settings)
    upgrade(settings.database_url, engine=db.engine)
    seed(db, settings, orgs)
    server = HubServer(settings)
    hold = HoldResponse(create_app(settings, db=db), hold_path, hold_at)
    server.server.config.app = hold
    server.server.config.loaded = False
    with server:
        try:
            yield LiveHub(server.url, settings, db, hold)
        finally:
            hold.release.set()
    db.engine.dispose()


def agent_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SITE_AGENT_", "FEDHUB_"))}
    env.update({"SITE_AGENT_HOME": str(home), **extra})
    return env


def site_agent(args: list[str], env: dict[str, str], check: bool = True,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``site-agent ARGS`` as a real subprocess."""
    done = subprocess.run([sys.executable, "-m", "site_agent.cli", *args], env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"site-agent {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "site_agent.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def session_of(hub: LiveHub) -> Session:
    return hub.db.session()
