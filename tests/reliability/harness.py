"""Fault-injection harness: the hub as a real ``fedhub serve`` process, a private PostgreSQL
server, fresh databases, enrolled sites and sites streaming messages with retries."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
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
from tests.deploy.procs import free_port

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
SHARED_SERVER = os.environ.get("FEDHUB_TEST_POSTGRES_URL",
                               "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def server_reachable(url: str) -> bool:
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                              connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


# ---------------------------------------------------------------- PostgreSQL

@contextlib.contextmanager
def fresh_database(server_url: str, label: str) -> Iterator[str]:
    """A new database ``fedhub_<label>_<pid>`` on the server, migrated; dropped afterwards."""
    name = f"fedhub_{label}_{os.getpid()}"
    base = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)  # the server may restart meanwhile
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(url, engine=engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class PrivatePostgres:
    """A PostgreSQL server of our own (initdb in a temporary directory, its own port), which
    a test may stop, crash and restart; never the shared server."""

    def __init__(self) -> None:
        initdb, self.pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not self.pg_ctl:
            raise RuntimeError("initdb/pg_ctl not found")
        self.dir = Path(tempfile.mkdtemp(prefix="fedhub-pg-"))
        self.data, self.log = self.dir / "data", self.dir / "server.log"
        self.port = free_port()
        # initdb refuses to run as root: run the server as the postgres user then
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self._run([initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
                   "-E", "UTF8"])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run([*self.as_user, *argv], capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {done.stdout}{done.stderr}")

    def start(self) -> None:
        assert self.pg_ctl
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                "-c max_connections=60 -c shared_buffers=32MB")
        self._run([self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w",
                   "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        """``fast``: clean shutdown; ``immediate``: no checkpoint, crash recovery on start."""
        assert self.pg_ctl
        self._run([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- sites

@dataclass
class SiteAccount:
    index: int
    site_id: str
    org_id: str
    code: str
    enterprise: str
    api_key: str


def enroll_sites(url: str, n: int, tmp: Path) -> list[SiteAccount]:
    """Active sites of one member organization, each with its own API key (sealed to the
    site's key pair and opened with it, as the agent does)."""
    engine = make_engine(url)
    out = []
    with Session(engine, expire_on_commit=False) as session:
        org = identity.create_organization(session, OrganizationCreate(name="Faults Pharma",
                                                                       kind="pharma"))
        admin = Principal("user", "faults", "faults", org.id, frozenset({"hub_admin"}))
        for i in range(n):
            priv, pub = keys.generate(tmp / f"site-keys-{i}")
            code = f"plant-{i:03d}"
            site = service.request_enrollment(session, admin, SiteCreate.model_validate({
                "name": f"Plant {i:03d}", "kind": "plant", "public_key": pub.read_text(),
                "location": {"enterprise": "faults-pharma", "site": code}}))
            with audit.reason(session, "fault tests"):
                site.status = SiteStatus.active
                session.add(site)
            credentials.issue_site_api_key(session, admin, site)
            delivery = session.get(CredentialDelivery, site.id)
            assert delivery is not None and delivery.sealed is not None
            secret = keys.open_sealed(keys.load_private(priv), delivery.sealed, site.id)
            out.append(SiteAccount(i, site.id, org.id, code, "faults-pharma", secret.decode()))
        session.commit()
    engine.dispose()
    return out


# ---------------------------------------------------------------- the hub process

def _group_alive(pgid: int) -> bool:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class HubProcess:
    """``fedhub serve`` (uvicorn, ``workers`` processes) in its own process group."""

    def __init__(self, database_url: str, home: Path, workers: int = 2,
                 app: str | None = None, env: dict[str, str] | None = None) -> None:
        """``app``: an application factory (``module:function``) for uvicorn to serve
        instead of ``fedhub serve``; ``env``: more environment variables."""
        self.database_url, self.home, self.workers, self.app = database_url, home, workers, app
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "hub.log"
        self.proc: subprocess.Popen[bytes] | None = None
        home.mkdir(parents=True, exist_ok=True)

    def start(self, timeout: float = 90) -> float:
        """Start (on the same port as before) and wait until /ready; the seconds it took."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDHUB_", "SITE_"))}
        env.update(FEDHUB_ENVIRONMENT="production", FEDHUB_SECRET_KEY="faults-" + "s" * 40,
                   FEDHUB_DATABASE_URL=self.database_url, FEDHUB_DATA_DIR=str(self.home),
                   FEDHUB_PUBLIC_URL=self.url, **self.extra_env)
        where = ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        argv = [str(BIN / "fedhub"), "serve", "--no-migrate", *where]
        if self.app:
            argv = [sys.executable, "-m", "uvicorn", self.app, "--factory", *where]
            env["PYTHONPATH"] = str(ROOT)
        began = time.monotonic()
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                         cwd=self.home, start_new_session=True)
        while time.monotonic() - began < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"hub exited ({self.proc.returncode}):\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return time.monotonic() - began
            time.sleep(0.2)
        raise AssertionError(f"hub not ready after {timeout:.0f} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Signal the server and every worker at once; wait until all of them are gone."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)

    def stop(self) -> None:
        self.signal(signal.SIGTERM)


# ---------------------------------------------------------------- sites streaming messages

def readings_batch(site: SiteAccount, n: int, seq: int, rng: random.Random
                   ) -> list[dict[str, Any]]:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    return [{"reading_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
             "site_id": site.code,
             "equipment": {"enterprise": site.enterprise, "site": site.code,
                           "area": "granulation", "unit": "line-1", "equipment": "fbd-101"},
             "timestamp": (t0 + timedelta(minutes=seq * n + j)).isoformat(),
             "measurements": {"vibration": {"value": round(2 + rng.gauss(0, 0.1), 3),
                                            "unit": "mm/s"}}}
            for j in range(n)]


def epcis_document(site: SiteAccount, n: int, seq: int, rng: random.Random) -> dict[str, Any]:
    here = f"urn:epc:id:sgln:9520123.{site.index:05d}.0"
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    events = []
    for j in range(n):
        when = (t0 + timedelta(minutes=seq * n + j)).isoformat().replace("+00:00", "Z")
        events.append({
            "type": "ObjectEvent", "action": "OBSERVE", "eventTime": when,
            "eventID": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "eventTimeZoneOffset": "+00:00", "bizStep": "shipping", "disposition": "in_transit",
            "epcList": [f"urn:epc:id:sgtin:9520123.{site.index:06d}.{seq * n + j}"],
            "readPoint": {"id": here}, "bizLocation": {"id": here},
            "sensorElementList": [{"sensorReport": [
                {"type": "Temperature", "uom": "CEL", "value": 5.0, "time": when}]}]})
    return {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": t0.isoformat().replace("+00:00", "Z"),
            "epcisBody": {"eventList": events}}


RETRY = {408, 429, 500, 502, 503, 504}


@dataclass
class Attempt:
    kind: str
    outcome: str  # status code or exception class
    content_type: str = ""
    body: str = ""


@dataclass
class SiteLedger:
    acked: dict[str, set[str]] = field(default_factory=lambda: {"readings": set(),
                                                                  "events": set()})
    sent: dict[str, set[str]] = field(default_factory=lambda: {"readings": set(),
                                                                 "events": set()})
    batches_acked: int = 0
    given_up: int = 0


class Streamer:
    """Sites sending back to back from threads: telemetry batches with an Idempotency-Key
    (every ``epcis_every``-th message an EPCIS document, idempotent by eventID). A failed
    attempt is retried with the same key and body until acknowledged (``give_up_after`` s)."""

    def __init__(self, hub_url: str, sites: list[SiteAccount], batch: int = 20,
                 epcis_every: int = 0, events: int = 5, timeout: float = 10,
                 give_up_after: float = 90) -> None:
        self.hub_url, self.sites, self.batch = hub_url, sites, batch
        self.epcis_every, self.events, self.timeout = epcis_every, events, timeout
        self.give_up_after = give_up_after
        self.ledgers = {s.site_id: SiteLedger() for s in sites}
        self.attempts: list[Attempt] = []
        self.replays = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(s,), daemon=True)
                         for s in sites]

    def start(self) -> Streamer:
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 120) -> None:
        """No new messages; the ones under way are delivered (or given up) first."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self._threads), "a site is still sending"

    def acked_messages(self) -> int:
        with self._lock:
            return sum(len(lg.acked["readings"]) // self.batch for lg in self.ledgers.values())

    def wait_for(self, more: int, timeout: float = 60) -> None:
        """Until ``more`` further telemetry batches were acknowledged."""
        target, began = self.acked_messages() + more, time.monotonic()
        while self.acked_messages() < target:
            assert time.monotonic() - began < timeout, (
                f"only {self.acked_messages()} of {target} batches acknowledged; last answers: "
                f"{self.attempts[-5:]}")
            time.sleep(0.05)

    def outcomes(self) -> Counter[str]:
        with self._lock:
            return Counter(a.outcome for a in self.attempts)

    def _run(self, site: SiteAccount) -> None:
        rng = random.Random(site.index)
        with httpx.Client(base_url=self.hub_url, timeout=self.timeout,
                          headers={"X-API-Key": site.api_key}) as client:
            seq = 0
            while not self._stop.is_set():
                if self.epcis_every and seq % self.epcis_every == self.epcis_every - 1:
                    doc = epcis_document(site, self.events, seq, rng)
                    ids = [e["eventID"] for e in doc["epcisBody"]["eventList"]]
                    self._deliver(client, site, "events", "/traceability/capture", doc, {},
                                  ids, rng)
                else:
                    batch = readings_batch(site, self.batch, seq, rng)
                    self._deliver(client, site, "readings", "/monitoring/readings", batch,
                                  {"Idempotency-Key": f"faults-{site.index}-{seq}"},
                                  [r["reading_id"] for r in batch], rng)
                seq += 1

    def _deliver(self, client: httpx.Client, site: SiteAccount, kind: str, path: str,
                 body: Any, headers: dict[str, str], ids: list[str],
                 rng: random.Random) -> None:
        ledger = self.ledgers[site.site_id]
        content = json.dumps(body).encode()
        with self._lock:
            ledger.sent[kind].update(ids)
        began, n = time.monotonic(), 0
        while time.monotonic() - began < self.give_up_after:
            try:
                resp = client.post(path, content=content,
                                   headers={"Content-Type": "application/json", **headers})
                attempt = Attempt(kind, str(resp.status_code),
                                  resp.headers.get("content-type", ""), resp.text[:500])
            except httpx.HTTPError as exc:
                resp, attempt = None, Attempt(kind, type(exc).__name__)
            with self._lock:
                self.attempts.append(attempt)
                if resp is not None and resp.status_code < 300:
                    ledger.acked[kind].update(ids)
                    ledger.batches_acked += kind == "readings"
                    self.replays += resp.headers.get("idempotent-replayed") == "true"
                    return
            if resp is not None and resp.status_code not in RETRY:
                break
            n += 1
            time.sleep(min(1.0, 0.05 * 2 ** n) * rng.uniform(0.5, 1.0))
        with self._lock:
            ledger.given_up += 1


# ---------------------------------------------------------------- reconciliation

def stored(engine: Engine) -> dict[str, dict[str, Counter[str]]]:
    """Per site: reading ids and event ids as stored (with multiplicity)."""
    out: dict[str, dict[str, Counter[str]]] = {}
    with engine.connect() as conn:
        for kind, sql in (("readings", "SELECT site_id, reading_id FROM monitoring_reading"),
                          ("events", "SELECT c.site_id, e.event_id FROM trace_event e "
                                     "JOIN trace_capture c ON c.id = e.capture_id")):
            for site_id, rid in conn.execute(sa.text(sql)):
                out.setdefault(site_id, {"readings": Counter(), "events": Counter()})
                out[site_id][kind][rid] += 1
    return out


def assert_exactly_once(engine: Engine, streamer: Streamer) -> dict[str, int]:
    """Every acknowledged record stored once, nothing stored that was not sent, every
    acknowledged telemetry batch has one idempotency record; totals by kind."""
    rows = stored(engine)
    totals: Counter[str] = Counter()
    for site in streamer.sites:
        ledger = streamer.ledgers[site.site_id]
        assert ledger.given_up == 0, f"{site.code} gave up on a message"
        have = rows.get(site.site_id, {"readings": Counter(), "events": Counter()})
        for kind in ("readings", "events"):
            dup = {k: n for k, n in have[kind].items() if n > 1}
            assert not dup, f"{site.code}: {kind} stored more than once: {dup}"
            missing = ledger.acked[kind] - have[kind].keys()
            assert not missing, f"{site.code}: {len(missing)} acknowledged {kind} lost"
            extra = have[kind].keys() - ledger.sent[kind]
            assert not extra, f"{site.code}: {len(extra)} {kind} stored that were never sent"
            # every message was acknowledged in the end, so what is stored is what was sent
            assert have[kind].keys() == ledger.sent[kind]
            totals[kind] += len(have[kind])
    with engine.connect() as conn:
        keys_by_site: dict[str, int] = dict(conn.execute(sa.text(
            "SELECT site_id, COUNT(*) FROM site_idempotency GROUP BY site_id")).all())
    for site in streamer.sites:
        assert keys_by_site.get(site.site_id, 0) == streamer.ledgers[site.site_id].batches_acked
    return dict(totals)
