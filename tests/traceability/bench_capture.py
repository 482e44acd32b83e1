"""Capture throughput: bulk capture vs a per-row ORM baseline, measured in the same run.

Run: ``.venv/bin/python -m tests.traceability.bench_capture [--events 3000] [--url URL]``
(default: a fresh SQLite file; with a PostgreSQL server URL a scratch database is created on
it and dropped afterwards). Prints a table and
``ratio: X`` = baseline seconds / bulk seconds for storing the same document.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.url import make_url
from sqlmodel import Session

from hub.db import make_engine, new_id, utcnow
from hub.identity.models import Organization, OrgKind
from hub.identity.principal import Principal
from hub.migrations import upgrade
from hub.traceability import service
from hub.traceability.epcis import document_events, parse_event, typed_events
from hub.traceability.models import TraceCapture, TraceEvent, TraceEventEpc, TraceReading
from tests.traceability import docs


def make_document(n: int, prefix: str) -> dict[str, Any]:
    """``n`` receiving events of three cases each, with one temperature reading."""
    events = [docs.event(
        "ObjectEvent", i / 120, f"urn:uuid:{prefix}-{i}", action="OBSERVE",
        bizStep="receiving", disposition="in_progress",
        epcList=[f"urn:epc:id:sgtin:9520123.045678.{prefix}{i}-{k}" for k in range(3)],
        readPoint={"id": docs.WAREHOUSE}, bizLocation={"id": docs.WAREHOUSE},
        sensorElementList=docs.temperatures(i / 120, [4.0 + (i % 30) / 10]))
        for i in range(n)]
    return docs.document(*events)


def per_row_baseline(session: Session, who: Principal, doc: dict[str, Any]) -> None:
    """The same validation and parsing, then one ORM object and flush per event."""
    typed = typed_events(service.validate_document(doc))
    parsed = [parse_event(i, t, r) for i, (t, r) in enumerate(zip(typed, document_events(doc),
                                                                   strict=True))]
    cap = TraceCapture(org_id=who.org_id, actor_id="bench", actor_name="bench",
                       document_sha256="-", schema_version="2.0", received=len(parsed),
                       stored=len(parsed), duplicates=0)
    session.add(cap)
    session.flush()
    for p in parsed:
        ev = TraceEvent(id=new_id(), org_id=who.org_id, capture_id=cap.id,
                        event_id=p.event_id, id_source=p.id_source, event_type=p.event_type,
                        action=p.action, event_time=p.event_time, tz_offset=p.tz_offset,
                        record_time=utcnow(), biz_step=p.biz_step, disposition=p.disposition,
                        read_point=p.read_point, biz_location=p.biz_location,
                        sources=p.sources, destinations=p.destinations, body=p.body)
        session.add(ev)
        session.flush()
        for r in p.epcs:
            session.add(TraceEventEpc(event_pk=ev.id, org_id=who.org_id, epc=r.epc,
                                      role=r.role, gtin=r.gtin, lot=r.lot,
                                      event_time=p.event_time, location=p.location))
        for t in p.readings:
            session.add(TraceReading(event_pk=ev.id, org_id=who.org_id, type=t.type,
                                     observed_from=t.observed_from, observed_to=t.observed_to,
                                     value=t.value, uom=t.uom, celsius_min=t.celsius_min,
                                     celsius_max=t.celsius_max))
        session.flush()


@contextmanager
def scratch_database(url: str, tmp: str) -> Iterator[str]:
    """A fresh database: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if not url:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    server = make_url(url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = "fedhub_trace_bench"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def timed(session: Session, work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    session.commit()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.url, tmp) as url:
        engine = make_engine(url)
        upgrade(url, engine=engine)
        with Session(engine, expire_on_commit=False) as session:
            org = Organization(name=f"Bench {new_id()[:8]}", kind=OrgKind.pharma)
            session.add(org)
            session.commit()
            who = Principal("machine", "bench", "bench", org.id, frozenset({"site_agent"}))
            n = args.events
            a, b = make_document(n, "a"), make_document(n, "b")
            start = time.perf_counter()
            checked = {id(d): service.validate_document(d) for d in (a, b)}
            validate = (time.perf_counter() - start) / 2
            # time the storage paths alone: validation answers from the results above
            original = service.validate_document
            service.validate_document = lambda doc: checked[id(doc)]
            try:
                bulk = timed(session, lambda: service.capture(session, who, a))
                again = timed(session, lambda: service.capture(session, who, a))
                baseline = timed(session, lambda: per_row_baseline(session, who, b))
            finally:
                service.validate_document = original
        engine.dispose()
    print(f"database: {url.split('@')[-1].split('://')[0]}, {n} events (3 EPCs, 1 reading each)")
    print(f"{'path':40} {'seconds':>8} {'events/s':>9}")
    for name, sec in (("validation (registry, JSON Schema)", validate),
                      ("bulk store (capture after validation)", bulk),
                      ("bulk re-capture, all duplicates", again),
                      ("per-row ORM store (baseline)", baseline),
                      ("end to end: validation + bulk store", validate + bulk)):
        print(f"{name:40} {sec:8.2f} {n / sec:9.0f}")
    print(f"end-to-end ratio (baseline / bulk): {(validate + baseline) / (validate + bulk):.2f}")
    print(f"ratio: {baseline / bulk:.2f}")


if __name__ == "__main__":
    main()
