"""Store-and-forward outbox: messages are written locally first, then delivered exactly once.

Each message gets an idempotency key when it is queued. Delivery retries with exponential
backoff and jitter and always sends the same key, so the hub applies a message once even
when the agent dies between the hub's answer and the local "delivered" mark. Only one process
delivers at a time (an advisory file lock, released by the OS if that process is killed).
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from site_agent.client import HubClient, HubUnreachable
from site_agent.egress import gate
from site_agent.store import LocalStore, now_iso

PAUSE = "outbox.paused_until"
PERMANENT = {400, 404, 405, 409, 410, 413, 415, 422}


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    deferred: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)
    busy: bool = False


def backoff(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Delay before retry ``attempts`` (1-based): exponential, capped, with equal jitter."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


class Outbox:
    """The durable queue of outbound messages in the site's local store."""

    def __init__(self, store: LocalStore, lock_path: Path, base: float = 1.0,
                 cap: float = 300.0) -> None:
        self.store, self.lock_path, self.base, self.cap = store, lock_path, base, cap

    def enqueue(self, path: str, schema_id: str, payload: Any, key: str | None = None) -> str:
        """Gate ``payload`` now (refusals surface at once) and queue it; returns its key."""
        gated = gate(schema_id, payload)
        key = key or str(uuid.uuid4())
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO outbox (idem_key, path, schema_id, body, created_at) "
                "VALUES (?, ?, ?, ?, ?)", (key, path, gated.schema_id, gated.body.decode(),
                                           now_iso()))
        return key

    def counts(self) -> dict[str, int]:
        rows = self.store.conn.execute("SELECT status, COUNT(*) n FROM outbox GROUP BY status")
        out = {"pending": 0, "delivered": 0, "failed": 0}
        out.update({r["status"]: r["n"] for r in rows})
        return out

    def pending(self) -> int:
        return self.counts()["pending"]

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def _due(self, limit: int, include_deferred: bool) -> list[Any]:
        cutoff = float("inf") if include_deferred else time.time()
        return self.store.conn.execute(
            "SELECT id, idem_key, path, schema_id, body, attempts FROM outbox "
            "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (cutoff, limit)).fetchall()

    def _mark(self, row_id: int, **cols: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in cols)
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE outbox SET {sets} WHERE id = ?", (*cols.values(), row_id))

    def deliver(self, client: HubClient, limit: int = 50, include_deferred: bool = False,
                max_batches: int | None = None) -> DeliveryReport:
        """Send due messages in queue order; stop the round at the first transient failure."""
        report = DeliveryReport()
        with self._exclusive() as mine:
            if not mine:
                report.busy = True
                report.pending = self.pending()
                return report
            if not include_deferred and time.time() < self.store.get_meta(PAUSE, 0.0):
                report.pending = self.pending()
                return report  # the hub failed recently: the whole queue waits its turn
            batches = 0
            while max_batches is None or batches < max_batches:
                rows = self._due(limit, include_deferred)
                batches += 1
                if not rows:
                    break
                if not self._send_rows(client, rows, report):
                    break
        report.pending = self.pending()
        return report

    def _send_rows(self, client: HubClient, rows: list[Any], report: DeliveryReport) -> bool:
        for row in rows:
            attempts = row["attempts"] + 1
            try:
                gated = gate(row["schema_id"], json.loads(row["body"]))  # re-gated on the way out
                resp = client.post(row["path"], gated, idempotency_key=row["idem_key"])
            except HubUnreachable as exc:
                self._defer(row["id"], attempts, str(exc), None, report)
                return False
            status = resp.status_code
            if 200 <= status < 300:
                self._mark(row["id"], status="delivered", attempts=attempts,
                           delivered_at=now_iso(), response_status=status, last_error=None)
                report.delivered += 1
            elif status in PERMANENT:
                detail = _detail(resp)
                self._mark(row["id"], status="failed", attempts=attempts,
                           response_status=status, last_error=detail)
                report.failed += 1
                report.errors.append(f"{row['schema_id']} {row['idem_key']}: {status} {detail}")
            else:  # 401/403 (refused for now), 408, 429, 5xx: retry later, keep order
                self._defer(row["id"], attempts, f"{status} {_detail(resp)}",
                            resp.headers.get("retry-after"), report)
                return False
        return True

    def _defer(self, row_id: int, attempts: int, error: str, retry_after: str | None,
               report: DeliveryReport) -> None:
        delay = backoff(attempts, self.base, self.cap)
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        until = time.time() + delay
        with self.store.transaction():
            self._mark(row_id, attempts=attempts, next_attempt_at=until, last_error=error[:500])
            self.store.set_meta(PAUSE, until)
        report.deferred += 1
        report.errors.append(error[:200])

    def failures(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.store.conn.execute(
            "SELECT idem_key, schema_id, response_status, last_error FROM outbox "
            "WHERE status = 'failed' ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]


def _detail(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return str(resp.text[:200])
    if isinstance(body, dict):
        errs = body.get("errors") or []
        where = ", ".join(str(e.get("pointer")) for e in errs[:5] if isinstance(e, dict))
        return f"{body.get('detail', '')}" + (f" [{where}]" if where else "")
    return str(body)[:200]
