"""Result records of a screen: per molecule, per failed record, ranking and summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.screening.alerts import AlertHit
from hub.screening.properties import Properties, RuleResult


@dataclass(slots=True)
class Prediction:
    """One model's prediction for a molecule and whether it lies in the model's domain."""

    name: str
    property: str
    value: float
    in_domain: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "name": self.name,
            "property": self.property,
            "value": self.value,
            "in_domain": self.in_domain,
        }


@dataclass(slots=True)
class MoleculeResult:
    """Everything computed for one unique (standardized) molecule of a screen."""

    rows: list[int]
    ids: list[str]
    input_smiles: str
    smiles: str
    inchikey: str
    standardization: list[str]
    properties: Properties
    lipinski: RuleResult
    veber: RuleResult
    alerts: list[AlertHit]
    predictions: list[Prediction]
    priority: float
    priority_terms: dict[str, float]
    rank: int | None = None
    rank_reason: str | None = None

    @property
    def key(self) -> str:
        """Identity used to merge duplicates: InChIKey, else canonical SMILES."""
        return self.inchikey or self.smiles

    @property
    def row(self) -> int:
        """First input row of this molecule."""
        return self.rows[0]

    @property
    def id(self) -> str:
        """First input id of this molecule."""
        return self.ids[0]

    def prediction(self, name: str) -> Prediction | None:
        """The prediction of the named model, if any."""
        return next((p for p in self.predictions if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "rows": list(self.rows),
            "ids": list(self.ids),
            "input_smiles": self.input_smiles,
            "smiles": self.smiles,
            "inchikey": self.inchikey,
            "standardization": list(self.standardization),
            "properties": self.properties.to_dict(),
            "lipinski": self.lipinski.to_dict(),
            "veber": self.veber.to_dict(),
            "alerts": [a.to_dict() for a in self.alerts],
            "predictions": [p.to_dict() for p in self.predictions],
            "priority": self.priority,
            "priority_terms": dict(self.priority_terms),
            "rank": self.rank,
            "rank_reason": self.rank_reason,
        }


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """An input record that could not be screened, with the reason RDKit gave."""

    row: int
    id: str
    structure: str
    stage: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "row": self.row,
            "id": self.id,
            "structure": self.structure,
            "stage": self.stage,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class RankedPick:
    """One position of the diverse ranking."""

    rank: int
    index: int  # position in ScreenResult.molecules
    priority: float
    diverse: bool
    most_similar_rank: int | None
    similarity: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "rank": self.rank,
            "index": self.index,
            "priority": self.priority,
            "diverse": self.diverse,
            "most_similar_rank": self.most_similar_rank,
            "similarity": self.similarity,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Histogram:
    """Distribution of one numeric property over the unique molecules of a screen."""

    edges: list[float]
    counts: list[int]
    n: int
    mean: float | None
    median: float | None
    minimum: float | None
    maximum: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "edges": list(self.edges),
            "counts": list(self.counts),
            "n": self.n,
            "mean": self.mean,
            "median": self.median,
            "min": self.minimum,
            "max": self.maximum,
        }


@dataclass(slots=True)
class ScreenSummary:
    """Counts and distributions over a whole screen."""

    records: int = 0
    screened: int = 0
    failed: int = 0
    unique: int = 0
    duplicates_merged: int = 0
    lipinski_pass: int = 0
    veber_pass: int = 0
    both_rules_pass: int = 0
    alert_free: int = 0
    alert_families: dict[str, int] = field(default_factory=dict)
    alert_names: dict[str, int] = field(default_factory=dict)
    predictions_in_domain: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "records": self.records,
            "screened": self.screened,
            "failed": self.failed,
            "unique": self.unique,
            "duplicates_merged": self.duplicates_merged,
            "lipinski_pass": self.lipinski_pass,
            "veber_pass": self.veber_pass,
            "both_rules_pass": self.both_rules_pass,
            "alert_free": self.alert_free,
            "alert_families": dict(self.alert_families),
            "alert_names": dict(self.alert_names),
            "predictions_in_domain": dict(self.predictions_in_domain),
            "histograms": {k: h.to_dict() for k, h in self.histograms.items()},
        }


@dataclass(slots=True)
class ScreenResult:
    """The outcome of one screen."""

    molecules: list[MoleculeResult]
    failures: list[RecordFailure]
    ranking: list[RankedPick]
    summary: ScreenSummary

    def ranked_molecules(self) -> list[MoleculeResult]:
        """Molecules in ranking order."""
        return [self.molecules[p.index] for p in self.ranking]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "molecules": [m.to_dict() for m in self.molecules],
            "failures": [f.to_dict() for f in self.failures],
            "ranking": [p.to_dict() for p in self.ranking],
            "summary": self.summary.to_dict(),
        }
