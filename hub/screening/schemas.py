"""API shapes: screen options and submissions, screens with progress, results, ranking, errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.screening.alerts import DEFAULT_CATALOGS, FILTER_CATALOGS
from hub.screening.models import ScreenStatus
from hub.screening.ranking import RankingWeights

T = TypeVar("T")
MAX_TOP_N = 1000


class ScreenOptions(BaseModel):
    """Pipeline options of one screen (all optional; defaults suit a first look)."""

    model_config = ConfigDict(extra="forbid")
    canonical_tautomer: bool = Field(
        False, description="standardize to RDKit's canonical tautomer (slower)")
    max_tautomers: int = Field(100, ge=1, le=1000,
                               description="cap on tautomers/transforms enumerated per molecule")
    catalogs: list[str] = Field(default_factory=lambda: list(DEFAULT_CATALOGS),
                                description=f"alert catalogs, from {', '.join(FILTER_CATALOGS)}")
    weights: RankingWeights = Field(default_factory=RankingWeights)
    top_n: int = Field(50, ge=1, le=MAX_TOP_N, description="length of the diverse ranking")
    similarity_threshold: float = Field(
        0.7, ge=0, le=1, description="Tanimoto above which a molecule is too close to a pick")

    @field_validator("catalogs")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in FILTER_CATALOGS]
        if unknown:
            raise ValueError(f"unknown alert catalogs {unknown}; choose from "
                             f"{list(FILTER_CATALOGS)}")
        return list(dict.fromkeys(value))


class ScreenJSON(BaseModel):
    """A screen submitted as JSON: SMILES (and optional ids, one per SMILES)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    smiles: list[str] = Field(min_length=1, description="one structure per entry")
    ids: list[str] | None = Field(None, description="identifiers, same length as smiles")
    options: ScreenOptions = Field(default_factory=ScreenOptions)

    @model_validator(mode="after")
    def _same_length(self) -> ScreenJSON:
        if self.ids is not None and len(self.ids) != len(self.smiles):
            raise ValueError(f"ids has {len(self.ids)} entries, smiles {len(self.smiles)}")
        return self


class Progress(BaseModel):
    """How far a screen has come."""

    done: int
    total: int
    percent: float
    eta_seconds: float | None


class ScreenPublic(BaseModel):
    """A screen with its status, progress and the models it used."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    organization_id: str
    created_by: str
    created_by_name: str
    status: ScreenStatus
    status_reason: str | None
    input_format: str
    input_filename: str | None
    input_sha256: str
    options: dict[str, Any]
    models: list[dict[str, Any]]
    total: int
    done: int
    failed_count: int
    unique_count: int
    eta_seconds: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress


class Cancel(BaseModel):
    """Why the screen is cancelled (recorded in the audit trail)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field("cancelled by the submitter", min_length=3, max_length=2000)


class MoleculePublic(BaseModel):
    """One unique molecule of a screen with everything computed for it."""

    model_config = ConfigDict(from_attributes=True)
    idx: int
    row: int
    input_id: str
    n_inputs: int
    smiles: str
    input_smiles: str
    inchikey: str
    priority: float
    rank: int | None
    rank_reason: str | None
    mw: float
    clogp: float
    tpsa: float
    hbd: int
    hba: int
    rotatable_bonds: int
    aromatic_rings: int
    heavy_atoms: int
    fsp3: float
    qed: float
    sa_score: float
    passes_lipinski: bool
    passes_veber: bool
    violations: dict[str, list[str]]
    alert_count: int
    alerts: list[dict[str, Any]]
    predictions: list[dict[str, Any]]
    out_of_domain: int
    priority_terms: dict[str, float]
    standardization: list[str]


class MergedInput(BaseModel):
    """An input record (row and id) that standardized to this molecule."""

    row: int
    id: str


class MoleculeDetail(MoleculePublic):
    """A molecule with every input record merged into it."""

    inputs: list[MergedInput]


class RankedPublic(BaseModel):
    """One position of the diverse ranking and why it is there."""

    rank: int
    reason: str
    molecule: MoleculePublic


class ErrorPublic(BaseModel):
    """An input record that could not be screened."""

    model_config = ConfigDict(from_attributes=True)
    row: int
    input_id: str
    structure: str
    stage: str
    reason: str


class Page(BaseModel, Generic[T]):
    """One page of a longer list."""

    items: list[T]
    total: int
    page: int
    per_page: int
    pages: int


SortKey = Literal[
    "priority", "rank", "row", "mw", "clogp", "tpsa", "qed", "sa_score", "hbd", "hba",
    "rotatable_bonds", "heavy_atoms", "fsp3", "alert_count", "n_inputs",
]
SORT_KEYS: tuple[str, ...] = SortKey.__args__  # type: ignore[attr-defined]
