"""``fedhub trace capture`` and ``fedhub trace custody`` against a real SQLite database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub import cli
from hub.config import get_settings
from tests.traceability import docs

runner = CliRunner()
FIXTURES = Path(__file__).parents[1] / "fixtures" / "epcis"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FEDHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FEDHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    r = runner.invoke(cli.app, ["admin", "create-org", "Alpine Vaccines", "--kind", "pharma"])
    assert r.exit_code == 0, r.output
    yield tmp_path
    get_settings.cache_clear()


def _write(path: Path, doc: dict[str, object]) -> str:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def test_capture_then_custody(cli_env: Path) -> None:
    org = ["--org", "Alpine Vaccines"]
    plant = _write(cli_env / "plant.json", docs.plant_document())
    r = runner.invoke(cli.app, ["trace", "capture", plant, *org])
    assert r.exit_code == 0, r.output
    assert "3 event(s): 3 stored, 0 already known" in r.output
    r = runner.invoke(cli.app, ["trace", "capture", plant, *org])
    assert "0 stored, 3 already known" in r.output
    carrier = _write(cli_env / "carrier.json", docs.carrier_document())
    r = runner.invoke(cli.app, ["trace", "capture", carrier, *org])
    assert r.exit_code == 0 and "alert" in r.output and "9.4" in r.output, r.output
    receiving = _write(cli_env / "recv.json", docs.distributor_document())
    runner.invoke(cli.app, ["trace", "capture", receiving, *org])
    r = runner.invoke(cli.app, ["trace", "custody", docs.LOT, *org], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "transporting" in r.output and "6 h 30 min" in r.output and "delivered" in r.output
    r = runner.invoke(cli.app, ["trace", "custody", docs.LOT, *org, "--json"])
    body = json.loads(r.output)
    assert body["legs"][0]["duration_seconds"] == 6.5 * 3600


def test_invalid_document_lists_every_violation(cli_env: Path) -> None:
    bad = str(FIXTURES / "Example-TransactionEvents-2020_07_03y.jsonld")
    r = runner.invoke(cli.app, ["trace", "capture", bad, "--org", "Alpine Vaccines"])
    assert r.exit_code == 1
    assert "/epcisBody/eventList/1/sourceList" in r.output
    assert "/epcisBody/eventList/1/destinationList" in r.output


def test_unknown_lot_org_and_file(cli_env: Path) -> None:
    r = runner.invoke(cli.app, ["trace", "custody", "NOPE", "--org", "Alpine Vaccines"])
    assert r.exit_code == 1 and "NOPE" in r.output
    r = runner.invoke(cli.app, ["trace", "custody", "NOPE", "--org", "Nobody"])
    assert r.exit_code == 1 and "no organization" in r.output
    r = runner.invoke(cli.app, ["trace", "capture", str(cli_env / "missing.json"),
                                "--org", "Alpine Vaccines"])
    assert r.exit_code == 2
