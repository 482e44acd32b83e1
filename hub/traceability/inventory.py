"""Current inventory by location: the last observation of each identifier (and its container)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub.traceability.access import visible_orgs
from hub.traceability.lots import chunks, lot_identifiers, lots_of_epcs
from hub.traceability.models import TraceEvent, TraceEventEpc

GONE_DISPOSITIONS = {"destroyed", "disposed", "dispensed", "retail_sold", "stolen"}
GONE_STEPS = {"decommissioning", "destroying"}
TRANSIT_STEPS = {"shipping", "transporting", "departing"}
INBOUND_STEPS = {"receiving", "arriving", "accepting", "commissioning"}


@dataclass
class Observation:
    """The latest thing known about one identifier (or a class at one location)."""

    epc: str
    role: str
    is_class: bool
    quantity: float | None
    uom: str | None
    gtin: str | None
    lot: str | None
    observed_at: datetime
    location: str | None
    event_pk: str
    event_id: str
    event_type: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    org_id: str
    via_container: str | None = None

    @property
    def state(self) -> str:
        """in_stock, in_transit, or gone (consumed, removed, destroyed, sold …)."""
        if self.role in ("input", "input_quantity"):
            return "gone"
        if self.event_type == "ObjectEvent" and self.action == "DELETE":
            return "gone"
        if self.disposition in GONE_DISPOSITIONS or self.biz_step in GONE_STEPS:
            return "gone"
        if self.disposition == "in_transit" or self.biz_step in TRANSIT_STEPS:
            return "in_transit"
        return "in_stock" if self.location else "unknown"


@dataclass
class Inventory:
    """Identifiers and quantities in stock per location, and what is on the move."""

    locations: dict[str, list[Observation]] = field(default_factory=dict)
    in_transit: list[Observation] = field(default_factory=list)


def _rows(session: Session, orgs: list[str], *, is_class: bool, scope: Any) -> list[Any]:
    """Instance identifiers: the latest row of each. Classes: every row, oldest first."""
    rank = sa.func.row_number().over(
        partition_by=[col(TraceEventEpc.epc)],
        order_by=[col(TraceEventEpc.event_time).desc(), col(TraceEvent.record_time).desc(),
                  col(TraceEventEpc.id).desc()]).label("rank")
    columns: list[Any] = [col(c) for c in (
        TraceEventEpc.epc, TraceEventEpc.role, TraceEventEpc.is_class, TraceEventEpc.quantity,
        TraceEventEpc.uom, TraceEventEpc.gtin, TraceEventEpc.lot)]
    columns += [col(TraceEventEpc.event_time).label("observed_at")]
    columns += [col(c) for c in (
        TraceEventEpc.location, TraceEventEpc.event_pk, TraceEvent.event_id,
        TraceEvent.event_type, TraceEvent.action, TraceEvent.biz_step, TraceEvent.disposition,
        TraceEvent.org_id)]
    inner = (sa.select(*columns, rank)
             .join(TraceEvent, col(TraceEvent.id) == col(TraceEventEpc.event_pk))
             .where(col(TraceEventEpc.org_id).in_(orgs),
                    col(TraceEventEpc.is_class) == is_class))
    if scope is not None:
        inner = inner.where(col(TraceEventEpc.epc).in_(scope))
    sub = inner.subquery()
    stmt = sa.select(sub)
    if is_class:
        stmt = stmt.order_by(sub.c.observed_at, sub.c.event_pk)
    else:
        stmt = stmt.where(sub.c.rank == 1)
    return list(session.execute(stmt).all())


def _class_stock(rows: list[Observation]) -> list[Observation]:
    """A running balance per (class, location, unit): in adds, out and gone subtract,
    any other observation (cycle count, inspection, storing) states the quantity."""
    stock: dict[tuple[str, str | None, str | None], Observation] = {}
    for row in rows:
        key = (row.epc, row.location, row.uom)
        qty = row.quantity or 0.0
        held = stock.get(key)
        balance = (held.quantity or 0.0) if held else 0.0
        if row.state in ("gone", "in_transit"):
            balance -= qty
        elif row.action == "ADD" or row.biz_step in INBOUND_STEPS or row.role == "output_quantity":
            balance += qty
        else:
            balance = qty
        row.quantity = max(balance, 0.0)
        stock[key] = row
    return [o for o in stock.values() if (o.quantity or 0) > 0 and o.location]


def _observation(row: Any) -> Observation:
    data = {k: v for k, v in row._mapping.items() if k != "rank"}
    return Observation(**data)


def _follow_containers(session: Session, latest: dict[str, Observation]) -> None:
    """An identifier packed into a container is where the container was seen since."""
    packed = {o.event_pk for o in latest.values()
              if o.role == "child" and o.event_type == "AggregationEvent"
              and o.action in ("ADD", "OBSERVE")}
    parent_of_event: dict[str, str] = {}
    for part in chunks(sorted(packed)):
        for pk, epc in session.exec(select(TraceEventEpc.event_pk, TraceEventEpc.epc).where(
                col(TraceEventEpc.event_pk).in_(part), TraceEventEpc.role == "parent")).all():
            parent_of_event[pk] = epc
    for obs in latest.values():
        if obs.event_pk not in parent_of_event or obs.role != "child":
            continue
        seen: set[str] = {obs.epc}
        container = latest.get(parent_of_event[obs.event_pk])
        while container is not None and container.epc not in seen:
            seen.add(container.epc)
            if container.observed_at > obs.observed_at:
                for attr in ("observed_at", "location", "event_pk", "event_id", "event_type",
                             "action", "biz_step", "disposition", "org_id"):
                    setattr(obs, attr, getattr(container, attr))
                obs.role, obs.via_container = container.role, container.epc
            nxt = parent_of_event.get(container.event_pk) if container.role == "child" else None
            container = latest.get(nxt) if nxt else None


def inventory(session: Session, org_id: str, *, location: str | None = None,
              lot: str | None = None, gtin: str | None = None) -> Inventory:
    """What the organization's visible events say is where, now."""
    orgs = visible_orgs(session, org_id)
    scope = lot_identifiers(orgs, lot, gtin) if lot else None
    latest = {r.epc: _observation(r) for r in _rows(session, orgs, is_class=False, scope=scope)}
    _follow_containers(session, latest)
    unknown_lot = [o.epc for o in latest.values() if o.lot is None]
    mapped = lots_of_epcs(session, orgs, unknown_lot)
    for epc in unknown_lot:
        pairs = mapped.get(epc)
        if pairs and len(pairs) == 1:
            latest[epc].gtin, latest[epc].lot = next(iter(pairs))
    classes = _class_stock([_observation(r)
                            for r in _rows(session, orgs, is_class=True, scope=scope)])
    result = Inventory()
    by_place: dict[str, list[Observation]] = defaultdict(list)
    for obs in [*latest.values(), *classes]:
        if gtin and obs.gtin not in (gtin, None) and not obs.via_container:
            continue
        state = "in_stock" if obs.is_class else obs.state
        if state == "in_transit" and location is None:
            result.in_transit.append(obs)
        elif state == "in_stock" and obs.location and location in (None, obs.location):
            by_place[obs.location].append(obs)
    for place in sorted(by_place):
        result.locations[place] = sorted(by_place[place], key=lambda o: (o.is_class, o.epc))
    result.in_transit.sort(key=lambda o: o.epc)
    return result
