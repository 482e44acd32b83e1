"""Hub ingest rate of shared sensor readings vs a raw INSERT of the same rows, same run.

The hub path is ``POST /monitoring/readings`` on the real application (in-process ASGI):
API-key authentication, the site check, the idempotency record, validation of every reading
against ``sensor-reading/1.0.0`` and the insert that skips duplicates. The baseline inserts
the very same rows into the same table with one ``executemany`` per batch and nothing else.
Both write to a fresh database of the chosen backend.

    .venv/bin/python bench/hub_ingest.py [--readings 20000] [--batch 500]
        [--database-url postgresql://postgres@127.0.0.1:5432/fedhub_bench]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from hub.app import create_app
from hub.audit import service as audit
from hub.config import Settings
from hub.db import Database, utcnow
from hub.identity import service as identity
from hub.identity.principal import Principal
from hub.identity.schemas import OrganizationCreate
from hub.migrations import upgrade
from hub.monitoring.models import Reading
from hub.sites import credentials, service
from hub.sites.models import CredentialDelivery, SiteStatus
from hub.sites.schemas import SiteCreate
from site_agent import keys
from site_agent.simulators.plant import simulate
from standards import registry


def fresh_database(url: str | None, tmp: Path) -> str:
    if not url:
        return f"sqlite:///{tmp / 'bench.db'}"
    u = make_url(url)
    admin = sa.create_engine(u.set(drivername="postgresql+psycopg", database="postgres"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()
    return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def active_site(db: Database, tmp: Path) -> tuple[str, str]:
    """An approved site with its API key: (site id, key)."""
    _, pub = keys.generate(tmp / "keys")
    with db.session() as session:
        org = identity.create_organization(session, OrganizationCreate(name="Bench Pharma",
                                                                       kind="pharma"))
        admin = Principal("user", "bench", "bench", org.id, frozenset({"hub_admin"}))
        site = service.request_enrollment(session, admin, SiteCreate.model_validate({
            "name": "Bench Plant", "kind": "plant", "public_key": pub.read_text(),
            "location": {"enterprise": "acme-pharma", "site": "plant-bench"}}))
        with audit.reason(session, "bench"):
            site.status = SiteStatus.active
            session.add(site)
        credentials.issue_site_api_key(session, admin, site)
        delivery = session.get(CredentialDelivery, site.id)
        assert delivery is not None and delivery.sealed is not None
        secret = keys.open_sealed(keys.load_private(tmp / "keys" / keys.PRIVATE_NAME),
                                  delivery.sealed, site.id)
        session.commit()
        return site.id, secret.decode()


def row_of(site_id: str, r: dict[str, Any], now: Any) -> dict[str, Any]:
    eq = r["equipment"]
    return {"site_id": site_id, "reading_id": r["reading_id"],
            "asset_path": "/".join((eq["enterprise"], eq["site"], eq["area"], eq["unit"],
                                    eq["equipment"])),
            "ts": r["timestamp"], "measurements": json.dumps(r["measurements"]),
            "schema_id": "sensor-reading/1.0.0", "received_at": now}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite)")
    args = ap.parse_args()
    sim = simulate(plant_id="plant-bench", n_readings=2 * args.readings, equipment_count=8,
                   interval_s=60, duration=timedelta(days=1), seed=5)
    readings = [r for r, _ in sim][: 2 * args.readings]
    ours, theirs = readings[: args.readings], readings[args.readings:]
    batches = [ours[i:i + args.batch] for i in range(0, len(ours), args.batch)]
    registry.get("sensor-reading", "1.0.0")  # build the registry outside the timings
    bodies = [json.dumps(b).encode() for b in batches]

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database_url, Path(tmp))
        settings = Settings(environment="test", data_dir=Path(tmp), secret_key="b" * 40,
                            database_url=url)
        db = Database(settings)
        upgrade(url, engine=db.engine)
        site_id, api_key = active_site(db, Path(tmp))
        backend = db.engine.dialect.name

        with TestClient(create_app(settings, db=db)) as client:
            t0 = time.perf_counter()
            for body in bodies:
                resp = client.post("/monitoring/readings", content=body, headers={
                    "X-API-Key": api_key, "Idempotency-Key": str(uuid.uuid4()),
                    "Content-Type": "application/json"})
                assert resp.status_code == 201, resp.text
            hub_s = time.perf_counter() - t0

        std = registry.get("sensor-reading", "1.0.0")
        t0 = time.perf_counter()
        for body in bodies:
            assert all(r.ok for r in std.validate_json_batch(body))  # type: ignore[attr-defined]
        validate_s = time.perf_counter() - t0

        table = Reading.__table__  # type: ignore[attr-defined]
        now = utcnow()
        raw_batches = [[row_of(site_id, r, now) for r in theirs[i:i + args.batch]]
                       for i in range(0, len(theirs), args.batch)]
        stmt = sa.text(f"INSERT INTO {table.name} (site_id, reading_id, asset_path, ts, "
                       "measurements, schema_id, received_at) VALUES (:site_id, :reading_id, "
                       ":asset_path, :ts, :measurements, :schema_id, :received_at)")
        t0 = time.perf_counter()
        for rows in raw_batches:
            with db.engine.begin() as conn:
                conn.execute(stmt, rows)
        raw_s = time.perf_counter() - t0
        with db.engine.connect() as conn:
            stored = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table.name}")).scalar_one()
        db.engine.dispose()

    n = args.readings
    print(f"backend {backend}; {n} readings per path in batches of {args.batch} "
          f"({len(batches)} requests); {stored} rows stored in total")
    print(f"{'path':44} {'readings/s':>12} {'ms/batch':>10}")
    print(f"{'raw INSERT of the same rows (baseline)':44} {n / raw_s:12,.0f} "
          f"{raw_s / len(raw_batches) * 1000:10.1f}")
    print(f"{'POST /monitoring/readings (auth+validate)':44} {n / hub_s:12,.0f} "
          f"{hub_s / len(batches) * 1000:10.1f}")
    print(f"{'  of which: standard validation alone':44} {n / validate_s:12,.0f} "
          f"{validate_s / len(batches) * 1000:10.1f}")
    print(f"ratio hub / raw INSERT: {raw_s / hub_s:.2f} (hub reaches {raw_s / hub_s:.0%} of the "
          f"raw insert rate; {hub_s / raw_s:.1f}× the time)")


if __name__ == "__main__":
    main()
