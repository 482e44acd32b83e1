"""Costs around federated training, each against a baseline measured in the same run.

1. Flower Simulation Engine vs an in-process FedAvg loop doing the same local training
   (molecular-property, 4 labs): wall time, engine start-up, seconds per round.
2. Featurization: the compact descriptor set vs all RDKit 2D descriptors (ms per molecule).
3. Edge scoring (equipment-anomaly): numpy `score_window` per reading vs a torch forward,
   p50 / p99 latency (goal: p99 well under 2 ms per reading).

    .venv/bin/python bench/federated_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.federation.engine import RunSpec, SimulationEngine  # noqa: E402
from site_agent.simulators.plant import simulate  # noqa: E402
from standards.tasks import equipment_anomaly as ea  # noqa: E402
from standards.tasks import molecular_property as mp  # noqa: E402
from standards.tasks.common import get_weights, merge_stats, set_weights  # noqa: E402
from standards.tasks.sensor_windows import sensor_errors  # noqa: E402

TRAIN = {"epochs": 3, "lr": 1e-3, "weight-decay": 1e-4, "batch-size": 32}


def in_process_fedavg(rounds: int) -> tuple[float, float]:
    """The same rounds without Flower: (seconds, final test RMSE)."""
    t0 = time.perf_counter()
    labs = [mp.load_partition(i, 4) for i in range(4)]
    test = mp.solubility_data("test")
    spec = mp.apply_stats(mp.default_spec(), merge_stats(mp.data_stats(lab) for lab in labs))
    model = mp.build_model(spec, 0)
    sizes = np.array([len(lab) for lab in labs], dtype=np.float64)
    for rnd in range(1, rounds + 1):
        updates = []
        for lab in labs:
            local = mp.build_model(spec)
            set_weights(local, get_weights(model))
            mp.TASK.fit(local, lab, spec, {**TRAIN, "server-round": rnd, "num-rounds": rounds})
            updates.append(get_weights(local))
        avg = [
            sum(w * u[j] for w, u in zip(sizes / sizes.sum(), updates, strict=True))
            for j in range(len(updates[0]))
        ]
        set_weights(model, [a.astype(np.float32) for a in avg])
        mp.evaluate(model, test.x, test.y)  # the Flower run evaluates centrally every round too
    return time.perf_counter() - t0, mp.evaluate(model, test.x, test.y)["rmse"]


def flower(rounds: int) -> None:
    """Simulation Engine vs in-process loop."""
    base_s, base_rmse = in_process_fedavg(rounds)
    times: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(ev: dict) -> None:
        times.setdefault(f"{ev['type']}:{ev.get('round', '')}", time.perf_counter() - t0)

    with tempfile.TemporaryDirectory(prefix="fh-ovh-") as work:
        res = SimulationEngine(work).run(
            RunSpec(
                task=mp.TASK_NAME,
                num_sites=4,
                num_rounds=rounds,
                min_sites=4,
                evaluate_every=0,
                train=dict(TRAIN),
                data={"holdout-fraction": 0.0},
            ),
            progress=progress,
        )
    total = time.perf_counter() - t0
    if res.status != "completed":
        raise SystemExit(f"run failed: {res.reason}")
    start = times["run_started:"]
    first, last = times["round_trained:1"], times[f"round_trained:{rounds}"]
    per_round = (last - first) / max(rounds - 1, 1)
    print(f"\n1. molecular-property FedAvg, 4 labs, {rounds} rounds x {TRAIN['epochs']} epochs")
    print(
        f"   in-process loop        {base_s:8.1f} s   ({base_s / rounds:.2f} s/round)"
        f"   test RMSE {base_rmse:.3f}"
    )
    print(
        f"   Flower Simulation      {total:8.1f} s   ({per_round:.2f} s/round)"
        f"   test RMSE {res.final_metrics['rmse']:.3f}"
    )
    print(f"   engine start-up (process + Ray + apps until the ServerApp starts): {start:.1f} s")
    print(f"   ratio total {total / base_s:.2f}x, per round {per_round / (base_s / rounds):.2f}x")


def featurization() -> None:
    """Compact descriptor set vs the full RDKit descriptor list."""
    from rdkit.Chem import Descriptors

    mols, _ = mp.load_solubility("train")
    sample = mols[:300]
    t0 = time.perf_counter()
    mp.featurize_mols(sample)
    compact = (time.perf_counter() - t0) / len(sample) * 1e3
    t0 = time.perf_counter()
    for m in sample:
        for _, fn in Descriptors.descList:
            fn(m)
    full = (time.perf_counter() - t0) / len(sample) * 1e3
    print(f"\n2. featurization of {len(sample)} molecules (Morgan counts + descriptors)")
    print(f"   compact set (featurize_mols)  {compact:6.2f} ms/mol")
    print(
        f"   all {len(Descriptors.descList)} RDKit descriptors     {full:6.2f} ms/mol"
        f"  -> compact is {full / compact:.1f}x cheaper"
    )


def torch_score(
    model: ea.WindowAutoencoder,
    cal: ea.Calibration,
    window: np.ndarray,
    norm: ea.Normalizer,
    e: int,
    hour: float,
) -> float:
    """Baseline: the same per-reading score through the torch model."""
    z = (window - norm.mean[e]) / norm.std[e]
    feats = ea.window_features(z, hour, norm.diff_std[e], 8.0)
    with torch.inference_mode():
        err = model.errors(torch.from_numpy(feats[None]))[0].numpy()
    return float((sensor_errors(err / cal.err_scale, model.window) / (model.window + 2)).max())


def edge_scoring(n: int = 3000) -> None:
    """Per-reading anomaly score latency at the site."""
    sim = simulate("plant-bench", 3, duration=timedelta(days=6), faults=4, seed=1)
    a = sim.arrays
    series = ea.SensorSeries(a.values, a.hours, a.fault, tuple(a.equipment_ids), 300)
    data = ea.PlantData.from_series(series)
    model = ea.build_model(data.spec)
    ea.train(model, data.train, epochs=1, lr=2e-3)
    cal = ea.calibrate(model, data.val, data.spec)
    scorer = ea.EdgeScorer(model, data.spec, cal)
    w = data.spec["window"]
    vals, hours = data.test.values, data.test.hours
    ends = np.random.default_rng(0).integers(w, vals.shape[1], n)
    lat_np, lat_torch = np.empty(n), np.empty(n)
    for i, t in enumerate(ends):
        e = int(t % vals.shape[0])
        t1 = time.perf_counter()
        ea.score_window(scorer, vals[e, t - w + 1 : t + 1], data.norm, e, float(hours[t]))
        lat_np[i] = time.perf_counter() - t1
        t1 = time.perf_counter()
        torch_score(model, cal, vals[e, t - w + 1 : t + 1], data.norm, e, float(hours[t]))
        lat_torch[i] = time.perf_counter() - t1
    p = lambda x, q: float(np.percentile(x, q) * 1e6)  # noqa: E731
    print(f"\n3. edge scoring, {n} readings (window {w} x 5 sensors)")
    print(f"   numpy score_window   p50 {p(lat_np, 50):7.1f} us   p99 {p(lat_np, 99):7.1f} us")
    print(
        f"   torch batch-of-one   p50 {p(lat_torch, 50):7.1f} us   p99 {p(lat_torch, 99):7.1f} us"
    )
    print(
        f"   p99 ratio torch/numpy {p(lat_torch, 99) / p(lat_np, 99):.2f}x; goal p99 < 2000 us: "
        f"{'PASS' if p(lat_np, 99) < 2000 else 'FAIL'}"
    )


def main() -> int:
    """Run all three measurements."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"fedhub overhead bench, {datetime.now().isoformat(timespec='seconds')}")
    flower(args.rounds)
    featurization()
    edge_scoring()
    return 0


if __name__ == "__main__":
    sys.exit(main())
