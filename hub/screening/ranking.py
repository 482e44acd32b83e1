"""Priority scores from configurable weights, and a diverse ranked top-N with reasons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field
from rdkit import Chem, DataStructs

from hub.screening.alerts import AlertHit
from hub.screening.predictors import morgan_generator
from hub.screening.properties import Properties, RuleResult
from hub.screening.results import MoleculeResult, Prediction, RankedPick


class PredictionGoal(BaseModel):
    """How one model's prediction enters the priority: direction, useful range and weight."""

    weight: float = Field(1.0, ge=0)
    direction: Literal["up", "down"] = "up"  # "down" for toxicity-like properties
    low: float
    high: float

    def desirability(self, value: float) -> float:
        """Value mapped onto [0, 1], 1 being most desirable."""
        span = self.high - self.low
        x = 0.5 if span == 0 else min(1.0, max(0.0, (value - self.low) / span))
        return x if self.direction == "up" else 1.0 - x


class RankingWeights(BaseModel):
    """Weights of the priority score (desirabilities averaged, then penalties subtracted)."""

    qed: float = Field(1.0, ge=0, description="weight of QED (drug-likeness, up)")
    sa: float = Field(0.5, ge=0, description="weight of synthetic accessibility (easy is up)")
    predictions: dict[str, PredictionGoal] = Field(default_factory=dict)
    alert_penalty: float = Field(0.1, ge=0, description="subtracted per structural alert")
    max_alert_penalty: float = Field(0.3, ge=0)
    lipinski_penalty: float = Field(0.15, ge=0)
    veber_penalty: float = Field(0.1, ge=0)
    out_of_domain_shrink: float = Field(
        0.5, ge=0, le=1, description="out-of-domain predictions pull this far toward neutral"
    )


def priority_score(
    props: Properties,
    lipinski: RuleResult,
    veber: RuleResult,
    alerts: Sequence[AlertHit],
    predictions: Sequence[Prediction],
    weights: RankingWeights,
) -> tuple[float, dict[str, float]]:
    """Priority in [0, 1] and the contribution of each term."""
    terms: dict[str, float] = {}
    total_w = 0.0
    acc = 0.0
    parts: list[tuple[str, float, float]] = [
        ("qed", weights.qed, props.qed),
        ("sa", weights.sa, (10.0 - props.sa_score) / 9.0),
    ]
    for p in predictions:
        goal = weights.predictions.get(p.name)
        if goal is None:
            continue
        d = goal.desirability(p.value)
        if not p.in_domain:
            d = 0.5 + (d - 0.5) * (1.0 - weights.out_of_domain_shrink)
        parts.append((f"pred:{p.name}", goal.weight, d))
    for name, w, d in parts:
        if w > 0:
            terms[name] = round(w * d, 6)
            total_w += w
            acc += w * d
    score = acc / total_w if total_w else 0.5
    penalty = min(weights.max_alert_penalty, weights.alert_penalty * len(alerts))
    if penalty:
        terms["alerts"] = -penalty
    if not lipinski.passed and weights.lipinski_penalty:
        terms["lipinski"] = -weights.lipinski_penalty
        penalty += weights.lipinski_penalty
    if not veber.passed and weights.veber_penalty:
        terms["veber"] = -weights.veber_penalty
        penalty += weights.veber_penalty
    return max(0.0, min(1.0, score - penalty)), terms


def explain(m: MoleculeResult) -> str:
    """Short human-readable account of a molecule's priority."""
    bits = [f"QED {m.properties.qed:.2f}", f"SA {m.properties.sa_score:.1f}"]
    if m.alerts:
        names = sorted({a.name for a in m.alerts})
        bits.append(
            f"{len(m.alerts)} alert{'s' if len(m.alerts) > 1 else ''} ({', '.join(names[:3])})"
        )
    else:
        bits.append("no alerts")
    for rule, res in (("Lipinski", m.lipinski), ("Veber", m.veber)):
        if not res.passed:
            bits.append(f"fails {rule} ({'; '.join(res.violations)})")
    for p in m.predictions:
        domain = "in domain" if p.in_domain else "OUT of domain"
        bits.append(f"predicted {p.property} {p.value:.2f} ({domain})")
    return f"priority {m.priority:.2f}: " + ", ".join(bits)


def diverse_ranking(
    molecules: Sequence[MoleculeResult],
    top_n: int = 50,
    threshold: float = 0.7,
    max_scan: int = 100_000,
) -> list[RankedPick]:
    """Walk molecules by priority and pick those not too similar to an earlier pick.

    Similarity is Tanimoto on Morgan r2/2048 fingerprints. If fewer than `top_n` diverse
    molecules exist among the first `max_scan`, the rest is filled with the best skipped ones,
    marked as not diverse.
    """
    order = sorted(range(len(molecules)), key=lambda i: (-molecules[i].priority, molecules[i].row))
    gen = morgan_generator()
    picked: list[int] = []
    picked_fps: list[object] = []
    picks: list[RankedPick] = []
    skipped: list[tuple[int, int, float]] = []  # (index, most similar rank, similarity)
    for i in order[:max_scan]:
        if len(picks) >= top_n:
            break
        mol = Chem.MolFromSmiles(molecules[i].smiles)
        fp = gen.GetFingerprint(mol) if mol is not None else None
        best_rank, best_sim = None, None
        if fp is not None and picked_fps:
            sims = DataStructs.BulkTanimotoSimilarity(fp, picked_fps)
            j = max(range(len(sims)), key=sims.__getitem__)
            best_rank, best_sim = j + 1, float(sims[j])
        if best_sim is not None and best_rank is not None and best_sim > threshold:
            skipped.append((i, best_rank, best_sim))
            continue
        picked.append(i)
        picked_fps.append(fp)
        reason = explain(molecules[i])
        if best_sim is None:
            reason += "; first pick" if not picks else ""
        else:
            reason += f"; most similar picked #{best_rank} at {best_sim:.2f}"
        picks.append(_pick(len(picks) + 1, i, molecules[i], True, best_rank, best_sim, reason))
    for i, rank, sim in skipped:
        if len(picks) >= top_n:
            break
        reason = (
            f"{explain(molecules[i])}; filled: too few diverse candidates, "
            f"similar to picked #{rank} at {sim:.2f} (threshold {threshold:.2f})"
        )
        picks.append(_pick(len(picks) + 1, i, molecules[i], False, rank, sim, reason))
    for p in picks:
        molecules[p.index].rank = p.rank
        molecules[p.index].rank_reason = p.reason
    return picks


def _pick(
    rank: int,
    index: int,
    m: MoleculeResult,
    diverse: bool,
    sim_rank: int | None,
    sim: float | None,
    reason: str,
) -> RankedPick:
    return RankedPick(
        rank=rank,
        index=index,
        priority=m.priority,
        diverse=diverse,
        most_similar_rank=sim_rank,
        similarity=None if sim is None else round(sim, 4),
        reason=reason,
    )
