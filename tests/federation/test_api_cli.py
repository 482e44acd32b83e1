"""fedhub run start|approve|execute|list|show and fedhub models list|promote|rollback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from hub import cli
from hub.config import get_settings
from hub.db import Database
from hub.federation import flows
from hub.identity.models import Organization
from hub.registry.models import ModelVersion
from tests.factories import PASSWORD
from tests.federation.test_api_support import ScriptedEngine, make_site, rounds_script

runner = CliRunner()
GOOD = {"rmse": 0.55, "r2": 0.9, "mae": 0.4}


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("FEDHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FEDHUB_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(flows, "SimulationEngine", lambda work, timeout_s=None: ScriptedEngine(
        work, rounds_script(GOOD), "molecular-property"))
    get_settings.cache_clear()
    cli._register_commands()
    yield db
    get_settings.cache_clear()


def _ok(args: list[str]) -> Any:
    r = runner.invoke(cli.app, args)
    assert r.exit_code == 0, r.output
    return r


def test_run_and_model_commands(cli_env: Path) -> None:
    _ok(["admin", "create-org", "Helix Pharma", "--kind", "pharma"])
    _ok(["admin", "create-user", "qa.lead", "--org", "Helix Pharma", "--role", "qa",
         "--full-name", "Q Lead", "--email", "q@example.org", "--password", PASSWORD])
    with Database(get_settings()).session() as s:
        org = s.exec(select(Organization)).one()
        for i in range(3):
            make_site(s, org, f"lab-{i}", ["molecular-property"])

    bad = runner.invoke(cli.app, ["run", "start", "--by", "qa.lead", "--task",
                                  "molecular-property", "--min-sites", "5"])
    assert bad.exit_code == 1 and "/min_sites" in bad.output
    out = _ok(["run", "start", "--by", "qa.lead", "--task", "molecular-property", "--rounds",
               "2", "--train", "epochs=1"]).output
    run_id = re.search(r"run ([0-9a-f-]{36}) requested \(3 sites\)", out)
    assert run_id, out
    rid = run_id.group(1)
    wrong = runner.invoke(cli.app, ["run", "approve", rid, "--by", "qa.lead", "--password",
                                    "nope"])
    assert wrong.exit_code == 1 and "Password check failed" in wrong.output
    assert "queued" in _ok(["run", "approve", rid, "--by", "qa.lead", "--password",
                            PASSWORD]).output
    assert "1 run(s) executed" in _ok(["run", "execute"]).output
    listing = _ok(["run", "list"]).output
    assert rid in listing and "completed" in listing and "2/2" in listing
    shown = _ok(["run", "show", rid]).output
    assert all(f"lab-{i}" in shown for i in range(3)) and "rmse=0.55 <= " in shown

    models = _ok(["models", "list", "--task", "molecular-property"]).output
    with Database(get_settings()).session() as s:
        model = s.exec(select(ModelVersion)).one()
    assert model.id in models and "candidate" in models
    assert "production" in _ok(["models", "promote", model.id, "--by", "qa.lead",
                                "--password", PASSWORD]).output
    back = runner.invoke(cli.app, ["models", "rollback", "molecular-property", "--by",
                                   "qa.lead", "--password", PASSWORD])
    assert back.exit_code == 1 and "no previous production version" in back.output
