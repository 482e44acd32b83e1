"""The hub is down for a while: a real ``site-agent run`` keeps ingesting and queuing, then
delivers everything exactly once when the hub comes back.

(``tests/site_agent/test_outbox_crash.py`` kills the agent instead; ``test_outbox.py`` and
``test_runner.py`` cover a hub that is down with a mocked network.)"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hub.config import Settings
from hub.db import Database
from tests.reliability.harness import SHARED_SERVER, HubProcess, fresh_database, server_reachable
from tests.site_agent.live_hub import PASSWORD, agent_env, seed, site_agent
from tests.site_agent.readings import series

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]
ORGS = {"Helix Pharma": ("pharma", "helix.admin", ["site_admin"]),
        "Consortium Operator": ("operator", "hub.admin", ["hub_admin"])}
SITE = "plant-basel"


def wait(what: str, done: Callable[[], bool], timeout: float = 60) -> None:
    began = time.monotonic()
    while not done():
        assert time.monotonic() - began < timeout, f"timed out waiting for {what}"
        time.sleep(0.2)


def outbox(store: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    try:
        out = {"pending": 0, "delivered": 0, "failed": 0, "attempts": 0}
        out.update(dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")))
        out["attempts"] = conn.execute("SELECT COALESCE(SUM(attempts), 0) FROM outbox "
                                       "WHERE status = 'pending'").fetchone()[0]
        out["records"] = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        return out
    finally:
        conn.close()


def login(hub: HubProcess, username: str) -> dict[str, str]:
    resp = httpx.post(f"{hub.url}/auth/token", data={"username": username, "password": PASSWORD})
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_agent_queues_while_the_hub_is_down_and_delivers_exactly_once_after(
        tmp_path: Path) -> None:
    if not server_reachable(SHARED_SERVER):
        pytest.skip(f"PostgreSQL at {SHARED_SERVER} is not reachable")
    with fresh_database(SHARED_SERVER, "outage") as url:
        settings = Settings(environment="test", data_dir=tmp_path, secret_key="o" * 40,
                            database_url=url)
        db = Database(settings)
        seed(db, settings, ORGS)
        hub = HubProcess(url, tmp_path / "hub", workers=1)
        hub.start()
        home, watch = tmp_path / "agent", tmp_path / "incoming"
        watch.mkdir()
        env = agent_env(home, SITE_AGENT_SHARE_READINGS="true", SITE_AGENT_READINGS_BATCH="50",
                        SITE_AGENT_LOOP_SECONDS="0.2", SITE_AGENT_BACKOFF_BASE="0.2",
                        SITE_AGENT_BACKOFF_MAX="1", SITE_AGENT_HEARTBEAT_SECONDS="1",
                        SITE_AGENT_REQUEST_TIMEOUT="5")
        site_agent(["init", "--name", "Basel", "--kind", "plant", "--enterprise",
                    "helix-pharma", "--site", SITE, "--hub", hub.url], env)
        token = httpx.post(f"{hub.url}/sites/enrollment-tokens", json={},
                           headers=login(hub, "helix.admin")).json()["token"]
        site_agent(["enroll", "--token", token, "--no-wait"], env)
        site_id = json.loads((home / "agent.json").read_text())["site_id"]
        approved = httpx.post(f"{hub.url}/sites/{site_id}/approve", json={
            "password": PASSWORD}, headers=login(hub, "hub.admin"))
        assert approved.status_code == 200, approved.text
        site_agent(["enroll", "--timeout", "30"], env)

        def at_hub(sql: str) -> int:
            with db.engine.connect() as conn:
                return int(conn.execute(sa.text(sql), {"s": site_id}).scalar_one())

        readings = "SELECT COUNT(*) FROM monitoring_reading WHERE site_id = :s"
        first = series(SITE, 300, equipment="fbd-101", seed=1)
        second = series(SITE, 300, equipment="fbd-102", seed=2, fault="spike", at=250)
        log = (tmp_path / "agent.log").open("wb")
        agent = subprocess.Popen([sys.executable, "-m", "site_agent.cli", "run", "--watch",
                                  str(watch)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            (watch / "first.jsonl").write_text("\n".join(json.dumps(r) for r in first))
            wait("the first file at the hub", lambda: at_hub(readings) == 300)

            hub.stop()
            (watch / "second.jsonl").write_text("\n".join(json.dumps(r) for r in second))
            store = home / "site.db"
            # the agent goes on: ingests and scores the new file, queues, retries and fails
            wait("queued messages retried against the stopped hub",
                 lambda: outbox(store)["records"] == 600 and outbox(store)["attempts"] >= 5)
            queued = outbox(store)
            assert queued["pending"] >= 6 and queued["failed"] == 0  # 300 readings / 50 + alert
            assert agent.poll() is None

            hub.start()  # same address
            wait("the queue delivered", lambda: outbox(store)["pending"] == 0, timeout=60)
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(30)
            finally:
                if agent.poll() is None:
                    agent.kill()
                log.close()
                hub.stop()

        final = outbox(home / "site.db")
        assert final["failed"] == 0 and final["delivered"] >= 13
        with db.engine.connect() as conn:
            got = [r for (r,) in conn.execute(sa.text(
                "SELECT reading_id FROM monitoring_reading WHERE site_id = :s"), {"s": site_id})]
            alerts = conn.execute(sa.text("SELECT source_alert_id FROM monitoring_alert "
                                          "WHERE site_id = :s"), {"s": site_id}).all()
            keys = conn.execute(sa.text("SELECT COUNT(*) FROM site_idempotency WHERE "
                                        "site_id = :s"), {"s": site_id}).scalar_one()
        sent = [r["reading_id"] for r in first + second]
        assert sorted(got) == sorted(sent)  # every reading once, none twice
        local_alerts = sqlite_alerts(home / "site.db")
        assert local_alerts and sorted(a for (a,) in alerts) == sorted(local_alerts)
        assert keys == final["delivered"]  # one stored key per message: none ran twice
        print(f"hub outage: queued while down {queued}; delivered {final['delivered']} "
              f"messages, {len(got)} readings, {len(alerts)} alerts")
        db.engine.dispose()


def sqlite_alerts(store: Path) -> list[Any]:
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return [a for (a,) in conn.execute("SELECT alert_id FROM alerts")]
    finally:
        conn.close()
