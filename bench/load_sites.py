"""Consortium-scale load: N enrolled sites send telemetry and EPCIS events to a real hub at once.

The hub runs as ``fedhub serve --workers W`` (uvicorn subprocess) on a fresh PostgreSQL
database. Every site is a real enrolled site with its own API key (created through the service
layer before the timed part) and its own HTTP connection (httpx, asyncio). For ``--seconds``
each site sends, back to back (or every ``--interval`` seconds), ``POST /monitoring/readings``
batches of ``sensor-reading/1.0.0`` with an ``Idempotency-Key`` and, every ``--epcis-every``-th
message, an EPCIS 2.0 document to ``POST /traceability/capture`` (idempotent by ``eventID``).
A failed attempt (connection error, timeout, 5xx, 429) is retried with the same key or the same
event ids; any other 4xx is an error and not retried.

Afterwards every site's rows are counted in the database and compared with what the hub
acknowledged to that site: nothing lost, nothing duplicated, nothing unexplained (the exit
status is 1 otherwise). The baseline, measured in the same run, inserts the very same rows
straight into copies of the tables (``executemany`` per request-sized batch, one transaction
each, and one ``COPY``).

    .venv/bin/python bench/load_sites.py [--sites 200] [--seconds 60] [--workers 2]
        [--orgs 20] [--batch 50] [--events 10] [--epcis-every 5] [--interval 0]
        [--database-url postgresql://postgres@127.0.0.1:5432/fedhub_load_mine] [--keep-db]

Without ``--database-url`` the database ``fedhub_load_<pid>`` is created on
127.0.0.1:5432; a database given by URL must not exist yet. Either is dropped at the end
unless ``--keep-db``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from hub.audit import service as audit
from hub.db import make_engine
from hub.identity import service as identity
from hub.identity.principal import Principal
from hub.identity.schemas import OrganizationCreate
from hub.migrations import upgrade
from hub.sites import credentials, service
from hub.sites.models import CredentialDelivery, SiteStatus
from hub.sites.schemas import SiteCreate
from site_agent import keys

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BIN = Path(sys.executable).parent
READINGS, EPCIS = "telemetry", "epcis"
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
MEASUREMENTS = {"temperature": (21.0, "Cel"), "relative_humidity": (45.0, "%"),
                "differential_pressure": (12.5, "Pa"), "vibration": (2.1, "mm/s")}
EPCIS_CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


# ---------------------------------------------------------------- database and sites

def psycopg_url(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql+psycopg")
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(url: str | None, keep: bool) -> Iterator[str]:
    """Create the database (it must not exist), yield its URL, drop it afterwards."""
    target = make_url(url or DEFAULT_SERVER)
    name = target.database if url else f"fedhub_load_{os.getpid()}"
    assert name, "the database URL names no database"
    admin = sa.create_engine(psycopg_url(str(target.render_as_string(hide_password=False)),
                                         "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))  # fails if it exists: not ours
    try:
        yield psycopg_url(target.render_as_string(hide_password=False), name)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class SiteAccount:
    index: int
    site_id: str
    org_id: str
    code: str
    enterprise: str
    api_key: str


def enroll_sites(engine: Engine, n_sites: int, n_orgs: int, tmp: Path) -> list[SiteAccount]:
    """Member organizations with active sites, each with its own sealed-and-opened API key."""
    out: list[SiteAccount] = []
    with Session(engine, expire_on_commit=False) as session:
        admins = []
        for k in range(n_orgs):
            org = identity.create_organization(session, OrganizationCreate(
                name=f"Member {k:02d} Pharma", kind="pharma"))
            admins.append(Principal("user", f"load-{k}", "load bench", org.id,
                                    frozenset({"hub_admin"})))
        for i in range(n_sites):
            admin = admins[i % n_orgs]
            priv, pub = keys.generate(tmp / "keys" / str(i))
            code, enterprise = f"site-{i:04d}", f"member-{i % n_orgs:02d}"
            site = service.request_enrollment(session, admin, SiteCreate.model_validate({
                "name": f"Plant {i:04d}", "kind": "plant", "public_key": pub.read_text(),
                "location": {"enterprise": enterprise, "site": code}}))
            with audit.reason(session, "load bench"):
                site.status = SiteStatus.active
                session.add(site)
            credentials.issue_site_api_key(session, admin, site)
            delivery = session.get(CredentialDelivery, site.id)
            assert delivery is not None and delivery.sealed is not None
            secret = keys.open_sealed(keys.load_private(priv), delivery.sealed, site.id)
            out.append(SiteAccount(i, site.id, site.organization_id, code, enterprise,
                                   secret.decode()))
        session.commit()
    return out


# ---------------------------------------------------------------- the hub process

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of the live processes of a process group (and reaped children)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the command: state ppid pgrp ...
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / tick


class HubProcess:
    """``fedhub serve --workers W`` in its own process group, logging to a file."""

    def __init__(self, database_url: str, workers: int, home: Path,
                 port: int | None = None) -> None:
        self.database_url, self.workers, self.home = database_url, workers, home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "hub.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> HubProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDHUB_")}
        env.update(FEDHUB_ENVIRONMENT="production", FEDHUB_SECRET_KEY="load-bench-" + "k" * 32,
                   FEDHUB_DATABASE_URL=self.database_url, FEDHUB_DATA_DIR=str(self.home),
                   FEDHUB_PUBLIC_URL=self.url)
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [str(BIN / "fedhub"), "serve", "--no-migrate", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", str(self.workers)],
                stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=self.home,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited ({self.proc.returncode}):\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"hub not ready after {timeout:.0f} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.proc.pid) if self.proc else 0.0

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the master and its workers at once (SIGKILL: no clean shutdown)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10  # workers are in the same group; let them go
        while group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.proc = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def group_alive(pgid: int) -> bool:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


# ---------------------------------------------------------------- what sites send

def readings_batch(site: SiteAccount, n: int, t0: datetime, seq: int,
                   rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for j in range(n):
        ts = t0 + timedelta(seconds=60 * (seq * n + j))
        out.append({
            "reading_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "site_id": site.code,
            "equipment": {"enterprise": site.enterprise, "site": site.code,
                          "area": "granulation", "unit": "line-1",
                          "equipment": f"fbd-{100 + j % 8}"},
            "timestamp": ts.isoformat(),
            "measurements": {m: {"value": round(level + rng.gauss(0, 0.1), 3), "unit": unit}
                             for m, (level, unit) in MEASUREMENTS.items()}})
    return out


def epcis_document(site: SiteAccount, n: int, t0: datetime, seq: int,
                   rng: random.Random) -> dict[str, Any]:
    here = f"urn:epc:id:sgln:9520123.{site.index:05d}.0"
    events = []
    for j in range(n):
        when = t0 + timedelta(minutes=seq * n + j)
        serial = seq * n + j
        events.append({
            "type": "ObjectEvent", "action": "OBSERVE",
            "eventID": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "eventTime": when.isoformat().replace("+00:00", "Z"),
            "eventTimeZoneOffset": "+00:00", "bizStep": "shipping",
            "disposition": "in_transit",
            "epcList": [f"urn:epc:id:sgtin:9520123.{site.index:06d}.{serial}"],
            "readPoint": {"id": here}, "bizLocation": {"id": here},
            "sensorElementList": [{
                "sensorMetadata": {"deviceID": f"urn:epc:id:giai:9520123.logger{site.index}"},
                "sensorReport": [{"type": "Temperature", "uom": "CEL",
                                  "value": round(5.0 + rng.uniform(-1, 1), 2),
                                  "time": when.isoformat().replace("+00:00", "Z")}]}]})
    return {"@context": EPCIS_CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": t0.isoformat().replace("+00:00", "Z"),
            "epcisBody": {"eventList": events}}


# ---------------------------------------------------------------- the load

@dataclass
class Ledger:
    """What one site sent and what the hub acknowledged to it."""

    sent: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    acked: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    acked_batches: int = 0  # telemetry requests acknowledged (one idempotency record each)
    given_up: int = 0


@dataclass
class Stats:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    requests: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)  # acknowledged
    replays: int = 0
    bad_answers: list[str] = field(default_factory=list)


def backoff(attempt: int, rng: random.Random) -> float:
    ceiling = min(5.0, 0.2 * 2 ** attempt)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


async def deliver(client: httpx.AsyncClient, kind: str, path: str, body: bytes,
                  headers: dict[str, str], ids: list[str], ledger: Ledger, stats: Stats,
                  rng: random.Random, attempts: int) -> bool:
    """Send until acknowledged (same key, same ids) or a permanent refusal."""
    ledger.sent[kind].update(ids)
    for attempt in range(attempts):
        if attempt:
            stats.retries[kind] += 1
        t0 = time.perf_counter()
        try:
            resp = await client.post(path, content=body, headers=headers)
            outcome = str(resp.status_code)
        except httpx.HTTPError as exc:
            resp, outcome = None, type(exc).__name__
        stats.latency[kind].append(time.perf_counter() - t0)
        stats.requests[kind] += 1
        stats.outcomes[(kind, outcome)] += 1
        if resp is not None and resp.status_code < 300:
            check_answer(kind, resp, ids, stats)
            ledger.acked[kind].update(ids)
            ledger.acked_batches += kind == READINGS
            stats.records[kind] += len(ids)
            return True
        if resp is not None and resp.status_code not in RETRY_STATUSES:
            stats.bad_answers.append(f"{kind} {resp.status_code}: {resp.text[:300]}")
            break
        await asyncio.sleep(backoff(attempt, rng))
    ledger.given_up += 1
    return False


def check_answer(kind: str, resp: httpx.Response, ids: list[str], stats: Stats) -> None:
    """The answer must account for every record sent (a replay repeats the first answer)."""
    doc = resp.json()
    if resp.headers.get("idempotent-replayed") == "true":
        stats.replays += 1
    if kind == READINGS:
        ok = doc["received"] == len(ids) and doc["stored"] + doc["duplicates"] == len(ids)
    else:
        ok = doc["event_ids"] == ids and set(doc["stored_event_ids"]) <= set(ids)
    if not ok:
        stats.bad_answers.append(f"{kind} {resp.status_code}: {resp.text[:300]}")


def site_client(site: SiteAccount, hub_url: str, args: argparse.Namespace) -> httpx.AsyncClient:
    """The site's own connection (made before the clock starts: each client costs the load
    generator tens of milliseconds of CPU, which would otherwise count as hub latency)."""
    return httpx.AsyncClient(base_url=hub_url, timeout=httpx.Timeout(args.timeout),
                             limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                             headers={"X-API-Key": site.api_key})


async def run_site(site: SiteAccount, client: httpx.AsyncClient, args: argparse.Namespace,
                   deadline: float, ledger: Ledger, stats: Stats) -> None:
    rng = random.Random(site.index)
    t0 = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=site.index)
    await asyncio.sleep(rng.uniform(0, max(1.0, args.interval)))  # sites are not in step
    async with client:
        seq = 0
        while time.perf_counter() < deadline:
            if args.epcis_every and seq % args.epcis_every == args.epcis_every - 1:
                doc = epcis_document(site, args.events, t0, seq, rng)
                ids = [e["eventID"] for e in doc["epcisBody"]["eventList"]]
                await deliver(client, EPCIS, "/traceability/capture", json.dumps(doc).encode(),
                              {"Content-Type": "application/json"}, ids, ledger, stats, rng,
                              args.attempts)
            else:
                batch = readings_batch(site, args.batch, t0, seq, rng)
                await deliver(client, READINGS, "/monitoring/readings",
                              json.dumps(batch).encode(),
                              {"Content-Type": "application/json",
                               "Idempotency-Key": f"load-{site.index}-{seq}"},
                              [r["reading_id"] for r in batch], ledger, stats, rng,
                              args.attempts)
            seq += 1
            if args.interval:
                await asyncio.sleep(args.interval)


async def warm_up(sites: list[SiteAccount], hub_url: str, args: argparse.Namespace,
                  ledgers: dict[str, Ledger]) -> None:
    """One message of each kind from a few sites, untimed: every worker builds its
    validators (the first EPCIS document costs a worker about 2 s) before the clock starts."""
    async def one(site: SiteAccount) -> None:
        rng, ledger, t0 = random.Random(-site.index), ledgers[site.site_id], datetime.now(UTC)
        async with site_client(site, hub_url, args) as client:
            doc = epcis_document(site, args.events, t0, -1, rng)
            await deliver(client, EPCIS, "/traceability/capture", json.dumps(doc).encode(),
                          {"Content-Type": "application/json"},
                          [e["eventID"] for e in doc["epcisBody"]["eventList"]], ledger,
                          Stats(), rng, args.attempts)
            batch = readings_batch(site, args.batch, t0, -1, rng)
            await deliver(client, READINGS, "/monitoring/readings", json.dumps(batch).encode(),
                          {"Content-Type": "application/json",
                           "Idempotency-Key": f"warm-up-{site.index}"},
                          [r["reading_id"] for r in batch], ledger, Stats(), rng, args.attempts)

    await asyncio.gather(*(one(s) for s in sites[:4 * args.workers]))


async def analyze_every(engine: Engine, seconds: float, until: float) -> int:
    """ANALYZE now and then: stands in for autovacuum where the server turns it off (a fresh
    database never analyzed plans the excursion look-up as a scan of the organization's events
    per event, which grows with every capture)."""
    runs = 0
    while True:
        await asyncio.to_thread(analyze, engine)
        runs += 1
        if time.perf_counter() + seconds >= until:
            return runs
        await asyncio.sleep(seconds)


def analyze(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
        conn.commit()


def autovacuum_on(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SHOW autovacuum")).scalar_one() == "on")


async def load(sites: list[SiteAccount], hub_url: str, args: argparse.Namespace,
               ledgers: dict[str, Ledger], engine: Engine | None) -> tuple[Stats, float]:
    stats = Stats()
    clients = [site_client(s, hub_url, args) for s in sites]
    start = time.perf_counter()
    deadline = start + args.seconds
    stand_in = [analyze_every(engine, args.analyze_every, deadline)] if engine else []
    await asyncio.gather(*stand_in, *(run_site(s, c, args, deadline, ledgers[s.site_id], stats)
                                      for s, c in zip(sites, clients, strict=True)))
    return stats, time.perf_counter() - start


# ---------------------------------------------------------------- reconciliation

@dataclass
class Reconciliation:
    kind: str
    acked: int
    stored: int
    lost: int  # acknowledged but not in the database
    duplicated: int  # stored more than once
    unexplained: int  # in the database but never sent by that site
    unacked_stored: int  # sent, not acknowledged (gave up), yet stored: allowed

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexplained)


READINGS_SQL = "SELECT site_id, reading_id FROM monitoring_reading"
EVENTS_SQL = ("SELECT c.site_id, e.event_id FROM trace_event e "
              "JOIN trace_capture c ON c.id = e.capture_id")


def reconcile(engine: Engine, ledgers: dict[str, Ledger]) -> list[Reconciliation]:
    out = []
    with engine.connect() as conn:
        for kind, sql in ((READINGS, READINGS_SQL), (EPCIS, EVENTS_SQL)):
            per_site: dict[str, Counter[str]] = defaultdict(Counter)
            for site_id, rid in conn.execute(sa.text(sql)):
                per_site[site_id][rid] += 1
            acked = stored = lost = dup = unexplained = unacked = 0
            for site_id in set(per_site) | set(ledgers):
                rows, ledger = per_site[site_id], ledgers.get(site_id, Ledger())
                ok_ids, sent = ledger.acked[kind], ledger.sent[kind]
                acked += len(ok_ids)
                stored += sum(rows.values())
                lost += len(ok_ids - rows.keys())
                dup += sum(n - 1 for n in rows.values())
                unexplained += len(rows.keys() - sent)
                unacked += len((rows.keys() & sent) - ok_ids)
            out.append(Reconciliation(kind, acked, stored, lost, dup, unexplained, unacked))
        keys_by_site: dict[str, int] = dict(conn.execute(sa.text(
            "SELECT site_id, COUNT(*) FROM site_idempotency GROUP BY site_id")).all())
    extra = sum(max(0, keys_by_site.get(sid, 0) - lg.acked_batches)
                for sid, lg in ledgers.items())
    missing = sum(max(0, lg.acked_batches - keys_by_site.get(sid, 0))
                  for sid, lg in ledgers.items())
    out.append(Reconciliation("idempotency keys", sum(lg.acked_batches for lg in
                                                      ledgers.values()),
                              sum(keys_by_site.values()), missing, 0, 0, extra))
    return out


# ---------------------------------------------------------------- raw baseline

def raw_baseline(engine: Engine, batch: int, events_per_doc: int) -> dict[str, float]:
    """Seconds to insert the same rows straight into copies of the tables (LIKE … INCLUDING
    ALL: same columns, defaults and indexes): ``executemany`` with one transaction per request
    (a telemetry batch; an EPCIS document's events, identifiers and sensor readings), then one
    ``COPY`` per table."""
    tables = ("monitoring_reading", "trace_event", "trace_event_epc", "trace_reading")
    with engine.connect() as conn:
        cols = {t: [c["name"] for c in sa.inspect(conn).get_columns(t)
                    if not (t == "monitoring_reading" and c["name"] == "id")] for t in tables}
    order = {"monitoring_reading": "id", "trace_event": "capture_id, id",
             "trace_event_epc": "event_pk", "trace_reading": "event_pk"}
    raw = engine.raw_connection()
    timings: dict[str, float] = {}
    try:
        cur = raw.cursor()
        rows: dict[str, list[tuple[Any, ...]]] = {}
        for t in tables:
            cur.execute(f"CREATE TABLE raw_{t} (LIKE {t} INCLUDING ALL)")
            cur.execute(f"SELECT {', '.join(cols[t])} FROM {t} ORDER BY {order[t]}")
            rows[t] = [tuple(json.dumps(v) if isinstance(v, dict | list) else v for v in r)
                       for r in cur.fetchall()]
        raw.commit()
        insert = {t: f"INSERT INTO raw_{t} ({', '.join(cols[t])}) VALUES "
                     f"({', '.join(['%s'] * len(cols[t]))})" for t in tables}
        readings = rows["monitoring_reading"]
        timings["rows readings"], timings["rows events"] = len(readings), len(rows["trace_event"])
        t0 = time.perf_counter()
        for i in range(0, len(readings), batch):
            cur.executemany(insert["monitoring_reading"], readings[i:i + batch])
            raw.commit()
        timings["executemany readings"] = time.perf_counter() - t0
        pk = cols["trace_event"].index("id")
        by_event: dict[str, dict[str, list[tuple[Any, ...]]]] = defaultdict(
            lambda: defaultdict(list))
        for t in ("trace_event_epc", "trace_reading"):
            at = cols[t].index("event_pk")
            for r in rows[t]:
                by_event[r[at]][t].append(r)
        events = rows["trace_event"]
        t0 = time.perf_counter()
        for i in range(0, len(events), events_per_doc):
            doc = events[i:i + events_per_doc]
            cur.executemany(insert["trace_event"], doc)
            for t in ("trace_event_epc", "trace_reading"):
                cur.executemany(insert[t], [r for e in doc for r in by_event[e[pk]][t]])
            raw.commit()
        timings["executemany events"] = time.perf_counter() - t0
        for kind, group in (("readings", tables[:1]), ("events", tables[1:])):
            for t in group:
                cur.execute(f"TRUNCATE raw_{t}")
            raw.commit()
            t0 = time.perf_counter()
            for t in group:
                with cur.copy(
                        f"COPY raw_{t} ({', '.join(cols[t])}) FROM STDIN") as copy:
                    for r in rows[t]:
                        copy.write_row(r)
            raw.commit()
            timings[f"copy {kind}"] = time.perf_counter() - t0
        for t in tables:
            cur.execute(f"DROP TABLE raw_{t}")
        raw.commit()
    finally:
        raw.close()
    return timings


# ---------------------------------------------------------------- report

def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def report(args: argparse.Namespace, stats: Stats, ledgers: dict[str, Ledger], elapsed: float,
           recs: list[Reconciliation], raw: dict[str, float], cpu: dict[str, float]) -> None:
    records = stats.records  # the timed part only (the reconciliation includes the warm-up)
    print(f"\n{args.sites} sites in {args.orgs} organizations, {args.seconds:.0f} s "
          f"(all done after {elapsed:.1f} s), hub: fedhub serve --workers {args.workers} on "
          f"PostgreSQL; telemetry {args.batch} readings/request, " + (
              f"EPCIS {args.events} events/document every {args.epcis_every}th message"
              if args.epcis_every > 1 else "only EPCIS" if args.epcis_every == 1
              else "no EPCIS") + f"; interval {args.interval:g} s")
    print(f"load average at start {cpu['load']:.2f}; CPU seconds: hub {cpu['hub']:.0f}, "
          f"load client {cpu['client']:.0f} ({os.cpu_count()} cores)")
    head = (f"{'':10} {'requests':>9} {'records':>9} {'records/s':>10} {'req/s':>7} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'retries':>8}  outcomes")
    print(head)
    total_lat: list[float] = []
    for kind in (READINGS, EPCIS):
        lat = stats.latency[kind]
        total_lat += lat
        outcomes = ", ".join(f"{o}×{n}" for (k, o), n in sorted(stats.outcomes.items())
                             if k == kind)
        print(f"{kind:10} {stats.requests[kind]:9d} {records[kind]:9d} "
              f"{records[kind] / elapsed:10,.0f} {stats.requests[kind] / elapsed:7.1f} "
              f"{pct(lat, 50):8.1f} {pct(lat, 95):8.1f} {pct(lat, 99):8.1f} "
              f"{stats.retries[kind]:8d}  {outcomes}")
    n_req, n_rec = sum(stats.requests.values()), sum(records.values())
    print(f"{'total':10} {n_req:9d} {n_rec:9d} {n_rec / elapsed:10,.0f} "
          f"{n_req / elapsed:7.1f} {pct(total_lat, 50):8.1f} {pct(total_lat, 95):8.1f} "
          f"{pct(total_lat, 99):8.1f} {sum(stats.retries.values()):8d}  "
          f"idempotent replays {stats.replays}")
    errors = Counter(o for (_, o), n in stats.outcomes.items() for _ in range(n)
                     if not o.startswith("2"))
    print("errors by status: " + (", ".join(f"{o}: {n}" for o, n in sorted(errors.items()))
                                  or "none"))
    for line in stats.bad_answers[:5]:
        print("  " + line)

    print("\nreconciliation (database rows per site vs what the hub acknowledged to it)")
    print(f"{'':17} {'acked':>8} {'stored':>8} {'lost':>6} {'duplicated':>11} "
          f"{'unexplained':>12} {'stored, not acked':>18}")
    for r in recs:
        print(f"{r.kind:17} {r.acked:8d} {r.stored:8d} {r.lost:6d} {r.duplicated:11d} "
              f"{r.unexplained:12d} {r.unacked_stored:18d}  {'OK' if r.ok else 'MISMATCH'}")

    print("\nbaseline: the same rows inserted straight into copies of the tables, one connection")
    print(f"{'':10} {'hub rec/s':>10} {'executemany rec/s':>18} {'COPY rec/s':>11} "
          f"{'hub/executemany':>16} {'hub/COPY':>9}")
    hub_total = em_total = cp_total = 0.0
    for kind, key in ((READINGS, "readings"), (EPCIS, "events")):
        n, hub_rate = raw[f"rows {key}"], records[kind] / elapsed
        em, cp = raw[f"executemany {key}"], raw[f"copy {key}"]
        hub_total, em_total, cp_total = hub_total + hub_rate, em_total + em, cp_total + cp
        print(f"{kind:10} {hub_rate:10,.0f} {n / em:18,.0f} {n / cp:11,.0f} "
              f"{hub_rate * em / n:16.3f} {hub_rate * cp / n:9.3f}")
    n = raw["rows readings"] + raw["rows events"]
    print(f"{'total':10} {hub_total:10,.0f} {n / em_total:18,.0f} {n / cp_total:11,.0f} "
          f"{hub_total * em_total / n:16.3f} {hub_total * cp_total / n:9.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the timed part")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--orgs", type=int, default=20, help="member organizations owning the sites")
    ap.add_argument("--batch", type=int, default=50, help="readings per telemetry request")
    ap.add_argument("--events", type=int, default=10, help="events per EPCIS document")
    ap.add_argument("--epcis-every", type=int, default=5,
                    help="every Nth message of a site is an EPCIS document (0: none)")
    ap.add_argument("--interval", type=float, default=0.0,
                    help="pause of each site between messages (0: back to back)")
    ap.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout per attempt (s)")
    ap.add_argument("--attempts", type=int, default=8, help="attempts per message")
    ap.add_argument("--analyze-every", type=float, default=15.0,
                    help="seconds between ANALYZE runs when the server's autovacuum is off")
    ap.add_argument("--database-url", default=None,
                    help="PostgreSQL URL of a database to create (must not exist)")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the database")
    args = ap.parse_args()
    args.orgs = max(1, min(args.orgs, args.sites))

    with tempfile.TemporaryDirectory(prefix="fedhub-load-") as tmp, \
            fresh_database(args.database_url, args.keep_db) as url:
        engine = make_engine(url)
        t0 = time.perf_counter()
        upgrade(url, engine=engine)
        t1 = time.perf_counter()
        sites = enroll_sites(engine, args.sites, args.orgs, Path(tmp))
        t2 = time.perf_counter()
        hub = HubProcess(url, args.workers, Path(tmp) / "hub").start()
        print(f"database {make_url(url).database} migrated in {t1 - t0:.1f} s; {len(sites)} "
              f"sites enrolled with their own API keys in {t2 - t1:.1f} s; hub ready in "
              f"{time.perf_counter() - t2:.1f} s")
        try:
            ledgers = {s.site_id: Ledger() for s in sites}
            asyncio.run(warm_up(sites, hub.url, args, ledgers))
            stand_in = None if autovacuum_on(engine) else engine
            if stand_in is not None:
                print(f"the server runs with autovacuum off: ANALYZE every "
                      f"{args.analyze_every:.0f} s stands in for it")
            cpu = {"load": os.getloadavg()[0], "hub": -hub.cpu_seconds(),
                   "client": -sum(resource.getrusage(resource.RUSAGE_SELF)[:2])}
            stats, elapsed = asyncio.run(load(sites, hub.url, args, ledgers, stand_in))
            cpu["hub"] += hub.cpu_seconds()
            cpu["client"] += sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        finally:
            hub.stop()
        if "Traceback" in hub.output():
            print("the hub logged a traceback:\n" + hub.output()[-3000:])
        recs = reconcile(engine, ledgers)
        raw = raw_baseline(engine, args.batch, args.events)
        engine.dispose()
        report(args, stats, ledgers, elapsed, recs, raw, cpu)
    failed = [r.kind for r in recs if not r.ok]
    if failed:
        print(f"\nFAILED: {', '.join(failed)} do not reconcile")
        return 1
    print("\nreconciled: every acknowledged record stored exactly once, nothing unexplained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
