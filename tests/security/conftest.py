"""A real hub on its own migrated SQLite file (no shared rollback connection)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.app import create_app
from hub.config import Settings
from hub.db import Database
from hub.migrations import upgrade


@pytest.fixture
def real_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(url)
    return Settings(environment="test", data_dir=tmp_path / "hub", secret_key="s" * 40,
                    database_url=url)


@pytest.fixture
def real_app(real_settings: Settings) -> Iterator[Any]:
    db = Database(real_settings)
    yield create_app(real_settings, db=db)
    db.engine.dispose()


@pytest.fixture
def real_client(real_app: Any) -> Iterator[TestClient]:
    with TestClient(real_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def real_session(real_app: Any) -> Iterator[Session]:
    with real_app.state.db.session() as s:
        yield s
