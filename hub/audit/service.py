"""Audit trail: automatic entries for audited tables, explicit events, chain verification."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from hub.audit.chain import GENESIS, entry_hash, jsonable
from hub.audit.models import AuditEntry
from hub.db import new_id, utcnow
from hub.errors import ValidationFailed

ADVISORY_LOCK_KEY = 7_310_221  # serialises chain appends on PostgreSQL
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, a machine (site agent) or the system itself."""

    id: str
    name: str
    org_id: str | None = None


SYSTEM = Actor(id="system", name="system")


def set_actor(session: Session, actor: Actor) -> None:
    session.info["audit_actor"] = actor


def get_actor(session: Session) -> Actor:
    actor = session.info.get("audit_actor")
    return actor if isinstance(actor, Actor) else SYSTEM


@contextmanager
def reason(session: Session, text: str) -> Iterator[None]:
    """Attach a reason to every audited change flushed inside the block."""
    prev = session.info.get("audit_reason")
    session.info["audit_reason"] = text
    try:
        yield
        session.flush()
    finally:
        session.info["audit_reason"] = prev


def _lock_chain(session: OrmSession) -> None:
    if session.info.get("audit_locked"):
        return
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
    session.info["audit_locked"] = True


def _tail(session: OrmSession) -> tuple[int, str]:
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(col(AuditEntry.seq).desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def append(
    session: OrmSession,
    *,
    entity_type: str,
    entity_id: str,
    action: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    reason_text: str | None = None,
    actor: Actor | None = None,
) -> AuditEntry:
    """Append one entry to the chain within the session's transaction."""
    actor = actor or get_actor(session)  # type: ignore[arg-type]
    with session.no_autoflush:
        _lock_chain(session)
        pending = session.info.get("audit_pending_tail")
        seq, prev = pending if pending else _tail(session)
    fields: dict[str, Any] = {
        "seq": seq + 1,
        "id": new_id(),
        "ts": utcnow(),
        "actor_id": actor.id,
        "actor_name": actor.name,
        "actor_org_id": actor.org_id,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "action": action,
        "old_values": jsonable(old) if old is not None else None,
        "new_values": jsonable(new) if new is not None else None,
        "reason": reason_text if reason_text is not None else session.info.get("audit_reason"),
        "prev_hash": prev,
    }
    fields["hash"] = entry_hash({**fields, "ts": fields["ts"].isoformat()})
    entry = AuditEntry(**fields)
    session.add(entry)
    session.info["audit_pending_tail"] = (entry.seq, entry.hash)
    return entry


def _snapshot(obj: Any) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    redact: frozenset[str] = getattr(obj, "__audit_redact__", frozenset())
    out: dict[str, Any] = {}
    for attr in mapper.column_attrs:
        value = getattr(obj, attr.key)
        out[attr.key] = REDACTED if attr.key in redact and value is not None else value
    return out


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    redact: frozenset[str] = getattr(obj, "__audit_redact__", frozenset())
    ignore: frozenset[str] = getattr(obj, "__audit_ignore__", frozenset())
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in ignore:
            continue
        hist = state.attrs[attr.key].history
        if not hist.has_changes():
            continue
        before = hist.deleted[0] if hist.deleted else None
        after = hist.added[0] if hist.added else None
        if jsonable(before) == jsonable(after):
            continue
        old[attr.key] = REDACTED if attr.key in redact else before
        new[attr.key] = REDACTED if attr.key in redact else after
    return old, new


def _require_reason(session: OrmSession, obj: Any, action: str) -> str:
    text = session.info.get("audit_reason")
    if not text:
        raise ValidationFailed(
            f"A reason is required to {action} a {obj.__audit_entity__} record",
            errors=[{"pointer": "/reason", "message": "reason is required", "type": "missing"}],
        )
    return str(text)


@event.listens_for(OrmSession, "before_flush")
def _audit_before_flush(session: OrmSession, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.new):
        entity = getattr(obj, "__audit_entity__", None)
        if entity:
            append(session, entity_type=entity, entity_id=obj.id, action="create",
                   new=_snapshot(obj))
    for obj in list(session.dirty):
        entity = getattr(obj, "__audit_entity__", None)
        if not entity or not session.is_modified(obj, include_collections=False):
            continue
        old, new = _changes(obj)
        if not new:
            continue
        why = _require_reason(session, obj, "modify")
        append(session, entity_type=entity, entity_id=obj.id, action="update", old=old, new=new,
               reason_text=why)
    for obj in list(session.deleted):
        entity = getattr(obj, "__audit_entity__", None)
        if entity:
            why = _require_reason(session, obj, "delete")
            append(session, entity_type=entity, entity_id=obj.id, action="delete",
                   old=_snapshot(obj), reason_text=why)


def _reset(session: OrmSession, *_: Any) -> None:
    for key in ("audit_pending_tail", "audit_locked"):
        session.info.pop(key, None)


event.listen(OrmSession, "after_commit", _reset)
event.listen(OrmSession, "after_soft_rollback", _reset)


@dataclass
class ChainReport:
    ok: bool
    entries: int
    head_hash: str
    first_broken_seq: int | None = None
    first_broken_id: str | None = None
    problem: str | None = None


def verify_chain(session: Session, batch: int = 2000) -> ChainReport:
    """Recompute every hash and link; name the first entry that does not check out."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    stmt = select(AuditEntry).order_by(col(AuditEntry.seq))
    for entry in session.exec(stmt.execution_options(yield_per=batch)):
        count += 1
        problem = None
        if entry.seq != expected_seq:
            problem = f"sequence gap: entry {expected_seq} is missing (found {entry.seq})"
        elif entry.prev_hash != expected_prev:
            problem = "previous-hash link broken (an entry before it was removed or altered)"
        else:
            fields = {k: getattr(entry, k) for k in AuditEntry.model_fields}
            fields["ts"] = entry.ts.isoformat()
            if entry_hash(fields) != entry.hash:
                problem = "content does not match its hash (entry altered)"
        if problem:
            return ChainReport(False, count, entry.hash, entry.seq, entry.id, problem)
        expected_prev, expected_seq = entry.hash, entry.seq + 1
    return ChainReport(True, count, expected_prev)
