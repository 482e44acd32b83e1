"""The site's local database (SQLite, WAL): raw records, the outbox, alerts, agent state.

Raw records never leave this file except through the egress gate. Every change that must
survive a crash together (e.g. a monitoring cursor and the alerts it produced) is written in
one transaction with :meth:`LocalStore.transaction`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    schema_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    source TEXT NOT NULL,
    line INTEGER NOT NULL,
    payload TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    UNIQUE (schema_id, digest)
);
CREATE INDEX IF NOT EXISTS ix_records_schema ON records (schema_id, id);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idem_key TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    schema_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    response_status INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS ix_outbox_due ON outbox (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    raised_at TEXT NOT NULL,
    equipment TEXT NOT NULL,
    measurement TEXT NOT NULL,
    detector TEXT NOT NULL,
    severity TEXT NOT NULL,
    value REAL,
    score REAL,
    message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def digest(payload: Any) -> str:
    """Content hash of a record (canonical JSON), used to store each record once."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class LocalStore:
    """A connection to the site database; safe to share between threads of one process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None,
                                    check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")  # a delivered mark survives power loss
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.executescript(SCHEMA)
        self._depth = 0

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work (nested calls join the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    # records -----------------------------------------------------------------------------
    def add_records(self, schema_id: str, rows: list[tuple[str, int, Any]]) -> int:
        """Store (source, line, payload) rows; returns how many were new (duplicates skipped)."""
        stamp = now_iso()
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO records (schema_id, digest, source, line, payload, "
                "ingested_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(schema_id, digest(p), src, line, json.dumps(p), stamp) for src, line, p in rows])
            return conn.total_changes - before

    def records_after(self, schema_prefix: str, after_id: int,
                      limit: int) -> list[tuple[int, str, dict[str, Any]]]:
        """(id, schema_id, payload) of records of a schema family stored after ``after_id``."""
        rows = self.conn.execute(
            "SELECT id, schema_id, payload FROM records WHERE schema_id LIKE ? AND id > ? "
            "ORDER BY id LIMIT ?", (schema_prefix + "/%", after_id, limit)).fetchall()
        return [(r["id"], r["schema_id"], json.loads(r["payload"])) for r in rows]

    def record_counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT schema_id, COUNT(*) n FROM records GROUP BY schema_id")
        return {r["schema_id"]: r["n"] for r in rows}

    # meta --------------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO "
                         "UPDATE SET value = excluded.value", (key, json.dumps(value)))

    # alerts ------------------------------------------------------------------------------
    def add_alert(self, alert: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO alerts (alert_id, raised_at, equipment, measurement, "
                "detector, severity, value, score, message) VALUES (?,?,?,?,?,?,?,?,?)",
                (alert["alert_id"], alert["raised_at"], alert["equipment"],
                 alert["measurement"], alert["detector"], alert["severity"], alert.get("value"),
                 alert.get("score"), alert["message"]))

    def alert_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
