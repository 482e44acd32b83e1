"""Which events and identifiers belong to a lot (directly, via ILMD, or inside a container)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub.traceability.models import TraceEpcLot, TraceEventEpc

T = TypeVar("T")
CHUNK = 500
LotKey = tuple[str | None, str | None]  # (gtin, lot)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def mapped_epcs(orgs: list[str], lot: str, gtin: str | None = None) -> Any:
    """Sub-select of identifiers known (from ILMD or aggregation) to hold the lot."""
    stmt = select(TraceEpcLot.epc).where(col(TraceEpcLot.org_id).in_(orgs),
                                         TraceEpcLot.lot == lot)
    return stmt.where(TraceEpcLot.gtin == gtin) if gtin else stmt


def lot_identifiers(orgs: list[str], lot: str, gtin: str | None = None) -> Any:
    """Sub-select of every identifier of the lot: class-level, ILMD-tagged and containers."""
    direct = select(TraceEventEpc.epc).where(col(TraceEventEpc.org_id).in_(orgs),
                                             TraceEventEpc.lot == lot)
    if gtin:
        direct = direct.where(TraceEventEpc.gtin == gtin)
    return sa.union(direct, mapped_epcs(orgs, lot, gtin))


def lot_event_pks(orgs: list[str], lot: str, gtin: str | None = None) -> Any:
    """Sub-select of the visible events that touch the lot."""
    direct = col(TraceEventEpc.lot) == lot
    if gtin:
        direct = sa.and_(direct, col(TraceEventEpc.gtin) == gtin)
    return select(TraceEventEpc.event_pk).where(
        col(TraceEventEpc.org_id).in_(orgs),
        sa.or_(direct, col(TraceEventEpc.epc).in_(mapped_epcs(orgs, lot, gtin))),
    )


def lots_of_epcs(session: Session, orgs: list[str],
                 epcs: Iterable[str]) -> dict[str, set[tuple[str, str]]]:
    """(GTIN, lot) pairs recorded for each identifier in the visible lot map."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    unique = sorted(set(epcs))
    for part in chunks(unique):
        rows = session.exec(select(TraceEpcLot.epc, TraceEpcLot.gtin, TraceEpcLot.lot).where(
            col(TraceEpcLot.org_id).in_(orgs), col(TraceEpcLot.epc).in_(part))).all()
        for epc, gtin, lot in rows:
            found[epc].add((gtin, lot))
    return found


def lot_keys_of_events(session: Session, orgs: list[str],
                       event_pks: Sequence[str]) -> dict[str, set[LotKey]]:
    """For each event, the (GTIN, lot) pairs it touches; (GTIN, None) where no lot is known."""
    rows: list[tuple[str, str, str | None, str | None]] = []
    for part in chunks(list(event_pks)):
        rows.extend(session.exec(select(
            TraceEventEpc.event_pk, TraceEventEpc.epc, TraceEventEpc.gtin, TraceEventEpc.lot,
        ).where(col(TraceEventEpc.event_pk).in_(part))).all())
    mapped = lots_of_epcs(session, orgs, [epc for _, epc, _, lot in rows if lot is None])
    keys: dict[str, set[LotKey]] = defaultdict(set)
    bare: dict[str, set[str | None]] = defaultdict(set)
    for pk, epc, gtin, lot in rows:
        if lot is not None:
            keys[pk].add((gtin, lot))
        elif mapped.get(epc):
            keys[pk].update(mapped[epc])
        else:
            bare[pk].add(gtin)
    for pk in event_pks:
        if not keys.get(pk):
            gtins = bare.get(pk) or {None}
            keys[pk] = {(g, None) for g in gtins}
    return keys
