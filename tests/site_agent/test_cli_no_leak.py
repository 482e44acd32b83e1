"""Every agent command, with ALL outbound HTTP captured: no recipe or personal data leaves.

The hub is the real application; respx sits on the agent's HTTP stack, records every request
and forwards it to the hub. A batch record with canary recipe/operator values is ingested
locally; none of its values, and no field classified recipe or pii, may appear on the wire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from hub.config import Settings
from site_agent import cli
from site_agent.egress import standard_for
from standards.classification import Level, iter_sensitive
from tests.site_agent.readings import series
from tests.site_agent.test_egress import canary_batch
from tests.sites.helpers import approve, token_for, world

HUB = "http://hub.test"
CANARIES = ("CANARY-RECIPE-7f3a", "CANARY-MAT-7f3a", "CANARY-OP-7f3a", "CANARY-OPERATOR-7f3a",
            "CANARY-MR-7f3a", "CANARY-NOTE-7f3a")
runner = CliRunner()


class Wire:
    """Records every request the agent makes and forwards it to the real hub app."""

    def __init__(self, hub: TestClient) -> None:
        self.hub = hub
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        resp = self.hub.request(request.method, request.url.path, content=request.content,
                                headers={k: v for k, v in request.headers.items()
                                         if k.lower() not in {"host", "content-length"}})
        return httpx.Response(resp.status_code, headers=resp.headers, content=resp.content)


def agent(args: list[str], env: dict[str, str], code: int | None = 0) -> str:
    result = runner.invoke(cli.app, args, env=env, catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, result.output
    return result.output


def check_wire(requests: list[httpx.Request]) -> None:
    for req in requests:
        raw = str(req.url).encode() + b"\n" + b"\n".join(
            f"{k}: {v}".encode() for k, v in req.headers.items()) + b"\n" + req.content
        for canary in CANARIES:
            assert canary.encode() not in raw, f"{canary} left the site in {req.url}"
        if req.method == "GET":
            assert not req.content and not req.url.query
            continue
        schema_id = req.headers["x-fedhub-schema"]
        body = json.loads(req.content)
        index = standard_for(schema_id).classification_index
        for item in body if isinstance(body, list) else [body]:
            assert list(iter_sensitive(index, item, Level.recipe)) == [], (schema_id, item)
            # nothing above consortium either (the projection removed it)
            assert list(iter_sensitive(index, item, Level.confidential)) == [], schema_id


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SITE_AGENT_HOME": str(tmp_path / "site"), "SITE_AGENT_HEARTBEAT_SECONDS": "0.01",
            "SITE_AGENT_LOOP_SECONDS": "0.01", "SITE_AGENT_SHARE_READINGS": "true",
            "SITE_AGENT_SHADOW_SCORER": "statistical:z_warn=3", "SITE_AGENT_ENROLL_POLL_SECONDS":
            "0.05", "SITE_AGENT_SHADOW_REPORT_EVERY": "100"}


def test_every_command_keeps_recipe_and_personal_data_at_the_site(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path,
        env: dict[str, str]) -> None:
    w = world(client, session, settings)
    token = token_for(client, w.site_admin)
    data = tmp_path / "data"
    data.mkdir()
    batch = canary_batch()
    batch["site_id"] = "basel"
    (data / "batches.json").write_text(json.dumps([batch]))
    rows = series("basel", 400, fault="spike", at=300)
    rows[5]["operator"] = "CANARY-OPERATOR-7f3a"  # an invalid reading stays local too
    (data / "readings.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    wire = Wire(client)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        mock.route(host="hub.test").mock(side_effect=wire)
        agent(["init", "--name", "Basel Fill-Finish", "--kind", "plant", "--enterprise",
               "helix-pharma", "--site", "basel", "--area", "granulation",
               "--dataset", "sensor-reading/1.0.0", "--dataset", "batch-record/1.0.0",
               "--task", "anomaly-detection", "--hub", HUB], env)
        agent(["simulate", "--out", str(data / "sim.jsonl"), "--days", "0.2"], env)
        agent(["ingest", str(data / "sim.jsonl"), "--schema", "sensor-reading/1.0.0"], env)
        agent(["ingest", str(data / "batches.json"), "--schema", "batch-record/1.0.0"], env)
        out = agent(["ingest", str(data / "readings.jsonl"), "--schema",
                     "sensor-reading/1.0.0"], env, code=1)
        assert "readings.jsonl:6: /operator" in out
        agent(["enroll", "--token", token, "--no-wait"], env)
        site_id = json.loads((tmp_path / "site" / "agent.json").read_text())["site_id"]
        assert approve(client, w.hub_admin, site_id).status_code == 200
        agent(["enroll", "--timeout", "5"], env)
        agent(["run", "--ticks", "3"], env)
        agent(["sync"], env)
        status = json.loads(agent(["status", "--json"], env))
        agent(["rotate-key", "--reason", "test rotation"], env)
        agent(["status"], env)
        agent(["standards", "list"], env)
        agent(["standards", "validate", "--schema", "batch-record/1.0.0",
               str(data / "batches.json")], env)
    assert status["hub_view"]["status"] == "active", status
    assert status["outbox"]["failed"] == 0 and status["outbox"]["pending"] == 0
    paths = {r.url.path for r in wire.requests}
    assert {"/sites/enroll", f"/sites/{site_id}/credentials", "/sites/me/heartbeat",
            "/monitoring/alerts", "/monitoring/readings", "/monitoring/shadow-reports",
            f"/sites/{site_id}/keys"} <= paths
    check_wire(wire.requests)
    # and the hub really got the shared data: alerts and readings, but no batch record
    alerts = client.get("/monitoring/alerts", headers=w.site_admin).json()
    assert alerts and {a["site_id"] for a in alerts} == {site_id}
    everything: Any = [client.get(p, headers=w.hub_admin).json() for p in (
        "/monitoring/alerts", "/monitoring/work-orders", "/monitoring/shadow-reports",
        f"/sites/{site_id}", "/audit?limit=1000")]
    assert not [c for c in CANARIES if c in json.dumps(everything)]


def test_the_wire_check_catches_a_leak() -> None:
    leak = httpx.Request("POST", f"{HUB}/monitoring/alerts",
                         headers={"x-fedhub-schema": "batch-record/1.0.0"},
                         content=json.dumps({"notes": "x"}).encode())
    with pytest.raises(AssertionError):
        check_wire([leak])
    canary = httpx.Request("GET", f"{HUB}/sites/me?q=CANARY-NOTE-7f3a")
    with pytest.raises(AssertionError):
        check_wire([canary])
