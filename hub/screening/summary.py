"""Screen-wide counts and property distributions."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from hub.screening.results import Histogram, MoleculeResult, RecordFailure, ScreenSummary

# fixed bin edges keep histograms of different screens comparable
HISTOGRAM_EDGES: dict[str, list[float]] = {
    "mw": [float(x) for x in range(0, 1050, 50)],
    "clogp": [float(x) for x in range(-6, 11)],
    "tpsa": [float(x) for x in range(0, 220, 20)],
    "qed": [x / 10 for x in range(11)],
    "sa_score": [float(x) for x in range(1, 11)],
    "rotatable_bonds": [float(x) for x in range(0, 22, 2)],
    "fsp3": [x / 10 for x in range(11)],
}


def histogram(values: Sequence[float], edges: Sequence[float]) -> Histogram:
    """Counts per bin; values outside the edges land in the first or last bin."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    e = np.asarray(edges, dtype=float)
    counts = np.histogram(np.clip(v, e[0], e[-1]), bins=e)[0] if v.size else np.zeros(len(e) - 1)
    return Histogram(
        edges=[float(x) for x in e],
        counts=[int(c) for c in counts],
        n=int(v.size),
        mean=float(v.mean()) if v.size else None,
        median=float(np.median(v)) if v.size else None,
        minimum=float(v.min()) if v.size else None,
        maximum=float(v.max()) if v.size else None,
    )


def _auto_edges(values: Sequence[float], bins: int = 10) -> list[float]:
    finite = [x for x in values if math.isfinite(x)]
    if not finite:
        return [0.0, 1.0]
    lo, hi = min(finite), max(finite)
    if hi == lo:
        hi = lo + 1.0
    return [lo + (hi - lo) * k / bins for k in range(bins + 1)]


def summarize(
    molecules: Sequence[MoleculeResult], failures: Sequence[RecordFailure], records: int
) -> ScreenSummary:
    """Counts passing each rule, alert counts and property histograms."""
    s = ScreenSummary(records=records, failed=len(failures), unique=len(molecules))
    s.screened = sum(len(m.rows) for m in molecules)
    s.duplicates_merged = s.screened - s.unique
    families: Counter[str] = Counter()
    names: Counter[str] = Counter()
    in_domain: Counter[str] = Counter()
    for m in molecules:
        s.lipinski_pass += m.lipinski.passed
        s.veber_pass += m.veber.passed
        s.both_rules_pass += m.lipinski.passed and m.veber.passed
        s.alert_free += not m.alerts
        families.update({a.family for a in m.alerts})
        names.update({f"{a.family}: {a.name}" for a in m.alerts})
        for p in m.predictions:
            in_domain[p.name] += p.in_domain
    s.alert_families = dict(families.most_common())
    s.alert_names = dict(names.most_common(50))
    s.predictions_in_domain = dict(in_domain)
    for prop, edges in HISTOGRAM_EDGES.items():
        s.histograms[prop] = histogram([getattr(m.properties, prop) for m in molecules], edges)
    s.histograms["priority"] = histogram([m.priority for m in molecules], HISTOGRAM_EDGES["qed"])
    pred_names = sorted({p.name for m in molecules for p in m.predictions})
    for name in pred_names:
        vals = [p.value for m in molecules for p in m.predictions if p.name == name]
        s.histograms[f"pred:{name}"] = histogram(vals, _auto_edges(vals))
    return s
