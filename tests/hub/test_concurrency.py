"""Concurrent writers through the real app keep one unbroken audit chain (no rollback fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from hub.app import create_app
from hub.audit.service import verify_chain
from hub.config import Settings
from hub.db import Database
from tests import conftest
from tests.conftest import BACKENDS
from tests.factories import login, make_org, make_user


@pytest.fixture(params=BACKENDS)
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    eng = conftest.fresh_engine(request, request.param, tmp_path, "conc")
    yield eng
    eng.dispose()


def test_parallel_writes_keep_the_chain_intact(fresh_engine: Engine, tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, secret_key="c" * 40,
                        database_url=fresh_engine.url.render_as_string(hide_password=False))
    db = Database(settings, fresh_engine)
    with db.session() as session:
        org = make_org(session, kind="operator")
        make_user(session, settings, org, "hub_admin", username="conc-admin")
    app = create_app(settings, db=db)
    with TestClient(app) as client:
        auth = login(client, "conc-admin")

        def create(i: int) -> int:
            resp = client.post("/organizations", headers=auth,
                               json={"name": f"Parallel Org {i}", "kind": "pharma"})
            return resp.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(create, range(40)))
    assert codes == [201] * 40
    with db.session() as session:
        report = verify_chain(session)
        orgs = session.execute(sa.text("SELECT count(*) FROM organization")).scalar_one()
    assert report.ok, report
    assert orgs == 41
    assert report.entries == 41 + 1  # one per organization, one for the admin user
