"""Test data factories for organizations and users (through the real services)."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from hub.identity import service
from hub.identity.models import Organization, User
from hub.identity.schemas import OrganizationCreate, UserCreate

PASSWORD = "Correct-Horse-42!"
_seq = itertools.count(1)


def make_org(session: Session, kind: str = "pharma", name: str | None = None,
             jurisdiction: str = "EU") -> Organization:
    org = service.create_organization(session, OrganizationCreate(
        name=name or f"Org {next(_seq)}", kind=kind, jurisdiction=jurisdiction))
    session.commit()
    return org


def make_user(session: Session, settings: Settings, org: Organization, *roles: str,
              username: str | None = None, password: str = PASSWORD,
              full_name: str | None = None) -> User:
    name = username or f"user{next(_seq)}"
    user = service.create_user(session, settings, UserCreate(
        username=name, full_name=full_name or name.title(), email=f"{name}@example.org",
        organization_id=org.id, roles=list(roles) or ["researcher"], password=password))
    session.commit()
    return user


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    resp = client.post("/auth/token", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def assert_problem(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with the given status (and code)."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    for key in ("type", "title", "status", "detail", "code"):
        assert key in body, f"problem document lacks {key!r}: {body}"
    assert body["status"] == status
    if code:
        assert body["code"] == code, body
    text = resp.text.lower()
    assert "traceback" not in text and "sqlalchemy" not in text and "select " not in text
    return body
