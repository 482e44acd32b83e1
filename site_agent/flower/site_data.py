"""Local data of a site for a federated task: simulated partitions or the site's own files."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from standards.tasks import equipment_anomaly as ea
from standards.tasks import molecular_property as mp


class SiteDataError(RuntimeError):
    """The site has no usable data for the task."""


def _holdout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.random.default_rng(seed).permutation(n)
    k = round(n * fraction)
    return np.sort(idx[k:]), np.sort(idx[:k])


@functools.lru_cache(maxsize=16)
def _molecular(key: tuple[Any, ...]) -> tuple[mp.MolecularData, mp.MolecularData]:
    source, a, b, split_seed, holdout = key
    if source == "partition":
        data = mp.load_partition(int(a), int(b), seed=int(split_seed))
    else:
        data = mp.read_labelled_molecules(str(a), label=str(b))
    if len(data) == 0:
        raise SiteDataError("no labelled molecules")
    tr, ho = _holdout_split(len(data), float(holdout), int(split_seed))
    return data.subset(tr), data.subset(ho if len(ho) else tr)


def _plant_series(sim_arrays: Any) -> ea.SensorSeries:
    return ea.SensorSeries(
        sim_arrays.values,
        sim_arrays.hours,
        sim_arrays.fault,
        tuple(sim_arrays.equipment_ids),
        int((sim_arrays.timestamps[1] - sim_arrays.timestamps[0]).total_seconds())
        if len(sim_arrays.timestamps) > 1
        else 300,
    )


def load_series_file(path: Path) -> ea.SensorSeries:
    """A plant's history: .npz (values, hours, fault, equipment_ids) or .jsonl readings."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            fault = z["fault"] if "fault" in z.files else None
            interval = int(z["interval_s"]) if "interval_s" in z.files else 300
            ids = tuple(str(x) for x in z["equipment_ids"])
            return ea.SensorSeries(z["values"], z["hours"], fault, ids, interval)
    readings = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    labels_path = path.with_suffix(".labels.json")
    labels = json.loads(labels_path.read_text()) if labels_path.exists() else []
    return ea.series_from_readings(readings, labels=labels)


@functools.lru_cache(maxsize=16)
def _plant(key: tuple[Any, ...]) -> ea.PlantData:
    source, a, _, seed, days, equipment, faults, spec_json = key
    spec = json.loads(spec_json)
    if source == "partition":
        from site_agent.simulators.plant import simulate

        sim = simulate(
            f"plant-{int(a) + 1:02d}",
            equipment_count=int(equipment),
            duration=timedelta(days=float(days)),
            faults=int(faults),
            seed=int(seed) + int(a),
        )
        series = _plant_series(sim.arrays)
    else:
        series = load_series_file(Path(str(a)))
    data = ea.PlantData.from_series(series, spec)
    if len(data.train) == 0 or len(data.val) == 0:
        raise SiteDataError("not enough normal readings for training and calibration")
    return data


def load_site_data(
    task: str, node_config: Mapping[str, Any], config: Mapping[str, Any], spec: Mapping[str, Any]
) -> tuple[Any, Any]:
    """(training data, evaluation data) for this node: simulated partition or `data-path`."""
    simulated = "partition-id" in node_config and "data-path" not in node_config
    seed = int(config.get("data-seed", 0))
    if task == mp.TASK_NAME:
        # sites evaluate on a held-out share of their molecules; 0 = train on all (evaluation
        # then reuses the training rows, so use it only when evaluation happens centrally)
        holdout = float(config.get("holdout-fraction", 0.2))
        if simulated:
            key = ("partition", node_config["partition-id"], node_config["num-partitions"])
        else:
            key = ("file", node_config["data-path"], node_config.get("label", "logS"))
        return _molecular((*key, seed, holdout))
    if task == ea.TASK_NAME:
        extra = (
            seed,
            float(config.get("plant-days", 21)),
            int(config.get("plant-equipment", 5)),
            int(config.get("plant-faults", 12)),
            json.dumps({k: spec[k] for k in sorted(spec)}),
        )
        if simulated:
            plant = _plant(("partition", node_config["partition-id"], 0, *extra))
        else:
            plant = _plant(("file", node_config["data-path"], 0, *extra))
        return plant, plant
    raise SiteDataError(f"this site has no data for task {task!r}")
