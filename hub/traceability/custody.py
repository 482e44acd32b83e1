"""Custody chain of a lot: outbound (shipping) → transport → inbound (receiving) legs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from hub.errors import NotFound
from hub.identity.models import Organization
from hub.traceability.access import visible_orgs
from hub.traceability.lots import chunks, lot_event_pks
from hub.traceability.models import TraceEvent, TraceEventEpc, TraceReading

OUTBOUND = {"shipping"}
INBOUND = {"receiving"}


@dataclass
class Leg:
    """One movement between custodians; ``inbound`` is None while in transit."""

    outbound: TraceEvent | None
    epcs: set[str]
    inbound: TraceEvent | None = None
    transport: list[TraceEvent] = field(default_factory=list)

    @property
    def shipped_at(self) -> datetime | None:
        return self.outbound.event_time if self.outbound else None

    @property
    def received_at(self) -> datetime | None:
        return self.inbound.event_time if self.inbound else None

    @property
    def duration_seconds(self) -> float | None:
        if self.outbound is None or self.inbound is None:
            return None
        return (self.inbound.event_time - self.outbound.event_time).total_seconds()

    def destination_locations(self) -> set[str]:
        if self.outbound is None:
            return set()
        return {d["id"] for d in self.outbound.destinations if d.get("type") == "location"}


@dataclass
class Custody:
    """Every visible event of the lot in time order, and the legs they form."""

    lot: str
    gtin: str | None
    events: list[TraceEvent]
    legs: list[Leg]
    epcs: dict[str, set[str]]
    org_names: dict[str, str]
    temperatures: dict[str, tuple[float, float]]


def _overlaps(leg: Leg, epcs: set[str]) -> bool:
    return bool(leg.epcs & epcs)


def build_legs(events: list[TraceEvent], epcs: dict[str, set[str]]) -> list[Leg]:
    """Pair each shipping event with the receiving event that shares its identifiers.

    Matching prefers shared identifiers, then the shipment's destination location, then the
    only open shipment; events in between that share identifiers are the transport.
    """
    legs: list[Leg] = []
    open_legs: list[Leg] = []
    for ev in events:
        ids = epcs.get(ev.id, set())
        if ev.biz_step in OUTBOUND:
            leg = Leg(ev, set(ids))
            legs.append(leg)
            open_legs.append(leg)
            continue
        if ev.biz_step in INBOUND:
            place = ev.biz_location or ev.read_point
            match = (next((lg for lg in open_legs if _overlaps(lg, ids)), None)
                     or next((lg for lg in open_legs if place in lg.destination_locations()),
                             None)
                     or (open_legs[0] if len(open_legs) == 1 else None))
            if match is None:
                legs.append(Leg(None, set(ids), inbound=ev))
            else:
                match.inbound = ev
                open_legs.remove(match)
            continue
        carriers = [lg for lg in open_legs if _overlaps(lg, ids)]
        if not carriers and len(open_legs) == 1:
            carriers = open_legs
        for leg in carriers:
            leg.transport.append(ev)
            leg.epcs |= ids
    return legs


def custody_chain(session: Session, org_id: str, lot: str, gtin: str | None = None) -> Custody:
    """The lot's custody chain as the organization may see it (404 when it sees nothing)."""
    orgs = visible_orgs(session, org_id)
    events = list(session.exec(
        select(TraceEvent).where(col(TraceEvent.id).in_(lot_event_pks(orgs, lot, gtin)),
                                 col(TraceEvent.org_id).in_(orgs))
        .order_by(col(TraceEvent.event_time), col(TraceEvent.record_time), col(TraceEvent.id))
    ).all())
    if not events:
        raise NotFound(f"No traceability events for lot {lot} are visible to your organization")
    first: dict[str, TraceEvent] = {}  # an event two partners both captured is shown once
    for e in events:
        first.setdefault(e.event_id, e)
    events = [e for e in events if first[e.event_id] is e]
    pks = [e.id for e in events]
    epcs: dict[str, set[str]] = defaultdict(set)
    temps: dict[str, tuple[float, float]] = {}
    for part in chunks(pks):
        for pk, epc in session.exec(select(TraceEventEpc.event_pk, TraceEventEpc.epc)
                                    .where(col(TraceEventEpc.event_pk).in_(part))).all():
            epcs[pk].add(epc)
        for pk, low, high in session.exec(
                select(TraceReading.event_pk, TraceReading.celsius_min, TraceReading.celsius_max)
                .where(col(TraceReading.event_pk).in_(part),
                       col(TraceReading.celsius_max).is_not(None))).all():
            if low is None or high is None:
                continue
            old = temps.get(pk)
            temps[pk] = (min(low, old[0]), max(high, old[1])) if old else (low, high)
    names = {o.id: o.name for o in session.exec(select(Organization).where(
        col(Organization.id).in_({e.org_id for e in events}))).all()}
    return Custody(lot, gtin, events, build_legs(events, epcs), epcs, names, temps)


def leg_temperature(leg: Leg, temps: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    """Lowest and highest °C reported by the leg's events, if any reported."""
    events = [e for e in (leg.outbound, *leg.transport, leg.inbound) if e is not None]
    seen = [temps[e.id] for e in events if e.id in temps]
    if not seen:
        return None
    return min(t[0] for t in seen), max(t[1] for t in seen)
