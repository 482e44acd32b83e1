"""The hub's standards registry endpoints and the ``fedhub standards`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from hub import cli
from hub.config import Settings
from standards import registry
from standards.classification import sensitive_paths
from tests.factories import assert_problem, login, make_org, make_user


def _auth(client: TestClient, session: Session, settings: Settings) -> dict[str, str]:
    make_user(session, settings, make_org(session), "researcher", username="std-user")
    return login(client, "std-user")


def _example(schema_id: str) -> dict[str, object]:
    examples = registry.get_by_id(schema_id).examples()
    assert examples
    return dict(examples[0])


def test_catalog_lists_every_standard(client: TestClient, session: Session,
                                      settings: Settings) -> None:
    body = client.get("/standards", headers=_auth(client, session, settings)).json()
    ids = {s["id"] for s in body}
    assert {"sensor-reading/1.0.0", "batch-record/1.0.0", "epcis-document/2.0.0",
            "molecule-submission/1.0.0", "compliance-report/1.0.0",
            "training-record/1.0.0"} <= ids
    batch = next(s for s in body if s["id"] == "batch-record/1.0.0")
    assert set(batch["restricted_fields"].values()) >= {"recipe", "pii"}


def test_schema_carries_classification_and_deprecation(client: TestClient, session: Session,
                                                       settings: Settings) -> None:
    auth = _auth(client, session, settings)
    current = client.get("/standards/sensor-reading/1.0.0", headers=auth)
    assert current.status_code == 200 and "Deprecation" not in current.headers
    assert "x-classification" in json.dumps(current.json())
    old = client.get("/standards/batch-record/0.9.0", headers=auth)
    assert old.status_code == 200 and old.headers["Deprecation"] == "true"
    assert "/standards/batch-record/1.0.0" in old.headers["Link"]
    assert_problem(client.get("/standards/sensor-reading/9.9.9", headers=auth), 404)


def test_validate_reports_every_violation_and_stores_nothing(client: TestClient,
                                                             session: Session,
                                                             settings: Settings) -> None:
    auth = _auth(client, session, settings)
    good = _example("sensor-reading/1.0.0")
    bad = json.loads(json.dumps(good))
    bad["timestamp"] = "yesterday"
    bad["measurements"]["temperature"]["unit"] = "furlongs"
    resp = client.post("/standards/sensor-reading/1.0.0/validate", headers=auth,
                       json=[good, bad])
    assert resp.status_code == 200
    body = resp.json()
    assert body["valid"] is False and body["records"] == 2 and body["invalid_records"] == 1
    pointers = {e["pointer"] for e in body["errors"]}
    assert "/1/timestamp" in pointers
    assert any(p.startswith("/1/measurements/temperature") for p in pointers)
    ok = client.post("/standards/sensor-reading/1.0.0/validate", headers=auth, json=good).json()
    assert ok["valid"] is True and ok["shareable_projection"]


def test_projection_of_a_batch_record_drops_recipe_and_pii(client: TestClient,
                                                           session: Session,
                                                           settings: Settings) -> None:
    auth = _auth(client, session, settings)
    record = _example("batch-record/1.0.0")
    body = client.post("/standards/batch-record/1.0.0/validate", headers=auth,
                       json=record).json()
    assert body["valid"] is True
    assert sensitive_paths("batch-record/1.0.0", record, "recipe")  # the example has some
    assert sensitive_paths("batch-record/1.0.0", body["shareable_projection"], "recipe") == []
    assert body["shareable_projection"]["batch_id"] == record["batch_id"]


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_example("sensor-reading/1.0.0")))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"reading_id": "x"}) + "\n")
    runner = CliRunner()
    ok = runner.invoke(cli.app, ["standards", "validate", str(good), "--schema",
                                 "sensor-reading/1.0.0"])
    assert ok.exit_code == 0, ok.output
    fail = runner.invoke(cli.app, ["standards", "validate", str(bad), "--schema",
                                   "sensor-reading/1.0.0"])
    assert fail.exit_code == 1 and "/measurements" in fail.output
    unknown = runner.invoke(cli.app, ["standards", "validate", str(good), "--schema",
                                      "nope/1.0.0"])
    assert unknown.exit_code == 2
