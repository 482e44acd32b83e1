"""A served hub on the Deployment Engine: settings, runs recorded for it, the SuperLink
registrar, and one claim per queued run when several hub workers poll the same database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import Session, select

from hub.config import Settings
from hub.db import Database
from hub.federation import flows, service
from hub.federation.deployment import DeploymentEngine, TlsFiles
from hub.federation.models import FederatedRun, RunStatus
from hub.federation.schemas import Approval, RunCreate
from hub.identity import service as identity
from hub.sites import flows as site_flows
from tests.conftest import PG_ENV, fresh_engine
from tests.factories import PASSWORD, login, make_org, make_user
from tests.federation.test_api_support import make_site

SUPERLINK = "127.0.0.1:9"  # nothing listens there: these tests never reach a SuperLink


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(environment="test", data_dir=tmp_path / "hub", secret_key="t" * 40,
                    database_url="sqlite://", **extra)


def test_deployment_engine_needs_a_superlink_address(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="FEDHUB_SUPERLINK_ADDRESS"):
        _settings(tmp_path, federation_engine="deployment")


def test_production_refuses_a_superlink_without_tls(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="FEDHUB_SUPERLINK_CA_FILE"):
        Settings(environment="production", data_dir=tmp_path, secret_key="p" * 40,
                 database_url="sqlite://", federation_engine="deployment",
                 superlink_address=SUPERLINK)


def test_settings_come_from_the_environment(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEDHUB_FEDERATION_ENGINE", "deployment")
    monkeypatch.setenv("FEDHUB_SUPERLINK_ADDRESS", "superlink:9092")
    monkeypatch.setenv("FEDHUB_SUPERLINK_CA_FILE", str(tmp_path / "ca.crt"))
    s = Settings(data_dir=tmp_path, secret_key="e" * 40)
    assert (s.federation_engine, s.superlink_address, s.superlink_ca_file) == (
        "deployment", "superlink:9092", tmp_path / "ca.crt")


def test_simulation_is_the_default_engine(tmp_path: Path) -> None:
    assert flows.configured_engine(_settings(tmp_path)) is None


def test_configured_deployment_engine_connects_to_the_named_superlink(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    settings = _settings(tmp_path, federation_engine="deployment", superlink_address=SUPERLINK,
                         superlink_ca_file=ca)
    factory = flows.configured_engine(settings)
    assert factory is not None
    run = FederatedRun(task="molecular-property", engine="deployment", num_rounds=2,
                       min_sites=2, round_timeout_s=60, site_ids=["a", "b"],
                       organization_ids=["o"], created_by="u")
    engine = factory(run)
    assert isinstance(engine, DeploymentEngine)
    assert engine.superlink == SUPERLINK and not engine.manage
    assert engine.tls == TlsFiles(ca) and engine.timeout_s == flows.time_budget(run)
    assert engine.work_dir == tmp_path / "hub" / "federation"
    with pytest.raises(ValueError, match="certificate and key"):
        engine.superlink_command()  # the hub connects to SuperLink; it never starts one
    with pytest.raises(RuntimeError, match="flwr supernode list failed"):
        engine._flwr("supernode", "list", "fedhub", timeout=60)  # nothing listens
    config = (engine.flwr_home / "config.toml").read_text()  # written on first use
    assert f'address = "{SUPERLINK}"' in config and str(ca) in config


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The conftest app, configured for the Deployment Engine."""
    return _settings(tmp_path, federation_engine="deployment", superlink_address=SUPERLINK,
                     superlink_ca_file=tmp_path / "ca.crt")


def test_served_hub_records_deployment_runs_and_registers_keys_at_its_superlink(
        session: Session, settings: Settings, app: Any) -> None:
    before = site_flows.registrar()
    org = make_org(session)
    for i in range(2):
        make_site(session, org, f"lab-{i}", ["molecular-property"])
    researcher = make_user(session, settings, org, "researcher")
    with TestClient(app, raise_server_exceptions=False) as client:
        installed = site_flows.registrar()
        assert isinstance(installed, flows.DeploymentRegistrar)
        assert installed.engine.superlink == SUPERLINK
        resp = client.post("/federation/runs", headers=login(client, researcher.username),
                           json={"task": "molecular-property", "rounds": 1, "min_sites": 2})
        assert resp.status_code == 201, resp.text
        assert resp.json()["engine"] == "deployment"
    assert site_flows.registrar() is before  # the hub's shutdown puts the previous one back


@pytest.fixture
def pg_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} not set: the row lock is a PostgreSQL matter")
    eng = fresh_engine(request, "postgres", tmp_path, "claim")
    settings = Settings(environment="test", data_dir=tmp_path / "hub", secret_key="c" * 40,
                        database_url=eng.url.render_as_string(hide_password=False))
    yield Database(settings, eng)
    eng.dispose()


def test_a_queued_run_is_claimed_by_one_hub_worker_only(pg_db: Database) -> None:
    settings = pg_db.settings
    with pg_db.session() as s:
        org, op = make_org(s), make_org(s, "operator")
        for i in range(2):
            make_site(s, org, f"lab-{i}", ["molecular-property"])
        qa = identity.principal_for_user(make_user(s, settings, op, "qa"))
        run = service.create_run(s, qa, RunCreate(task="molecular-property", rounds=1,
                                                  min_sites=2), engine="deployment")
        service.approve(s, settings, qa, run.id, Approval(password=PASSWORD))
        s.commit()
        run_id = run.id
    worker_a = flows.RunExecutor(pg_db, settings, engine=flows.configured_engine(settings))
    worker_b = flows.RunExecutor(pg_db, settings, engine=flows.configured_engine(settings))

    with pg_db.session() as claiming, ThreadPoolExecutor(1) as pool:
        # worker A is between reading the run and committing its claim
        locked = claiming.exec(select(FederatedRun).where(FederatedRun.id == run_id)
                               .with_for_update()).one()
        assert locked.status == RunStatus.queued
        second = pool.submit(worker_b._claim)
        try:  # B skips the row: it neither waits for A nor takes the run a second time
            assert second.result(timeout=30) is None
        finally:
            claiming.rollback()

    assert worker_b._claim() == run_id
    assert worker_a._claim() is None
    with pg_db.session() as s:
        claimed = s.get(FederatedRun, run_id)
        assert claimed is not None and claimed.status == RunStatus.running
