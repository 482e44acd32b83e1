"""The ``fedhub`` command line against a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from hub import cli
from hub.config import get_settings

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("FEDHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FEDHUB_DATABASE_URL", f"sqlite:///{db}")
    get_settings.cache_clear()
    cli._register_commands()
    yield db
    get_settings.cache_clear()


def test_admin_users_and_audit_verify(cli_env: Path) -> None:
    r = runner.invoke(cli.app, ["admin", "create-org", "Acme Pharma", "--kind", "pharma"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.app, ["admin", "create-user", "qa.lead", "--org", "Acme Pharma",
                                "--role", "qa", "--role", "site_admin", "--full-name",
                                "QA Lead", "--email", "qa@acme.example",
                                "--password", "Strong-Pass-1234"])
    assert r.exit_code == 0, r.output
    assert "roles=qa,site_admin" in r.output
    r = runner.invoke(cli.app, ["admin", "create-user", "weak", "--org", "Acme Pharma",
                                "--role", "qa", "--full-name", "W", "--email", "w@a.example",
                                "--password", "weak"])
    assert r.exit_code == 1 and "/password" in r.output
    r = runner.invoke(cli.app, ["audit", "verify"])
    assert r.exit_code == 0 and "intact" in r.output and "2 entries" in r.output
    r = runner.invoke(cli.app, ["audit", "log"])
    assert r.exit_code == 0 and "create" in r.output


def test_audit_verify_fails_on_tampering(cli_env: Path) -> None:
    runner.invoke(cli.app, ["admin", "create-org", "Beta Labs", "--kind", "institute"])
    runner.invoke(cli.app, ["admin", "create-org", "Gamma Labs", "--kind", "institute"])
    engine = sa.create_engine(f"sqlite:///{cli_env}")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER audit_entry_no_update"))
        conn.execute(sa.text("UPDATE audit_entry SET reason = 'forged' WHERE seq = 1"))
    engine.dispose()
    r = runner.invoke(cli.app, ["audit", "verify"])
    assert r.exit_code == 1
    assert "seq=1" in r.output and "BROKEN" in r.output


def test_db_current_after_upgrade(cli_env: Path) -> None:
    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(cli.app, ["db", "current"])
    assert r.exit_code == 0 and "database is current" in " ".join(r.output.split())
