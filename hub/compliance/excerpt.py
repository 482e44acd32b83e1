"""Audit-trail excerpts that verify on their own (``verify_excerpt`` needs no database).

An excerpt is the contiguous run of chain entries whose time falls in the period, plus the
hash of the entry just before the first one. Entries about the submitting organization (made
by its people, or touching its organization, sites, people or reports) are included in full,
so their hashes can be recomputed; the others are reduced to ``seq``, ``prev_hash`` and
``hash`` — enough to check every link without revealing another member's activity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub.audit.chain import GENESIS, HASHED_FIELDS, entry_hash
from hub.audit.models import AuditEntry

FORMAT = "fedhub-audit-excerpt/1"


def _entity_ids(session: Session, org_id: str) -> set[str]:
    from hub.compliance.models import ComplianceReport
    from hub.identity.models import User
    from hub.sites.models import Site

    ids = {org_id}
    ids.update(session.exec(select(Site.id).where(Site.organization_id == org_id)).all())
    ids.update(session.exec(select(User.id).where(User.organization_id == org_id)).all())
    ids.update(session.exec(select(ComplianceReport.id).where(
        ComplianceReport.organization_id == org_id)).all())
    return ids


def full_entry(e: AuditEntry) -> dict[str, Any]:
    out = {k: getattr(e, k) for k in HASHED_FIELDS}
    out["ts"] = e.ts.isoformat()
    out["hash"] = e.hash
    return out


def build_excerpt(session: Session, org_id: str, since: datetime, until: datetime,
                  batch: int = 2000) -> dict[str, Any]:
    """The period's entries (``since`` inclusive, ``until`` exclusive) with their links."""
    bounds = session.execute(sa.select(sa.func.min(AuditEntry.seq), sa.func.max(AuditEntry.seq))
                             .where(col(AuditEntry.ts) >= since,
                                    col(AuditEntry.ts) < until)).one()
    first, last = bounds
    out: dict[str, Any] = {"format": FORMAT, "organization_id": org_id,
                           "since": since.isoformat(), "until": until.isoformat(),
                           "hashed_fields": list(HASHED_FIELDS), "entries": []}
    if first is None:
        before = session.execute(sa.select(col(AuditEntry.hash)).where(col(AuditEntry.ts) < since)
                                 .order_by(col(AuditEntry.seq).desc()).limit(1)).scalar()
        out.update(previous_hash=before or GENESIS, first_seq=None, last_seq=None,
                   last_hash=before or GENESIS, full_entries=0)
        return out
    ours = _entity_ids(session, org_id)
    entries: list[dict[str, Any]] = []
    full = 0
    stmt = (select(AuditEntry).where(col(AuditEntry.seq) >= first, col(AuditEntry.seq) <= last)
            .order_by(col(AuditEntry.seq)).execution_options(yield_per=batch))
    for e in session.exec(stmt):
        if e.actor_org_id == org_id or e.entity_id in ours:
            entries.append(full_entry(e))
            full += 1
        else:
            entries.append({"seq": e.seq, "prev_hash": e.prev_hash, "hash": e.hash,
                            "redacted": True})
    out.update(previous_hash=entries[0]["prev_hash"], first_seq=first, last_seq=last,
               last_hash=entries[-1]["hash"], full_entries=full, entries=entries)
    return out


def verify_excerpt(excerpt: dict[str, Any]) -> list[str]:
    """Problems found re-checking the excerpt's links and full entries' hashes (none: ok)."""
    problems: list[str] = []
    entries = excerpt.get("entries")
    if not isinstance(entries, list):
        return ["the excerpt has no list of entries"]
    prev = excerpt.get("previous_hash")
    expected_seq = excerpt.get("first_seq")
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("seq"), int):
            problems.append("an entry is not an object with a seq")
            break
        seq = e["seq"]
        if expected_seq is not None and seq != expected_seq:
            problems.append(f"sequence gap: entry {expected_seq} is missing (found {seq})")
        if e.get("prev_hash") != prev:
            problems.append(f"entry {seq}: previous-hash link broken")
        if not e.get("redacted"):
            try:
                recomputed = entry_hash(e)
            except (KeyError, TypeError):
                recomputed = None
            if recomputed != e.get("hash"):
                problems.append(f"entry {seq}: content does not match its hash")
        prev, expected_seq = e.get("hash"), seq + 1
        if len(problems) >= 20:
            problems.append("… further problems not listed")
            break
    if not problems and entries:
        if excerpt.get("last_hash") != prev:
            problems.append("the excerpt's last hash does not match its last entry")
        if excerpt.get("last_seq") != entries[-1]["seq"]:
            problems.append("the excerpt's last seq does not match its last entry")
    return problems
