"""A populated hub for security tests: two member organizations, every role, a site, a key."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from tests.factories import login, make_org, make_user
from tests.sites.helpers import World, enrolled_site

ROLES = ("hub_admin", "qa", "site_admin", "researcher", "instructor", "trainee", "regulator")
PRINCIPALS = (*ROLES, "machine", "anonymous")


@dataclass
class Hub:
    """Principals of organization A (plus a regulator organization) and their credentials."""

    org_a: str
    org_b: str
    headers: dict[str, dict[str, str]]
    user_ids: dict[str, str]
    site_id: str
    api_key: str
    extra: dict[str, Any] = field(default_factory=dict)


def build(client: TestClient, session: Session, settings: Settings, tmp: Path) -> Hub:
    """Organization A with one user per role and an enrolled site; B and a regulator org."""
    org_a = make_org(session, name="Helix Pharma A")
    org_b = make_org(session, name="Borealis Pharma B")
    operator = make_org(session, kind="operator", name="Consortium operator")
    authority = make_org(session, kind="regulator", name="Medicines authority")
    headers: dict[str, dict[str, str]] = {}
    user_ids: dict[str, str] = {}
    for role in ROLES:
        org = {"hub_admin": operator, "regulator": authority}.get(role, org_a)
        user = make_user(session, settings, org, role, username=f"authz-{role}")
        user_ids[role] = user.id
        headers[role] = login(client, user.username)
    w = World(org_a, operator, headers["site_admin"], headers["hub_admin"])
    site_id, _keys, api_key = enrolled_site(client, w, tmp)
    headers["machine"] = {"X-API-Key": api_key}
    headers["anonymous"] = {}
    return Hub(org_a.id, org_b.id, headers, user_ids, site_id, api_key)


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every (METHOD, path template) in the OpenAPI schema."""
    schema = app.openapi()
    return sorted((method.upper(), path) for path, ops in schema["paths"].items()
                  for method in ops if method in {"get", "post", "put", "patch", "delete"})


_PARAM = re.compile(r"\{([^}]+)\}")
DUMMY = {
    "name": "sensor-reading", "version": "1.0.0", "kind": "csv", "idx": "0",
    "task": "anomaly-detection", "gtin": "09506000134352", "lot": "LOT-1",
    "section": "summary", "list_id": "1",
}


def concrete(path: str, hub: Hub, method: str) -> str:
    """Fill a path template: real ids for reads of shared fixtures, unknown ids otherwise."""
    real = {"org_id": hub.org_a, "user_id": hub.user_ids["researcher"], "site_id": hub.site_id,
            "partner_org_id": hub.org_b}
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if method == "GET" and name in real:
            return real[name]
        if name in {"site_id", "partner_org_id"}:  # writes go to a site/partner that is not there
            return str(uuid.uuid4())
        return DUMMY.get(name, str(uuid.uuid4()))
    return _PARAM.sub(fill, path)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    """One request with an empty body (form for the login endpoint)."""
    if path == "/auth/token":
        return client.post(path, data={"username": "nobody", "password": "x"}, headers=headers)
    if method in {"POST", "PUT", "PATCH"}:
        return client.request(method, path, json={}, headers=headers)
    return client.request(method, path, headers=headers)
