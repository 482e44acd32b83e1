"""A database that is down or exhausted answers 503 problem documents, never a 500."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from hub.app import create_app
from hub.config import Settings
from hub.db import Database, make_engine
from hub.migrations import upgrade
from tests.deploy.procs import free_port
from tests.factories import assert_problem


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, secret_key="u" * 40,
                    database_url=url)


def test_unreachable_database_gives_503_with_retry_after(tmp_path: Path) -> None:
    # nothing listens on this port: every request that needs the database fails to connect
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/fedhub"
    settings = _settings(tmp_path, url)
    db = Database(settings, make_engine(url, connect_args={"connect_timeout": 2}))
    with TestClient(create_app(settings, db=db)) as client:
        resp = client.post("/monitoring/readings", content=b"[]", headers={
            "X-API-Key": "fhk_abcdefgh_secret", "Idempotency-Key": "k-0000001"})
        body = assert_problem(resp, 503, "service-unavailable")
        assert resp.headers["retry-after"] == "5"
        assert "psycopg" not in resp.text and "127.0.0.1" not in resp.text
        assert "Idempotency-Key" in body["detail"]
        assert client.get("/ready").status_code == 503
        assert client.get("/health").status_code == 200  # the process itself is alive
    db.engine.dispose()


def test_exhausted_connection_pool_gives_503_not_a_hang_or_500(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    engine = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    upgrade(url, engine=engine)
    settings = _settings(tmp_path, url)
    with TestClient(create_app(settings, db=Database(settings, engine))) as client:
        held = engine.connect()  # the only connection is busy elsewhere
        try:
            resp = client.get("/me", headers={"X-API-Key": "fhk_abcdefgh_secret"})
            assert_problem(resp, 503, "service-unavailable")
            assert resp.headers["retry-after"] == "5"
        finally:
            held.close()
        # the connection is back: the same request reaches authentication again
        assert_problem(client.get("/me", headers={"X-API-Key": "fhk_abcdefgh_secret"}), 401)
    engine.dispose()
