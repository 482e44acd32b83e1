"""Database engine, session lifecycle and portable column types."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from hub.config import Settings


def utcnow() -> datetime:
    """Timezone-aware current UTC time (server time, ALCOA+ 'contemporaneous')."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new random identifier (UUID4 string), unique across sites and databases."""
    return str(uuid.uuid4())


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores aware datetimes in UTC and always returns them aware (SQLite drops the offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use hub.db.utcnow() or an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# connections per worker process; FEDHUB_MAX_CONCURRENT_REQUESTS stays below their sum
POOL_SIZE, MAX_OVERFLOW = 10, 20


def make_engine(url: str, **kw: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and real transactional DDL/savepoints."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and "///" in url:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            kw.setdefault("pool_size", POOL_SIZE)
            kw.setdefault("max_overflow", MAX_OVERFLOW)
        kw.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: concurrent writers queue on busy_timeout
            # instead of failing when a read snapshot can no longer be upgraded
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kw.setdefault("pool_pre_ping", True)
    kw.setdefault("pool_size", POOL_SIZE)
    kw.setdefault("max_overflow", MAX_OVERFLOW)
    return create_engine(url, **kw)


class Database:
    """Owns the engine of one hub process and hands out sessions."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def session_scope(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any error."""
        with self.session() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection for read-only checks (readiness)."""
        with self.engine.connect() as conn:
            yield conn

    def readiness(self) -> str | None:
        """None when the database answers and its schema is current, else the problem."""
        from hub.migrations import connection_is_current

        with self.connection() as conn:
            conn.execute(sa.text("SELECT 1"))
            return None if connection_is_current(conn) else "schema not migrated"
