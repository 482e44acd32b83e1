"""EPCIS documents stored at a site reach the hub's traceability through the outbox, once,
without their confidential parts; nothing is sent unless the site shares traceability."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import respx
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from hub.config import Settings
from site_agent import cli
from site_agent.config import AgentSettings, load_identity
from site_agent.runner import Runner, open_outbox
from site_agent.store import LocalStore
from site_agent.traceability import CAPTURE
from tests.site_agent.test_cli_no_leak import Wire
from tests.site_agent.test_runner import _enrolled_agent
from tests.traceability import docs

runner = CliRunner()


def _ingest(home: Path, tmp: Path, document: dict[str, Any]) -> None:
    path = tmp / "shipment.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(cli.app, ["ingest", str(path), "--schema", "epcis-document/2.0.0"],
                           env={"SITE_AGENT_HOME": str(home)})
    assert result.exit_code == 0, result.output


def _run(settings: AgentSettings, ticks: int = 2) -> None:
    Runner(settings, load_identity(settings), services=[]).run(max_ticks=ticks)


def _captures(wire: Wire) -> list[Any]:
    return [r for r in wire.requests if r.url.path == CAPTURE]


def test_shared_epcis_document_reaches_the_hub_once_without_confidential_parts(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    wire = Wire(client)
    home = tmp_path / "site"
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        agent_settings, w = _enrolled_agent(client, session, settings, home, mock, wire)
        agent_settings = agent_settings.model_copy(update={"share_traceability": True})
        _ingest(home, tmp_path, docs.plant_document())
        _run(agent_settings)
        _ingest(home, tmp_path, docs.plant_document())  # the same document again: not stored
        _run(agent_settings)

    sent = _captures(wire)
    assert len(sent) == 1
    assert sent[0].headers["idempotency-key"].startswith("epcis-")
    body = json.loads(sent[0].content)
    commissioning = body["epcisBody"]["eventList"][0]
    assert "ilmd" not in commissioning and docs.LOT not in sent[0].content.decode()
    store = LocalStore(agent_settings.store_file)
    assert open_outbox(agent_settings, store).counts() == {"pending": 0, "delivered": 1,
                                                           "failed": 0}
    store.close()

    events = client.get("/traceability/events", params={"epc": docs.SSCC},
                        headers=w.site_admin)
    assert events.status_code == 200, events.text
    assert {e["biz_step"] for e in events.json()} == {"packing", "shipping"}


def test_nothing_is_sent_unless_the_site_shares_traceability(
        client: TestClient, session: Session, settings: Settings, tmp_path: Path) -> None:
    wire = Wire(client)
    home = tmp_path / "site"
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        agent_settings, _ = _enrolled_agent(client, session, settings, home, mock, wire)
        _ingest(home, tmp_path, docs.plant_document())
        _run(agent_settings)
    assert not _captures(wire)
    store = LocalStore(agent_settings.store_file)
    assert store.record_counts() == {"epcis-document/2.0.0": 1}
    assert open_outbox(agent_settings, store).counts()["delivered"] == 0
    store.close()
