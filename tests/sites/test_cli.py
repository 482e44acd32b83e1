"""``fedhub sites`` against a real SQLite database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub import cli
from hub.config import get_settings
from hub.sites import service
from hub.sites.models import Site
from hub.sites.schemas import SiteEnroll
from tests.sites.helpers import new_keys, site_body

runner = CliRunner()
PW = "Strong-Pass-1234"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FEDHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FEDHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(cli.app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_token_approve_list_revoke(cli_env: Path) -> None:
    run("admin", "create-org", "Helix Pharma", "--kind", "pharma")
    run("admin", "create-org", "Operator", "--kind", "operator")
    run("admin", "create-user", "plant.admin", "--org", "Helix Pharma", "--role", "site_admin",
        "--full-name", "Plant Admin", "--email", "p@h.example", "--password", PW)
    run("admin", "create-user", "hub.admin", "--org", "Operator", "--role", "hub_admin",
        "--full-name", "Hub Admin", "--email", "h@o.example", "--password", PW)
    out = run("sites", "token", "--by", "plant.admin")
    token = re.search(r"(fhe_\S+)", out)
    assert token is not None
    db = cli.open_db()
    with db.session() as session:
        site = service.enroll_with_token(session, token.group(1), SiteEnroll.model_validate(
            site_body(new_keys(cli_env).public, name="Basel")))
        session.commit()
    assert "pending" in run("sites", "list")
    run("sites", "approve", site.id, "--by", "plant.admin", "--password", PW, code=1)
    out = run("sites", "approve", site.id, "--by", "hub.admin", "--password", "wrong", code=1)
    assert "not signed" in out
    out = run("sites", "approve", site.id, "--by", "hub.admin", "--password", PW)
    assert "active" in out
    with db.session() as session:
        row = session.get(Site, site.id)
        assert row is not None and row.status == "active"
    run("sites", "revoke", site.id, "--by", "plant.admin", "--reason", "decommissioned")
    assert "revoked" in run("sites", "list", "--status", "revoked")
    assert "forgot 0" in run("sites", "purge-keys", "--days", "30")
