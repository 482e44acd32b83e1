"""Admission control: at most N requests of one worker inside the application at once.

A request holds one pooled database connection from its first query until its response
starts, and it moves between the event loop and the thread pool once per synchronous
dependency (session, caller, site, endpoint, commit). With more requests inside than the pool
has connections, requests that hold a connection wait for a thread while every thread waits
for a connection: nothing moves until the pool's checkout times out, and the hub answers 503s
at a trickle (seen with 200 sites sending at once). Admitting at most as many requests as
there are connections (less a margin for background work) keeps every admitted request
runnable; the others wait in the event loop holding neither a thread nor a connection, in
arrival order. A request that waits longer than ``wait_seconds`` gets 503 with
``Retry-After``.

The limit is per worker process (``FEDHUB_MAX_CONCURRENT_REQUESTS``; 0 turns it off).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from hub.errors import PROBLEM_BASE, PROBLEM_JSON

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

EXEMPT = frozenset({"/health", "/ready"})  # probes answer even when the queue is full
RETRY_AFTER = 5


class Admission:
    """ASGI middleware: a FIFO semaphore around the application, released when the response
    starts (streamed bodies do not keep their slot)."""

    def __init__(self, app: Any, limit: int, wait_seconds: float = 10.0,
                 exempt: frozenset[str] = EXEMPT) -> None:
        self.app, self.limit, self.wait_seconds, self.exempt = app, limit, wait_seconds, exempt
        self.inside = self.peak = 0
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def slots(self) -> asyncio.Semaphore:
        """The semaphore of the running event loop (one per worker; test clients may start
        several loops)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots, self._loop, self.inside = asyncio.Semaphore(self.limit), loop, 0
        return self._slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limit <= 0 or scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        slots = self.slots()
        try:
            await asyncio.wait_for(slots.acquire(), self.wait_seconds)
        except TimeoutError:
            await _busy(scope, send, self.wait_seconds)
            return
        self.inside += 1
        self.peak = max(self.peak, self.inside)
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self.inside -= 1
                slots.release()

        async def started(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, started)
        finally:
            release()


async def _busy(scope: Scope, send: Send, waited: float) -> None:
    body = json.dumps({
        "type": PROBLEM_BASE + "service-unavailable", "title": "Service unavailable",
        "status": 503, "code": "service-unavailable", "instance": scope["path"],
        "detail": f"The hub is at capacity (no room within {waited:g} s); retry later",
    }).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", PROBLEM_JSON.encode()), (b"retry-after", str(RETRY_AFTER).encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
