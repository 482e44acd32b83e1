"""Admission control: more requests than database connections and threads wait in line
instead of starving the connection pool."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient

from hub.admission import Admission
from hub.app import create_app
from hub.config import Settings
from hub.db import Database, make_engine
from hub.migrations import upgrade
from tests.factories import assert_problem
from tests.reliability.harness import enroll_sites, readings_batch


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """asyncio.run in a thread of its own: a session-wide browser fixture may own this thread's
    event loop when the suite runs it on the same worker."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def asgi(app: Any) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app)


def _app_counting(limit: int, wait: float) -> tuple[Admission, dict[str, int], Any]:
    seen = {"inside": 0, "peak": 0}
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/slow":
            seen["inside"] += 1
            seen["peak"] = max(seen["peak"], seen["inside"])
            await release.wait()
            seen["inside"] -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return Admission(app, limit=limit, wait_seconds=wait), seen, release


def test_at_most_limit_requests_inside_the_rest_wait_in_line() -> None:
    async def scenario() -> None:
        admission, seen, release = _app_counting(limit=3, wait=10)
        transport = asgi(admission)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            calls = [asyncio.create_task(client.get("/slow")) for _ in range(10)]
            await asyncio.sleep(0.2)
            assert seen["inside"] == 3  # seven wait outside the application
            health = await client.get("/health")  # probes are never queued
            assert health.status_code == 200
            release.set()
            answers = await asyncio.gather(*calls)
        assert [r.status_code for r in answers] == [200] * 10
        assert seen["peak"] == 3 and admission.peak == 3 and admission.inside == 0

    _run(scenario())


def test_waiting_too_long_gives_503_problem_with_retry_after() -> None:
    async def scenario() -> None:
        admission, _, release = _app_counting(limit=1, wait=0.2)
        transport = asgi(admission)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            first = asyncio.create_task(client.get("/slow"))
            await asyncio.sleep(0.05)
            refused = await client.get("/slow")
            release.set()
            assert (await first).status_code == 200
        body = assert_problem(refused, 503, "service-unavailable")
        assert refused.headers["retry-after"] == "5" and "capacity" in body["detail"]
        assert (await client_after(admission)).status_code == 200  # the slot came back

    async def client_after(admission: Admission) -> httpx.Response:
        transport = asgi(admission)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            return await client.get("/fast")

    _run(scenario())


def _burst(tmp_path: Path, limit: int, requests: int = 12) -> list[int]:
    """``requests`` site messages at once to a hub with 2 database connections and 4 threads."""
    url = f"sqlite:///{tmp_path / f'burst-{limit}.db'}"
    engine = make_engine(url, pool_size=2, max_overflow=0, pool_timeout=1)
    upgrade(url, engine=engine)
    sites = enroll_sites(url, 1, tmp_path / f"keys-{limit}")
    settings = Settings(environment="test", data_dir=tmp_path, secret_key="a" * 40,
                        database_url=url, max_concurrent_requests=limit)
    rng = random.Random(1)
    bodies = [json.dumps(readings_batch(sites[0], 5, i, rng)).encode() for i in range(requests)]
    start = threading.Barrier(requests)
    with TestClient(create_app(settings, db=Database(settings, engine))) as client:
        def few_threads() -> None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = 4

        client.portal.call(few_threads)  # type: ignore[union-attr]

        def post(i: int) -> int:
            start.wait()
            return client.post("/monitoring/readings", content=bodies[i], headers={
                "X-API-Key": sites[0].api_key, "Idempotency-Key": f"burst-{limit}-{i:04d}",
                "Content-Type": "application/json"}).status_code

        with ThreadPoolExecutor(requests) as pool:
            statuses = list(pool.map(post, range(requests)))
    engine.dispose()
    return statuses


@pytest.mark.slow
def test_a_burst_beyond_connections_and_threads_is_served_not_starved(tmp_path: Path) -> None:
    # without admission the requests holding the 2 connections wait for a thread while the 4
    # threads wait for a connection, until the pool gives up: 503s
    assert 503 in _burst(tmp_path, limit=0)
    # admitting as many requests as there are connections serves every one of them
    assert _burst(tmp_path, limit=2) == [201] * 12
