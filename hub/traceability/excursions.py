"""Temperature excursions: consecutive out-of-range readings of a lot, merged into windows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub.traceability.lots import LotKey, chunks, lot_event_pks, lot_keys_of_events
from hub.traceability.models import TraceEpcLot, TraceEvent, TraceEventEpc, TraceReading
from hub.traceability.products import AllowedRange, resolve_range


@dataclass(frozen=True)
class TempReading:
    """A temperature observation in °C over [start, end] from one event."""

    start: datetime
    end: datetime
    low: float
    high: float
    event_id: str
    location: str | None = None
    event_pk: str = ""

    def outside(self, allowed: AllowedRange) -> bool:
        return self.high > allowed.max_celsius or self.low < allowed.min_celsius


@dataclass
class Excursion:
    """An excursion window: first to last out-of-range observation."""

    gtin: str | None
    lot: str | None
    start: datetime
    end: datetime
    max_celsius: float
    min_celsius: float
    allowed: AllowedRange
    readings: int = 0
    event_ids: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str:
        high = self.max_celsius > self.allowed.max_celsius
        low = self.min_celsius < self.allowed.min_celsius
        return "both" if high and low else ("high" if high else "low")

    @property
    def duration_seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def describe(self) -> str:
        what = f"lot {self.lot}" if self.lot else "identifiers without a known lot"
        product = f" of GTIN {self.gtin}" if self.gtin else ""
        return (f"Temperature excursion ({self.direction}) for {what}{product}: "
                f"{self.min_celsius:g}–{self.max_celsius:g} °C observed between "
                f"{self.start.isoformat()} and {self.end.isoformat()}; allowed "
                f"{self.allowed.min_celsius:g}–{self.allowed.max_celsius:g} °C "
                f"({self.allowed.source} range)")


def find_excursions(readings: Iterable[TempReading], allowed: AllowedRange, *,
                    gtin: str | None, lot: str | None) -> list[Excursion]:
    """Merge time-ordered out-of-range readings; an in-range reading closes a window."""
    found: list[Excursion] = []
    current: Excursion | None = None
    # the same event captured by two partners reports the same readings twice
    unique = {(r.start, r.end, r.low, r.high, r.event_id): r for r in readings}
    ordered = sorted(unique.values(), key=lambda r: (r.start, r.end, r.event_id))
    for r in ordered:
        if not r.outside(allowed):
            current = None
            continue
        if current is None:
            current = Excursion(gtin, lot, r.start, r.end, r.high, r.low, allowed)
            found.append(current)
        current.end = max(current.end, r.end)
        current.max_celsius = max(current.max_celsius, r.high)
        current.min_celsius = min(current.min_celsius, r.low)
        current.readings += 1
        if r.event_id not in current.event_ids:
            current.event_ids.append(r.event_id)
        if r.location and r.location not in current.locations:
            current.locations.append(r.location)
    return found


def lot_gtins(session: Session, orgs: list[str], lot: str) -> list[str]:
    """The GTINs the visible data pairs with a lot number."""
    direct = select(TraceEventEpc.gtin).where(col(TraceEventEpc.org_id).in_(orgs),
                                              TraceEventEpc.lot == lot)
    mapped = select(TraceEpcLot.gtin).where(col(TraceEpcLot.org_id).in_(orgs),
                                            TraceEpcLot.lot == lot)
    found = set(session.exec(direct.distinct()).all()) | set(session.exec(mapped.distinct()).all())
    return sorted(g for g in found if g)


def _readings(session: Session, orgs: list[str], event_filter: Any) -> list[TempReading]:
    stmt = (sa.select(col(TraceReading.observed_from), col(TraceReading.observed_to),
                      col(TraceReading.celsius_min), col(TraceReading.celsius_max),
                      col(TraceEvent.event_id), col(TraceEvent.biz_location),
                      col(TraceEvent.read_point), col(TraceReading.event_pk))
            .join(TraceEvent, col(TraceEvent.id) == col(TraceReading.event_pk))
            .where(event_filter, col(TraceEvent.org_id).in_(orgs),
                   col(TraceReading.celsius_max).is_not(None),
                   col(TraceReading.celsius_min).is_not(None)))
    return [TempReading(a, b, lo, hi, eid, loc or rp, pk)
            for a, b, lo, hi, eid, loc, rp, pk in session.execute(stmt).all()]


def excursions_of_lot(session: Session, orgs: list[str], lot: str,
                      gtin: str | None = None) -> list[Excursion]:
    """Excursions of a lot over every visible reading, per GTIN, against its allowed range."""
    found: list[Excursion] = []
    gtins: list[str | None] = [gtin] if gtin else [*lot_gtins(session, orgs, lot)] or [None]
    for g in gtins:
        readings = _readings(session, orgs,
                             col(TraceReading.event_pk).in_(lot_event_pks(orgs, lot, g)))
        allowed = resolve_range(session, orgs, g, lot)
        found.extend(find_excursions(readings, allowed, gtin=g, lot=lot))
    return found


def excursions_of_events(session: Session, orgs: list[str], event_pks: Sequence[str], *,
                         only_if_outside: bool = False) -> list[Excursion]:
    """Excursions touching the given events: whole-lot history where the lot is known,
    the event's own readings where it is not. ``only_if_outside`` skips lots and events
    whose readings among these events are all within range (nothing new to report)."""
    keys = lot_keys_of_events(session, orgs, event_pks)
    by_event: dict[str, list[TempReading]] = defaultdict(list)
    for part in chunks(list(event_pks)):
        for r in _readings(session, orgs, col(TraceReading.event_pk).in_(part)):
            by_event[r.event_pk].append(r)
    ranges: dict[LotKey, AllowedRange] = {}
    lots: set[tuple[str | None, str]] = set()
    found: list[Excursion] = []
    for pk in event_pks:
        for gtin, lot in sorted(keys[pk], key=lambda k: (k[0] or "", k[1] or "")):
            if (gtin, lot) not in ranges:
                ranges[(gtin, lot)] = resolve_range(session, orgs, gtin, lot)
            allowed = ranges[(gtin, lot)]
            if only_if_outside and not any(r.outside(allowed) for r in by_event[pk]):
                continue
            if lot is None:
                found.extend(find_excursions(by_event[pk], allowed, gtin=gtin, lot=None))
            else:
                lots.add((gtin, lot))
    for gtin, lot in sorted(lots, key=lambda k: (k[0] or "", k[1])):
        found.extend(excursions_of_lot(session, orgs, lot, gtin))
    return found


def excursions_between(session: Session, orgs: list[str], since: datetime | None,
                       until: datetime | None) -> list[Excursion]:
    """Every excursion visible to ``orgs`` that overlaps [since, until]."""
    stmt = (select(TraceReading.event_pk).join(TraceEvent, col(TraceEvent.id)
                                               == col(TraceReading.event_pk))
            .where(col(TraceEvent.org_id).in_(orgs), col(TraceReading.celsius_max).is_not(None)))
    if since:
        stmt = stmt.where(col(TraceReading.observed_to) >= since)
    if until:
        stmt = stmt.where(col(TraceReading.observed_from) <= until)
    pks = sorted(set(session.exec(stmt).all()))
    found = excursions_of_events(session, orgs, pks)
    return [e for e in found
            if (since is None or e.end >= since) and (until is None or e.start <= until)]
