"""SIGKILL the agent mid-delivery to a real hub; after restart every message arrives once."""

from __future__ import annotations

import json
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from site_agent import messages
from site_agent.outbox import Outbox
from site_agent.store import LocalStore
from tests.site_agent.live_hub import agent_env, live_hub, site_agent, spawn

N, HOLD_AT = 60, 25
ORGS = {"Helix Pharma": ("pharma", "helix.admin", ["site_admin"]),
        "Consortium Operator": ("operator", "hub.admin", ["hub_admin"])}


def alert(i: int) -> dict[str, object]:
    return {"alert_id": str(uuid.uuid4()), "site_id": "plant-basel",
            "asset": {"enterprise": "helix-pharma", "site": "plant-basel", "area": "granulation",
                      "unit": "line-1", "equipment": f"fbd-{100 + i % 4}"},
            "measurement": "vibration", "detector": "zscore", "severity": "warning",
            "score": 5.0 + i, "value": 3.0, "expected": 2.0, "unit": "mm/s",
            "message": f"test alert {i}", "raised_at": datetime.now(UTC).isoformat(),
            "reading_id": str(uuid.uuid4()), "scorer": "statistical"}


@pytest.mark.slow
def test_sigkill_mid_delivery_then_restart_delivers_each_message_exactly_once(
        tmp_path: Path) -> None:
    with live_hub(tmp_path, ORGS, "/monitoring/alerts", hold_at=HOLD_AT) as hub:
        env = agent_env(tmp_path / "agent")
        site_agent(["init", "--name", "Basel", "--kind", "plant", "--enterprise",
                    "helix-pharma", "--site", "plant-basel", "--hub", hub.url], env)
        token = httpx.post(f"{hub.url}/sites/enrollment-tokens", json={},
                           headers=hub.login("helix.admin")).json()["token"]
        site_agent(["enroll", "--token", token, "--no-wait"], env)
        site_id = json.loads((tmp_path / "agent" / "agent.json").read_text())["site_id"]
        approved = httpx.post(f"{hub.url}/sites/{site_id}/approve", headers=hub.login(
            "hub.admin"), json={"password": "Correct-Horse-42!"})
        assert approved.status_code == 200, approved.text
        site_agent(["enroll", "--timeout", "30"], env)

        store = LocalStore(tmp_path / "agent" / "site.db")
        outbox = Outbox(store, tmp_path / "agent" / "outbox.lock")
        sent = [alert(i) for i in range(N)]
        for a in sent:
            outbox.enqueue("/monitoring/alerts", messages.ALERT, a, key=f"alert-{a['alert_id']}")

        proc = spawn(["sync"], env)
        try:
            assert hub.hold.held.wait(60), "the agent never reached the held message"
            # the hub has committed message HOLD_AT; the agent is still waiting for the answer
            assert hub.count("SELECT COUNT(*) FROM monitoring_alert") == HOLD_AT
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
            hub.hold.release.set()
        counts = outbox.counts()
        assert counts["delivered"] == HOLD_AT - 1  # the in-flight one is not marked delivered
        assert counts["pending"] == N - HOLD_AT + 1

        site_agent(["sync"], env)  # restart

        assert outbox.counts() == {"pending": 0, "delivered": N, "failed": 0}
        assert hub.count("SELECT COUNT(*) FROM monitoring_alert") == N
        with hub.db.engine.connect() as conn:
            got = {r for (r,) in conn.exec_driver_sql(
                "SELECT source_alert_id FROM monitoring_alert").all()}
        assert got == {str(a["alert_id"]) for a in sent}
        assert hub.hold.replayed == 1  # the in-flight message was answered from the key table
        assert hub.count("SELECT COUNT(*) FROM site_idempotency WHERE site_id = :s",
                         s=site_id) >= N
        store.close()
