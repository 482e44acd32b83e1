"""Outbox: queued first, retried with backoff and the same idempotency key, never lost."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from site_agent import messages
from site_agent.client import HubClient
from site_agent.egress import EgressRefused
from site_agent.outbox import Outbox, backoff
from site_agent.store import LocalStore

HUB = "http://hub.test"


@pytest.fixture
def outbox(tmp_path: Path) -> Any:
    store = LocalStore(tmp_path / "site.db")
    yield Outbox(store, tmp_path / "outbox.lock", base=0.5, cap=60)
    store.close()


def heartbeat(version: str = "0.1.0") -> dict[str, Any]:
    return {"agent_version": version}


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    delays = [backoff(n, 1.0, 60.0, rng) for n in range(1, 10)]
    for n, d in enumerate(delays, start=1):
        ceiling = min(60.0, 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling
    assert len({round(backoff(3, 1.0, 60.0, rng), 6) for _ in range(20)}) > 1  # jittered


def test_hub_down_then_up_delivers_once_with_the_same_key(outbox: Outbox) -> None:
    keys = [outbox.enqueue("/sites/me/heartbeat", messages.HEARTBEAT, heartbeat(str(i)))
            for i in range(3)]
    client = HubClient(HUB, api_key="fhk_a_b")
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{HUB}/sites/me/heartbeat").mock(
            side_effect=httpx.ConnectError("hub down"))
        report = outbox.deliver(client)
        assert (report.delivered, report.deferred, report.pending) == (0, 1, 3)
        assert route.call_count == 1  # stops at the first failure, keeps order
        # not due yet: a normal round does not hammer the hub
        assert outbox.deliver(client).deferred == 0 and route.call_count == 1
        route.mock(side_effect=None, return_value=httpx.Response(200, json={}))
        report = outbox.deliver(client, include_deferred=True)
        assert (report.delivered, report.pending) == (3, 0)
    sent = [c.request.headers["idempotency-key"] for c in route.calls]
    assert sent == [keys[0], keys[0], keys[1], keys[2]]
    assert outbox.counts() == {"pending": 0, "delivered": 3, "failed": 0}


def test_retry_after_and_server_errors_defer(outbox: Outbox) -> None:
    outbox.enqueue("/sites/me/heartbeat", messages.HEARTBEAT, heartbeat())
    client = HubClient(HUB, api_key="fhk_a_b")
    with respx.mock as mock:
        mock.post(f"{HUB}/sites/me/heartbeat").mock(
            return_value=httpx.Response(503, headers={"Retry-After": "120"}))
        before = time.time()
        assert outbox.deliver(client).deferred == 1
    row = outbox.store.conn.execute("SELECT attempts, next_attempt_at FROM outbox").fetchone()
    assert row["attempts"] == 1 and row["next_attempt_at"] >= before + 119


def test_permanent_rejections_are_set_aside_not_retried(outbox: Outbox) -> None:
    outbox.enqueue("/sites/me/heartbeat", messages.HEARTBEAT, heartbeat("a"))
    outbox.enqueue("/sites/me/heartbeat", messages.HEARTBEAT, heartbeat("b"))
    client = HubClient(HUB, api_key="fhk_a_b")
    with respx.mock as mock:
        mock.post(f"{HUB}/sites/me/heartbeat").mock(side_effect=[
            httpx.Response(422, json={"detail": "bad", "errors": [{"pointer": "/x"}]}),
            httpx.Response(200, json={})])
        report = outbox.deliver(client)
    assert (report.failed, report.delivered) == (1, 1)
    assert outbox.failures()[0]["response_status"] == 422
    assert "/x" in outbox.failures()[0]["last_error"]


def test_refused_payloads_never_enter_the_queue(outbox: Outbox) -> None:
    with pytest.raises(EgressRefused):
        outbox.enqueue("/x", "batch-record/1.0.0", {"formulation": {"secret": 1}})
    assert outbox.counts()["pending"] == 0


def test_rows_are_regated_on_the_way_out(outbox: Outbox) -> None:
    outbox.enqueue("/sites/me/heartbeat", messages.HEARTBEAT, heartbeat())
    outbox.store.conn.execute(
        "UPDATE outbox SET body = '{\"agent_version\": \"1\", \"leak\": \"CANARY\"}'")
    client = HubClient(HUB, api_key="fhk_a_b")
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{HUB}/sites/me/heartbeat").mock(return_value=httpx.Response(200))
        with pytest.raises(EgressRefused):
            outbox.deliver(client)
    assert not route.called


def test_one_deliverer_at_a_time(outbox: Outbox, tmp_path: Path) -> None:
    outbox.enqueue("/sites/me/heartbeat", messages.HEARTBEAT, heartbeat())
    other = Outbox(LocalStore(tmp_path / "site.db"), tmp_path / "outbox.lock")
    client = HubClient(HUB, api_key="fhk_a_b")
    with other._exclusive() as mine, respx.mock(assert_all_called=False) as mock:
        assert mine
        route = mock.post(f"{HUB}/sites/me/heartbeat").mock(return_value=httpx.Response(200))
        report = outbox.deliver(client)
        assert report.busy and not route.called
