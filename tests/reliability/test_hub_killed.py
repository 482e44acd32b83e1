"""kill -9 of the hub (uvicorn server and workers) while sites stream telemetry: after a
restart every acknowledged record is in the database exactly once.

The hub is the real application under uvicorn with two workers; its telemetry answers are held
back 0.3 s after the commit (``held_app``), so the kill lands while messages are committed but
not yet acknowledged: the sites resend them and the hub answers from its key table."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.db import make_engine
from tests.reliability.harness import (
    SHARED_SERVER,
    HubProcess,
    Streamer,
    assert_exactly_once,
    enroll_sites,
    fresh_database,
    server_reachable,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]
CONNECTION_LOST = {"ConnectError", "RemoteProtocolError", "ReadError", "WriteError",
                   "ReadTimeout"}


def test_kill9_mid_ingest_then_restart_keeps_every_acknowledged_record_once(
        tmp_path: Path) -> None:
    if not server_reachable(SHARED_SERVER):
        pytest.skip(f"PostgreSQL at {SHARED_SERVER} is not reachable")
    with fresh_database(SHARED_SERVER, "kill9") as url:
        sites = enroll_sites(url, 4, tmp_path)
        held = tmp_path / "held"
        held.mkdir()
        hub = HubProcess(url, tmp_path / "hub", workers=2, app="tests.reliability.held_app:create",
                         env={"HELD_APP_MARKERS": str(held)})
        hub.start()
        streamer = Streamer(hub.url, sites, batch=20, epcis_every=5, events=5).start()
        try:
            streamer.wait_for(8)  # four sites sending back to back
            began = time.monotonic()
            while not any(held.iterdir()):  # until a committed batch waits for its answer
                assert time.monotonic() - began < 30, "no answer was ever held"
                time.sleep(0.01)
            hub.kill9()  # server and both workers at once, no shutdown
            killed_at = len(streamer.attempts)
            time.sleep(1)
            hub.start()  # same port; the sites resend what was not acknowledged
            streamer.wait_for(8)
        finally:
            streamer.stop()
            hub.stop()
        outcomes = streamer.outcomes()
        failed = {o: n for o, n in outcomes.items() if not o.startswith("2")}
        assert failed, "the kill interrupted nothing"
        assert set(failed) <= CONNECTION_LOST, (failed, [a for a in streamer.attempts
                                                         if a.outcome not in CONNECTION_LOST
                                                         and not a.outcome.startswith("2")])
        assert len(streamer.attempts) > killed_at
        assert streamer.replays >= 1  # committed before the kill, acknowledged after it
        engine = make_engine(url)
        try:
            totals = assert_exactly_once(engine, streamer)
        finally:
            engine.dispose()
        assert totals["readings"] >= 16 * 20 and totals["events"] > 0
        print(f"kill -9: {totals}; failed attempts {failed}; idempotent replays "
              f"{streamer.replays}")
