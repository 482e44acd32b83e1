"""Shared fixtures: migrated SQLite and PostgreSQL databases, per-test rollback, the real app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlmodel import Session

from hub.app import create_app
from hub.config import Settings
from hub.db import Database, make_engine
from hub.migrations import upgrade

PG_ENV = "FEDHUB_TEST_POSTGRES_URL"
BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get(PG_ENV) else [])


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get(PG_ENV):
        return f"database backends: sqlite, postgres ({make_url(os.environ[PG_ENV]).host})"
    return f"database backends: sqlite only ({PG_ENV} not set: PostgreSQL tests not run)"


def _worker(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


def _postgres_engine(worker: str, prefix: str = "fedhub_test") -> Engine:
    url = make_url(os.environ[PG_ENV])
    name = f"{prefix}_{worker}"
    admin = sa.create_engine(url.set(drivername="postgresql+psycopg"),
                             isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.exit(f"{PG_ENV} is set but PostgreSQL is unreachable: {exc}", returncode=3)
    finally:
        admin.dispose()
    return make_engine(url.set(drivername="postgresql+psycopg", database=name)
                       .render_as_string(hide_password=False))


def fresh_engine(request: pytest.FixtureRequest, backend: str, tmp_path: Path,
                 label: str) -> Engine:
    """A new, migrated database of its own (SQLite file or a PostgreSQL database per worker)
    for tests that need real concurrent connections instead of the rollback fixture."""
    if backend == "postgres":
        eng = _postgres_engine(_worker(request), prefix=f"fedhub_{label}")
    else:
        eng = make_engine(f"sqlite:///{tmp_path / f'{label}.db'}")
    upgrade(eng.url.render_as_string(hide_password=False), engine=eng)
    return eng


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database per backend (SQLite file; PostgreSQL database per xdist worker)."""
    if request.param == "postgres":
        eng = _postgres_engine(_worker(request))
    else:
        path = tmp_path_factory.mktemp("db") / "fedhub.db"
        eng = make_engine(f"sqlite:///{path}")
    upgrade(eng.url.render_as_string(hide_password=False), engine=eng)
    yield eng
    eng.dispose()


class RollbackDatabase(Database):
    """Every session joins one outer transaction that is rolled back after the test."""

    def __init__(self, settings: Settings, engine: Engine, connection: Connection) -> None:
        super().__init__(settings, engine)
        self._conn = connection

    def session(self) -> Session:
        return Session(
            bind=self._conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        yield self._conn


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test", data_dir=tmp_path / "hub", secret_key="t" * 40, database_url="sqlite://"
    )


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Iterator[RollbackDatabase]:
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield RollbackDatabase(settings, engine, conn)
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def session(db: RollbackDatabase) -> Iterator[Session]:
    with db.session() as s:
        yield s


@pytest.fixture
def app(settings: Settings, db: RollbackDatabase) -> Any:
    return create_app(settings, db=db)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
