"""The running agent: keeps working while the hub is down, picks up a rotated API key,
drives pluggable services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import respx
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from hub.config import Settings
from site_agent import cli
from site_agent.config import AgentSettings, load_identity, read_secret
from site_agent.runner import AgentContext, AgentService, Runner, open_outbox
from site_agent.store import LocalStore
from tests.site_agent.readings import series
from tests.site_agent.test_cli_no_leak import HUB, Wire, check_wire
from tests.sites.helpers import approve, token_for, world

runner = CliRunner()


class Recorder(AgentService):
    name = "recorder"

    def __init__(self) -> None:
        self.events: list[str] = []

    def start(self, ctx: AgentContext) -> None:
        self.events.append(f"start:{ctx.identity.site_code}")

    def tick(self, ctx: AgentContext) -> None:
        self.events.append("tick")

    def stop(self) -> None:
        self.events.append("stop")


def _enrolled_agent(client: TestClient, session: Session, settings: Settings, home: Path,
                    mock: respx.MockRouter, wire: Wire) -> tuple[AgentSettings, Any]:
    w = world(client, session, settings)
    env = {"SITE_AGENT_HOME": str(home), "SITE_AGENT_ENROLL_POLL_SECONDS": "0.05"}
    mock.route(host="hub.test").mock(side_effect=wire)
    for args in (["init", "--name", "Basel", "--kind", "plant", "--enterprise", "helix-pharma",
                  "--site", "basel", "--hub", HUB],
                 ["enroll", "--token", token_for(client, w.site_admin), "--no-wait"]):
        assert runner.invoke(cli.app, args, env=env).exit_code == 0
    site_id = json.loads((home / "agent.json").read_text())["site_id"]
    approve(client, w.hub_admin, site_id)
    assert runner.invoke(cli.app, ["enroll", "--timeout", "5"], env=env).exit_code == 0
    return AgentSettings(home=home, heartbeat_seconds=0.001, loop_seconds=0.01), w


def test_agent_keeps_working_while_the_hub_is_down_and_delivers_later(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    wire = Wire(client)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        agent_settings, w = _enrolled_agent(client, session, settings, tmp_path / "site", mock,
                                            wire)
        watch = tmp_path / "incoming"
        watch.mkdir()
        recorder = Recorder()
        agent = Runner(agent_settings, load_identity(agent_settings), watch=watch,
                       services=[recorder])
        mock.routes.clear()
        down = mock.route(host="hub.test").mock(side_effect=httpx.ConnectError("hub down"))
        (watch / "a.jsonl").write_text("\n".join(
            json.dumps(r) for r in series("basel", 400, fault="spike", at=300)))
        agent.run(max_ticks=2)  # hub down: ingest, score, queue; no crash
        assert down.called
        store = LocalStore(agent_settings.store_file)
        pending = open_outbox(agent_settings, store).counts()["pending"]
        assert pending >= 1 and store.record_counts() == {"sensor-reading/1.0.0": 400}
        store.close()
        assert recorder.events[0] == "start:basel" and recorder.events[-1] == "stop"
        assert recorder.events.count("tick") == 2
        mock.routes.clear()
        mock.route(host="hub.test").mock(side_effect=wire)
        again = Runner(agent_settings, load_identity(agent_settings), services=[])
        again.store.set_meta("outbox.paused_until", 0)  # the backoff has elapsed
        again.store.conn.execute("UPDATE outbox SET next_attempt_at = 0")
        again.run(max_ticks=1)
        assert again.last_delivery is not None and again.last_delivery.delivered == pending
    alerts = client.get("/monitoring/alerts", headers=w.site_admin).json()
    assert len(alerts) == pending
    check_wire(wire.requests)


def test_agent_picks_up_a_rotated_api_key(client: TestClient, session: Session,
                                          settings: Settings, tmp_path: Path) -> None:
    wire = Wire(client)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        agent_settings, w = _enrolled_agent(client, session, settings, tmp_path / "site", mock,
                                            wire)
        old = read_secret(agent_settings.api_key_path)
        site_id = load_identity(agent_settings).site_id
        resp = client.post(f"/sites/{site_id}/api-key/rotate", headers=w.site_admin,
                           json={"reason": "key file exposed"})
        assert resp.status_code == 200
        agent = Runner(agent_settings, load_identity(agent_settings), services=[])
        agent.run(max_ticks=1)  # heartbeat: 401, pick up the sealed key, heartbeat again
        new = read_secret(agent_settings.api_key_path)
        assert new and new != old and new.split("_")[1] == resp.json()["api_key_prefix"]
        statuses = [c.response.status_code for c in mock.calls
                    if c.request.url.path == "/sites/me/heartbeat"]
        assert statuses[-2:] == [401, 200]
