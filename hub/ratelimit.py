"""Login rate limiting: sliding windows per client IP and per username (in-process).

Each login attempt (``POST /auth/token``, ``POST /web/login``) takes a slot in two sliding
windows: one for the client address and one for the username. A successful login gives its
slots back, so only failed (or still running) attempts count. When either window is full the
attempt is refused with 429 and ``Retry-After`` before any password is checked.

The windows live in the process: with several uvicorn workers each worker keeps its own, so
the effective limit is at most ``workers`` times the setting. The account lockout
(``FEDHUB_LOCKOUT_*``) is kept in the database and holds across workers.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from hub.errors import PROBLEM_BASE, PROBLEM_JSON

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

LOGIN_PATHS = frozenset({"/auth/token", "/web/login"})
MAX_SCAN_BYTES = 16 * 1024  # login forms are tiny; larger bodies are passed on unparsed


class SlidingWindow:
    """At most ``limit`` slots per key within ``window`` seconds; bounded number of keys."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self._slots: OrderedDict[str, deque[float]] = OrderedDict()

    def _live(self, key: str, now: float) -> deque[float] | None:
        slots = self._slots.get(key)
        if slots is None:
            return None
        while slots and slots[0] <= now - self.window:
            slots.popleft()
        if not slots:
            del self._slots[key]
            return None
        return slots

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` has a free slot (0 when it has one now)."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        slots = self._live(key, now)
        if slots is None or len(slots) < self.limit:
            return 0.0
        return max(slots[0] + self.window - now, 0.001)

    def take(self, key: str) -> float:
        """Occupy a slot for ``key``; returns its timestamp (to give it back later)."""
        now = self.clock()
        if self.limit <= 0:
            return now
        slots = self._live(key, now)
        if slots is None:
            slots = self._slots[key] = deque()
            while len(self._slots) > self.max_keys:  # forget the least recently used key
                self._slots.popitem(last=False)
        self._slots.move_to_end(key)
        slots.append(now)
        return now

    def give_back(self, key: str, stamp: float) -> None:
        """Release a slot taken with ``take`` (the attempt succeeded)."""
        slots = self._slots.get(key)
        if slots is not None:
            with contextlib.suppress(ValueError):
                slots.remove(stamp)
            if not slots:
                del self._slots[key]


def _username(body: bytes) -> str:
    try:
        values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:
        return ""
    return (values.get("username") or [""])[0].strip().lower()[:200]


def _refusal(scope: Scope, seconds: float, what: str) -> tuple[int, list[tuple[bytes, bytes]],
                                                                 bytes]:
    retry = str(max(1, math.ceil(seconds)))
    headers = [(b"retry-after", retry.encode())]
    accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
    detail = f"Too many login attempts for this {what}; try again in {retry} s"
    if scope["path"].startswith("/web/") and "text/html" in accept:
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too many '
                f'login attempts — fedhub</title></head><body><main><h1>Too many login '
                f'attempts</h1><p role="alert">{detail}.</p><p><a href="/web/login">Back to '
                f'the login page</a></p></main></body></html>')
        return 429, [*headers, (b"content-type", b"text/html; charset=utf-8")], page.encode()
    body = json.dumps({
        "type": PROBLEM_BASE + "too-many-requests", "title": "Too many requests", "status": 429,
        "detail": detail, "code": "too-many-requests", "instance": scope["path"],
        "retry_after": int(retry),
    }).encode()
    return 429, [*headers, (b"content-type", PROBLEM_JSON.encode())], body


class LoginRateLimit:
    """ASGI middleware guarding the login endpoints with per-IP and per-username windows."""

    def __init__(self, app: Any, per_ip: int = 30, per_user: int = 10,
                 window_seconds: float = 60.0, paths: frozenset[str] = LOGIN_PATHS) -> None:
        self.app, self.paths = app, paths
        self.by_ip = SlidingWindow(per_ip, window_seconds)
        self.by_user = SlidingWindow(per_user, window_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        size, more = 0, True
        while more and size <= MAX_SCAN_BYTES:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = bool(message.get("more_body"))
        body = b"".join(m.get("body", b"") for m in buffered if m["type"] == "http.request")
        ip = (scope.get("client") or ("unknown",))[0]
        user = _username(body) if size <= MAX_SCAN_BYTES else ""
        keys: list[tuple[SlidingWindow, str, str]] = [(self.by_ip, ip, "client address")]
        if user:
            keys.append((self.by_user, user, "username"))
        for window, key, what in keys:
            wait = window.retry_after(key)
            if wait > 0:
                status, headers, content = _refusal(scope, wait, what)
                await send({"type": "http.response.start", "status": status, "headers":
                            [*headers, (b"content-length", str(len(content)).encode())]})
                await send({"type": "http.response.body", "body": content})
                return
        taken = [(window, key, window.take(key)) for window, key, _ in keys]

        async def replay() -> Message:
            if buffered:
                return buffered.pop(0)
            message: Message = await receive()
            return message

        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, replay, watch)
        finally:
            if status < 400:  # success (token issued / redirect): the attempt does not count
                for window, key, stamp in taken:
                    window.give_back(key, stamp)
