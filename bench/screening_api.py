"""Screening through the API end-to-end vs the engine alone vs the plain RDKit loop, one run.

The API side is the real thing: a hub under uvicorn on loopback with its own SQLite database,
the SMILES file POSTed over HTTP, the job thread on the engine's shared process pool storing
results in chunks, polled until completed, then the ranking fetched. All three sides compute
the same model prediction (ESOL log S with a Tanimoto applicability domain) on the same
molecules (RDKit's NCI first_5K.smi cycled to --n; see bench/screening_throughput.py).

    .venv/bin/python bench/screening_api.py --n 100000

Prints seconds and molecules per second for each side and `ratio: X` = loop / API wall time
(the product goal, 100k in <= 90 s where the loop needs ~180 s on 2 cores, is ratio >= 2).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import uvicorn
from screening_throughput import (
    AD_THRESHOLD,
    records,
    run_loop,
    training_smiles,
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_api(n_text: str, n: int, model: Any, data_dir: Path) -> tuple[float, dict[str, Any]]:
    """Seconds from POST to the ranking fetched, through a live hub; and the final screen."""
    from hub.app import create_app
    from hub.config import Settings
    from hub.db import Database
    from hub.identity import service as identity
    from hub.identity.schemas import OrganizationCreate, UserCreate
    from hub.migrations import upgrade
    from hub.screening.flows import ScreenRunner

    settings = Settings(environment="development", data_dir=data_dir, qualification_gates={},
                        max_body_bytes=256 * 1024 * 1024)
    db = Database(settings)
    upgrade(settings.database_url, engine=db.engine)
    password = "Screen-Perf-Pass-42!"
    with db.session() as s:
        org = identity.create_organization(s, OrganizationCreate(name="Bench Lab", kind="pharma",
                                                                 jurisdiction="EU"))
        identity.create_user(s, settings, UserCreate(
            username="bench", full_name="Bench", email="bench@example.org",
            organization_id=org.id, roles=["researcher"], password=password))
        s.commit()
    app = create_app(settings, db=db)
    runner = ScreenRunner(db, settings, predictors=[model])  # the shared pool, as in the hub
    runner.recovered = True
    app.state.screen_runner = runner
    port = _port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as c:
            tok = c.post("/auth/token", data={"username": "bench", "password": password})
            h = {"Authorization": f"Bearer {tok.json()['access_token']}"}
            t0 = time.perf_counter()
            resp = c.post("/screens", content=n_text.encode(),
                          headers={**h, "content-type": "chemical/x-daylight-smiles"})
            resp.raise_for_status()
            sid = resp.json()["id"]
            t_submit = time.perf_counter() - t0
            screen = resp.json()
            while screen["status"] in ("queued", "running"):
                time.sleep(0.25)
                screen = c.get(f"/screens/{sid}", headers=h).json()
            ranking = c.get(f"/screens/{sid}/ranking", headers=h).json()
            t = time.perf_counter() - t0
            screen["_submit_s"] = t_submit
            screen["_ranked"] = len(ranking)
            screen["_top"] = ranking[0]["molecule"]["inchikey"] if ranking else None
            t1 = time.perf_counter()
            size = len(c.get(f"/screens/{sid}/export.csv", headers=h).content)
            screen["_export_s"] = time.perf_counter() - t1
            screen["_export_bytes"] = size
    finally:
        server.should_exit = True
        thread.join(10)
    return t, screen


def main() -> None:
    """Loop, engine, API on the same molecules; print the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2, help="processes for loop and engine")
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--skip-loop", action="store_true")
    args = ap.parse_args()

    from hub.screening.backends import ProcessPoolBackend, default_backend
    from hub.screening.pipeline import ScreenConfig, ScreeningEngine
    from hub.screening.predictors import CallablePredictor, TanimotoDomain, esol_logs

    recs = records(args.n)
    text = "".join(f"{r.structure} {r.id}\n" for r in recs)
    train = training_smiles()
    model = CallablePredictor("esol", "logS", esol_logs,
                              domain=TanimotoDomain(train, threshold=AD_THRESHOLD))
    print(f"{args.n} molecules; loop and engine on {args.workers} processes; API on the hub's "
          f"shared pool ({default_backend().workers} workers)")
    walls: dict[str, float] = {}
    if not args.skip_loop:
        chunks = [recs[i:i + args.chunk] for i in range(0, len(recs), args.chunk)]
        t0 = time.perf_counter()
        run_loop(chunks, train, args.workers, "fork")
        walls["loop"] = time.perf_counter() - t0
        print(f"plain RDKit loop : {walls['loop']:7.1f} s  {args.n / walls['loop']:6.0f} mol/s")
    t0 = time.perf_counter()
    with ProcessPoolBackend(args.workers, start_method="fork") as backend:
        result = ScreeningEngine(ScreenConfig(chunk_size=args.chunk), [model], backend).run(recs)
    walls["engine"] = time.perf_counter() - t0
    print(f"engine alone     : {walls['engine']:7.1f} s  {args.n / walls['engine']:6.0f} mol/s  "
          f"({result.summary.unique} unique)")
    tmp = Path(tempfile.mkdtemp(prefix="fedhub-bench-api-"))
    try:
        walls["api"], screen = run_api(text, args.n, model, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"API end-to-end   : {walls['api']:7.1f} s  {args.n / walls['api']:6.0f} mol/s  "
          f"({screen['status']}, {screen['unique_count']} unique, {screen['_ranked']} ranked; "
          f"upload+count {screen['_submit_s']:.1f} s; CSV export {screen['_export_s']:.1f} s, "
          f"{screen['_export_bytes'] / 1e6:.0f} MB, not in the API time)")
    same = (screen["unique_count"] == result.summary.unique
            and screen["_top"] == (result.ranked_molecules()[0].inchikey
                                   if result.ranking else None))
    print(f"API and engine agree (unique count, top pick): {same}")
    print(f"API overhead over the engine: {walls['api'] / walls['engine']:.2f}x")
    if "loop" in walls:
        print(f"ratio: {walls['loop'] / walls['api']:.2f}")


if __name__ == "__main__":
    main()
