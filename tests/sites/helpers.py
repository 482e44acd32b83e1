"""Helpers for site tests: key pairs made the way the agent makes them, enrollment flows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from hub.identity.models import Organization
from site_agent import keys
from tests.factories import PASSWORD, login, make_org, make_user

_seq = itertools.count(1)


@dataclass
class SiteKeys:
    private: ec.EllipticCurvePrivateKey
    public: str


def new_keys(tmp: Path) -> SiteKeys:
    directory = tmp / f"keys{next(_seq)}"
    priv, pub = keys.generate(directory)
    return SiteKeys(keys.load_private(priv), pub.read_text().strip())


def site_body(pub: str, name: str | None = None, kind: str = "plant",
              datasets: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name or f"Site {next(_seq)}", "kind": kind, "public_key": pub,
            "location": {"enterprise": "helix-pharma", "site": "basel", "area": "fill-finish",
                         "work_center": "line-3", "country": "CH"},
            "capabilities": {"datasets": datasets or [], "tasks": ["anomaly-detection"]},
            "agent_version": "0.1.0", **extra}


@dataclass
class World:
    member: Organization
    operator: Organization
    site_admin: dict[str, str]
    hub_admin: dict[str, str]


def world(client: TestClient, session: Session, settings: Settings) -> World:
    member = make_org(session)
    operator = make_org(session, kind="operator")
    sa = make_user(session, settings, member, "site_admin")
    ha = make_user(session, settings, operator, "hub_admin", full_name="Dr. Hub Admin")
    return World(member, operator, login(client, sa.username), login(client, ha.username))


def token_for(client: TestClient, auth: dict[str, str]) -> str:
    resp = client.post("/sites/enrollment-tokens", headers=auth, json={})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["token"])


def agent_enroll(client: TestClient, token: str, body: dict[str, Any]) -> Any:
    return client.post("/sites/enroll", headers={"Authorization": f"Bearer {token}"}, json=body)


def poll(client: TestClient, site_id: str, key: SiteKeys) -> Any:
    return client.post(f"/sites/{site_id}/credentials",
                       json=keys.proof(key.private, site_id, "credentials"))


def approve(client: TestClient, auth: dict[str, str], site_id: str,
            password: str = PASSWORD) -> Any:
    return client.post(f"/sites/{site_id}/approve", headers=auth,
                       json={"password": password, "comment": "checked with the plant"})


def enrolled_site(client: TestClient, w: World, tmp: Path, **body: Any) -> tuple[str, SiteKeys,
                                                                               str]:
    """Enroll, approve and pick up the API key: (site id, keys, API key)."""
    k = new_keys(tmp)
    resp = agent_enroll(client, token_for(client, w.site_admin), site_body(k.public, **body))
    assert resp.status_code == 201, resp.text
    site_id = resp.json()["id"]
    assert approve(client, w.hub_admin, site_id).status_code == 200
    sealed = poll(client, site_id, k).json()["api_key"]
    return site_id, k, keys.open_sealed(k.private, sealed, site_id).decode()
