"""End to end: a real hub on loopback, a plant agent and a lab agent as real processes.

Both sites enroll with tokens from their site admins, a hub admin approves them with an
electronic signature, the agents ingest data locally, the plant streams monitoring alerts
(and work orders) to the hub, and a revoked site is refused at once.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from standards import registry
from tests.site_agent.live_hub import PASSWORD, agent_env, live_hub, site_agent, spawn

ORGS = {"Helix Pharma": ("pharma", "helix.admin", ["site_admin"]),
        "Northgate Institute": ("institute", "north.admin", ["site_admin"]),
        "Consortium Operator": ("operator", "hub.admin", ["hub_admin", "qa"])}


def wait_for(check: Any, timeout: float = 90, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
def test_two_sites_enroll_ingest_stream_alerts_and_a_revoked_site_is_refused(
        tmp_path: Path) -> None:
    with live_hub(tmp_path, ORGS) as hub:
        plant_env = agent_env(tmp_path / "plant", SITE_AGENT_HEARTBEAT_SECONDS="1",
                              SITE_AGENT_LOOP_SECONDS="0.2",
                              SITE_AGENT_SHADOW_SCORER="statistical:z_warn=4,name=candidate",
                              SITE_AGENT_SHADOW_REPORT_EVERY="1000")
        lab_env = agent_env(tmp_path / "lab")
        helix, north, admin = (hub.login(u) for u in ("helix.admin", "north.admin",
                                                       "hub.admin"))
        site_agent(["init", "--name", "Basel Solid Dose", "--kind", "plant", "--enterprise",
                    "helix-pharma", "--site", "plant-basel", "--area", "granulation",
                    "--country", "CH", "--dataset", "sensor-reading/1.0.0",
                    "--task", "equipment-anomaly", "--hub", hub.url], plant_env)
        site_agent(["init", "--name", "Northgate Screening Lab", "--kind", "lab",
                    "--enterprise", "northgate", "--site", "lab-north",
                    "--dataset", "molecule-submission/1.0.0", "--task", "molecular-property",
                    "--hub", hub.url], lab_env)
        for env, auth in ((plant_env, helix), (lab_env, north)):
            token = httpx.post(f"{hub.url}/sites/enrollment-tokens", json={},
                               headers=auth).json()["token"]
            site_agent(["enroll", "--token", token, "--no-wait"], env)

        # the hub admin sees both requests and signs both approvals
        pending = httpx.get(f"{hub.url}/sites", params={"status": "pending"},
                            headers=admin).json()
        assert {(s["name"], s["kind"]) for s in pending} == {
            ("Basel Solid Dose", "plant"), ("Northgate Screening Lab", "lab")}
        ids = {s["kind"]: s["id"] for s in pending}
        for site_id in ids.values():
            resp = httpx.post(f"{hub.url}/sites/{site_id}/approve", headers=admin,
                              json={"password": PASSWORD, "comment": "site audit passed"})
            assert resp.status_code == 200 and resp.json()["status"] == "active", resp.text
            sig = httpx.get(f"{hub.url}/signatures", headers=admin, params={
                "entity_type": "site", "entity_id": site_id}).json()[0]
            assert sig["meaning"] == "approved" and sig["printed_name"] == "Hub Admin"
        for env in (plant_env, lab_env):
            site_agent(["enroll", "--timeout", "30"], env)

        # data stays local: the plant simulates and ingests telemetry, the lab its molecules
        readings = tmp_path / "plant-readings.jsonl"
        site_agent(["simulate", "--out", str(readings), "--days", "2", "--faults", "6",
                    "--seed", "3"], plant_env)
        out = site_agent(["ingest", str(readings), "--schema", "sensor-reading/1.0.0"],
                         plant_env).stdout
        assert "0 invalid" in out
        molecules = tmp_path / "molecules.json"
        molecules.write_text(json.dumps(
            registry.get("molecule-submission", "1.0.0").examples()))
        site_agent(["ingest", str(molecules), "--schema", "molecule-submission/1.0.0"],
                   lab_env)

        # the plant agent runs: alerts stream to the hub while it works
        runner = spawn(["run"], plant_env)
        try:
            alerts = wait_for(lambda: httpx.get(f"{hub.url}/monitoring/alerts",
                                                headers=helix).json())
            wait_for(lambda: httpx.get(f"{hub.url}/sites/{ids['plant']}",
                                       headers=helix).json()["last_contact_at"])
            orders = wait_for(lambda: httpx.get(f"{hub.url}/monitoring/work-orders",
                                                headers=helix).json())
            shadow = wait_for(lambda: httpx.get(f"{hub.url}/monitoring/shadow-reports",
                                                headers=helix).json())
        finally:
            runner.send_signal(signal.SIGTERM)
            assert runner.wait(30) == 0, runner.stderr.read() if runner.stderr else ""
        assert {a["site_id"] for a in alerts} == {ids["plant"]}
        assert all(a["asset"]["site"] == "plant-basel" for a in alerts)
        assert orders[0]["document"]["site_id"] == "plant-basel"
        assert shadow[0]["shadow_scorer"] == "candidate" and shadow[0]["readings"] == 1000
        status = json.loads(site_agent(["status", "--json"], plant_env).stdout)
        assert status["outbox"]["failed"] == 0
        assert status["alerts_raised"] >= len(alerts)

        # the lab's agent checks in; site list shows status, last contact and agent version
        site_agent(["sync"], lab_env)
        sites = {s["kind"]: s for s in httpx.get(f"{hub.url}/sites", headers=admin).json()}
        for kind in ("plant", "lab"):
            assert sites[kind]["status"] == "active"
            assert sites[kind]["last_contact_at"] and sites[kind]["agent_version"] == "0.1.0"
        # org scoping: each site admin sees only their own site
        assert [s["kind"] for s in httpx.get(f"{hub.url}/sites", headers=north).json()] == [
            "lab"]
        assert httpx.get(f"{hub.url}/monitoring/alerts", headers=north).json() == []

        # triage at the hub, with a reason
        ack = httpx.post(f"{hub.url}/monitoring/alerts/{alerts[0]['id']}/acknowledge",
                         headers=helix, json={"reason": "maintenance planner informed"})
        assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"

        # the lab is revoked: its agent is refused at once
        revoked = httpx.post(f"{hub.url}/sites/{ids['lab']}/revoke", headers=north,
                             json={"reason": "lab closed"})
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        refused = site_agent(["sync"], lab_env, check=False)
        assert refused.returncode != 0 and "revoked" in (refused.stdout + refused.stderr)
        view = json.loads(site_agent(["status", "--json"], lab_env).stdout)["hub_view"]
        assert "revoked" in json.dumps(view)
        assert hub.count("SELECT COUNT(*) FROM api_key WHERE site_id = :s AND revoked_at IS "
                         "NULL", s=ids["lab"]) == 0
