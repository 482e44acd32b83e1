"""deploy/postgres/backup.sh and restore.sh round-trip the hub database on PostgreSQL: the audit
trail comes back whole (``fedhub audit verify``) and still append-only."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.engine.url import make_url
from typer.testing import CliRunner

from hub import cli
from hub.config import get_settings
from tests.deploy.files import DEPLOY

PG_ENV = "FEDHUB_TEST_POSTGRES_URL"
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="PostgreSQL client not installed"),
]
runner = CliRunner()


def _url(database: str) -> URL:
    return make_url(os.environ[PG_ENV]).set(drivername="postgresql+psycopg", database=database)


@pytest.fixture
def databases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, str]]:
    names = (f"fedhub_deploy_src_{os.getpid()}", f"fedhub_deploy_dst_{os.getpid()}")
    admin = sa.create_engine(_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    monkeypatch.setenv("FEDHUB_DATA_DIR", str(tmp_path))
    yield names
    get_settings.cache_clear()
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fedhub(monkeypatch: pytest.MonkeyPatch, database: str, *args: str) -> str:
    monkeypatch.setenv("FEDHUB_DATABASE_URL", _url(database).render_as_string(hide_password=False))
    get_settings.cache_clear()
    cli._register_commands()
    result = runner.invoke(cli.app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    url = make_url(os.environ[PG_ENV])
    env = {**os.environ, "PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432),
           "PGUSER": url.username or "postgres"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return subprocess.run(["bash", str(DEPLOY / "postgres" / name), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_backup_and_restore_keep_the_audit_trail(
    databases: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src, dst = databases
    _fedhub(monkeypatch, src, "db", "upgrade")
    _fedhub(monkeypatch, src, "admin", "create-org", "Helix Pharma", "--kind", "pharma")
    _fedhub(monkeypatch, src, "admin", "create-user", "qa.lead", "--org", "Helix Pharma",
            "--role", "qa", "--full-name", "QA Lead", "--email", "qa@helix.example",
            "--password", "Strong-Pass-1234")
    before = _fedhub(monkeypatch, src, "audit", "verify")
    assert "intact" in before and "2 entries" in before

    dump = tmp_path / "fedhub.dump"
    backup = _script("backup.sh", str(dump), src)
    assert backup.returncode == 0, backup.stderr
    assert (tmp_path / "fedhub.dump.sha256").read_text().split()[1] == "fedhub.dump"
    restore = _script("restore.sh", str(dump), dst)
    assert restore.returncode == 0, restore.stderr
    assert "triggers present" in restore.stdout

    after = _fedhub(monkeypatch, dst, "audit", "verify")
    assert " ".join(after.split()) == " ".join(before.split())  # same count, same head hash
    engine = sa.create_engine(_url(dst))
    try:
        with engine.connect() as conn:
            versions = set(conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                           .scalars())
            assert versions and "audit_entry_no_change" in set(conn.execute(sa.text(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
        for statement in ("UPDATE audit_entry SET reason = 'forged'", "DELETE FROM audit_entry",
                          "TRUNCATE audit_entry"):
            with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError,
                                                         match="append-only"):
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_restore_refuses_a_live_database_and_a_corrupt_archive(
    databases: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src, dst = databases
    _fedhub(monkeypatch, src, "db", "upgrade")
    dump = tmp_path / "fedhub.dump"
    assert _script("backup.sh", str(dump), src).returncode == 0
    live = _script("restore.sh", str(dump), src)
    assert live.returncode == 2 and "restore into an empty database" in live.stderr
    with dump.open("r+b") as fh:
        fh.seek(200)
        fh.write(b"\0" * 16)
    corrupt = _script("restore.sh", str(dump), dst)
    assert corrupt.returncode != 0 and "FAILED" in corrupt.stdout + corrupt.stderr
