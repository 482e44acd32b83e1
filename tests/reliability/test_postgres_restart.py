"""PostgreSQL crashes and restarts under load (a private server, never the shared one): the
hub answers 503 problem documents meanwhile, recovers without a restart, and nothing is lost,
duplicated or half-written."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.db import make_engine
from tests.reliability.harness import (
    HubProcess,
    PrivatePostgres,
    Streamer,
    assert_exactly_once,
    enroll_sites,
    fresh_database,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres()
    except (RuntimeError, OSError, LookupError) as exc:  # no initdb, no postgres user, ...
        pytest.skip(f"cannot create a private PostgreSQL server here: {exc}")
    try:
        server.start()
        yield server
    finally:
        server.close()


def test_postgres_restart_under_load_fails_cleanly_and_the_hub_recovers(
        private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    with fresh_database(private_postgres.url, "pgrestart") as url:
        sites = enroll_sites(url, 4, tmp_path)
        hub = HubProcess(url, tmp_path / "hub", workers=2)
        hub.start()
        assert hub.proc is not None
        pid = hub.proc.pid
        streamer = Streamer(hub.url, sites, batch=20, epcis_every=4, events=5).start()
        try:
            streamer.wait_for(8)
            private_postgres.stop("immediate")  # a crash: backends killed, no checkpoint
            down_at = len(streamer.attempts)
            time.sleep(3)
            during = streamer.outcomes()
            private_postgres.start()  # crash recovery, then the hub's pool reconnects
            streamer.wait_for(8, timeout=90)
            assert hub.alive and hub.proc is not None and hub.proc.pid == pid  # not restarted
        finally:
            streamer.stop()
            hub.stop()

        assert len(streamer.attempts) > down_at
        assert during["503"] > 0, f"no request met the outage: {during}"
        for attempt in streamer.attempts:
            if attempt.outcome.startswith("2"):
                continue
            # a clean refusal: a problem document telling the site to come back, no trace
            assert attempt.outcome == "503", attempt
            assert attempt.content_type.startswith("application/problem+json"), attempt
            problem = json.loads(attempt.body)
            assert problem["code"] == "service-unavailable"
            assert "Traceback" not in attempt.body and "psycopg" not in attempt.body
        assert "unhandled error" not in hub.output()  # no 500 was logged either

        engine = make_engine(url)
        try:
            totals = assert_exactly_once(engine, streamer)
            with engine.connect() as conn:
                # nothing half-written: every capture holds exactly the events it reported,
                # each with its identifier and its sensor reading
                uneven = conn.execute(sa.text(
                    "SELECT c.id, c.stored, COUNT(e.id) FROM trace_capture c "
                    "LEFT JOIN trace_event e ON e.capture_id = c.id "
                    "GROUP BY c.id, c.stored HAVING c.stored <> COUNT(e.id)")).all()
                assert not uneven
                for child in ("trace_event_epc", "trace_reading"):
                    orphans = conn.execute(sa.text(
                        f"SELECT COUNT(*) FROM trace_event e WHERE (SELECT COUNT(*) FROM "
                        f"{child} x WHERE x.event_pk = e.id) <> 1")).scalar_one()
                    assert orphans == 0, child
        finally:
            engine.dispose()
        assert totals["readings"] > 0 and totals["events"] > 0
        print(f"PostgreSQL restart: {totals}; outcomes {dict(streamer.outcomes())}; "
              f"idempotent replays {streamer.replays}")
