"""Organizations of a cold chain: plant (owner), carrier, distributor and an outsider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from tests.factories import login, make_org, make_user


@dataclass
class Member:
    org_id: str
    name: str
    auth: dict[str, str]


@dataclass
class Chain:
    plant: Member
    carrier: Member
    distributor: Member
    outsider: Member
    carrier_key: dict[str, str]

    def capture(self, client: TestClient, who: dict[str, str], doc: dict[str, Any]) -> Any:
        return capture(client, who, doc)


def _member(client: TestClient, session: Session, settings: Settings, kind: str,
            name: str) -> Member:
    org = make_org(session, kind=kind, name=name)
    user = make_user(session, settings, org, "site_admin", "qa")
    return Member(org.id, name, login(client, user.username))


def capture(client: TestClient, who: dict[str, str], doc: dict[str, Any]) -> Any:
    """POST a document and return the receipt (the capture must succeed)."""
    resp = client.post("/traceability/capture", json=doc, headers=who)
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.fixture
def plant(client: TestClient, session: Session, settings: Settings) -> Member:
    """One organization on its own (a plant's site admin)."""
    return _member(client, session, settings, "pharma", "Alpine Vaccines")


@pytest.fixture
def chain(client: TestClient, session: Session, settings: Settings) -> Chain:
    """Plant declares carrier (logistics) and distributor; both declare the plant back."""
    plant = _member(client, session, settings, "pharma", "Alpine Vaccines")
    carrier = _member(client, session, settings, "logistics", "ColdFreight")
    distributor = _member(client, session, settings, "pharma", "MediDistrib")
    outsider = _member(client, session, settings, "pharma", "Other Pharma")
    key = client.post("/api-keys", headers=carrier.auth, json={"name": "truck gateway"})
    assert key.status_code == 201, key.text
    for owner, partner in ((plant, carrier), (plant, distributor), (carrier, plant),
                           (distributor, plant)):
        resp = client.put(f"/traceability/partners/{partner.org_id}", headers=owner.auth,
                          json={})
        assert resp.status_code == 200, resp.text
    return Chain(plant, carrier, distributor, outsider, {"X-API-Key": key.json()["key"]})
