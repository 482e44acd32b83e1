"""The screening engine: per-chunk work (runs in workers) and the screen as a whole."""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, field_validator
from rdkit import Chem, rdBase

from hub.screening.alerts import (
    DEFAULT_CATALOGS,
    FILTER_CATALOGS,
    AlertHit,
    get_alert_matcher,
)
from hub.screening.backends import (
    ProgressCallback,
    ScreeningBackend,
    SerialBackend,
    default_backend,
)
from hub.screening.inputs import InputRecord
from hub.screening.patterns import MolFeatures
from hub.screening.predictors import Predictor
from hub.screening.properties import Properties, compute_properties, lipinski, veber
from hub.screening.ranking import RankingWeights, diverse_ranking, priority_score
from hub.screening.results import (
    MoleculeResult,
    Prediction,
    RecordFailure,
    ScreenResult,
)
from hub.screening.standardize import Standardizer, canonical_form, parse_structure
from hub.screening.summary import summarize


class ScreenConfig(BaseModel):
    """Options of one screen."""

    canonical_tautomer: bool = False
    max_tautomers: int = Field(100, ge=1)
    catalogs: tuple[str, ...] = DEFAULT_CATALOGS
    weights: RankingWeights = Field(default_factory=RankingWeights)
    top_n: int = Field(50, ge=1)
    similarity_threshold: float = Field(0.7, ge=0, le=1)
    chunk_size: int = Field(500, ge=1)

    @field_validator("catalogs")
    @classmethod
    def _known_catalogs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = set(FILTER_CATALOGS)
        unknown = [c for c in value if c not in known]
        if unknown:
            raise ValueError(f"unknown alert catalogs {unknown}; choose from {sorted(known)}")
        return value


@dataclass(slots=True)
class ChunkResult:
    """What a worker returns for one chunk."""

    molecules: list[MoleculeResult] = field(default_factory=list)
    failures: list[RecordFailure] = field(default_factory=list)


@functools.lru_cache(maxsize=4)
def _standardizer(canonical_tautomer: bool, max_tautomers: int) -> Standardizer:
    return Standardizer(canonical_tautomer, max_tautomers, max_tautomers)


def _fail(rec: InputRecord, stage: str, reason: str) -> RecordFailure:
    structure = rec.structure if rec.kind == "smiles" else ""
    return RecordFailure(rec.row, rec.id, structure, stage, reason)


def _input_smiles(rec: InputRecord, mol: Chem.Mol) -> str:
    return rec.structure if rec.kind == "smiles" else Chem.MolToSmiles(mol)


def process_chunk(
    records: Sequence[InputRecord],
    config: ScreenConfig,
    predictors: Sequence[Predictor] = (),
) -> ChunkResult:
    """Parse, standardize, compute properties, alerts, rules, predictions and priority."""
    out = ChunkResult()
    std = _standardizer(config.canonical_tautomer, config.max_tautomers)
    staged: list[tuple[InputRecord, Chem.Mol, str, str, str, list[str]]] = []
    with rdBase.BlockLogs():
        for rec in records:
            mol, reason = parse_structure(rec.structure, rec.kind)
            if mol is None:
                out.failures.append(_fail(rec, "parse", reason))
                continue
            try:
                clean, notes = std.standardize(mol)
                clean, smiles, key = canonical_form(clean)
            except Exception as exc:  # RDKit raises many types for exotic input
                out.failures.append(_fail(rec, "standardize", str(exc) or type(exc).__name__))
                continue
            staged.append((rec, clean, _input_smiles(rec, mol), smiles, key, notes))
        mols = [s[1] for s in staged]
        props, hits = _properties_and_alerts(mols, config.catalogs)
    preds = _predictions(mols, predictors)
    for k, (rec, _mol, input_smiles, smiles, key, notes) in enumerate(staged):
        p, h, pr = props[k], hits[k], preds[k]
        if p is None or h is None or pr is None:
            out.failures.append(_fail(rec, "properties", "property or alert calculation failed"))
            continue
        lip, veb = lipinski(p), veber(p)
        score, terms = priority_score(p, lip, veb, h, pr, config.weights)
        out.molecules.append(
            MoleculeResult(
                rows=[rec.row],
                ids=[rec.id],
                input_smiles=input_smiles,
                smiles=smiles,
                inchikey=key,
                standardization=notes,
                properties=p,
                lipinski=lip,
                veber=veb,
                alerts=h,
                predictions=pr,
                priority=round(score, 6),
                priority_terms=terms,
            )
        )
    return out


def _properties_and_alerts(
    mols: list[Chem.Mol], catalogs: tuple[str, ...]
) -> tuple[list[Properties | None], list[list[AlertHit] | None]]:
    """Batch calculation; a failing batch is retried molecule by molecule."""
    matcher = get_alert_matcher(tuple(catalogs))
    try:
        features = MolFeatures.of(mols)
        return list(compute_properties(mols, features)), list(matcher.match_many(mols, features))
    except Exception:
        props: list[Properties | None] = []
        hits: list[list[AlertHit] | None] = []
        for m in mols:
            try:
                props.append(compute_properties([m])[0])
                hits.append(matcher.match(m))
            except Exception:
                props.append(None)
                hits.append(None)
        return props, hits


def _predictions(
    mols: list[Chem.Mol], predictors: Sequence[Predictor]
) -> list[list[Prediction] | None]:
    out: list[list[Prediction] | None] = [[] for _ in mols]
    for model in predictors:
        try:
            values, flags = list(model.predict(mols)), list(model.in_domain(mols))
        except Exception:
            values, flags = [], []
            for m in mols:
                try:
                    values.append(model.predict([m])[0])
                    flags.append(model.in_domain([m])[0])
                except Exception:
                    values.append(float("nan"))
                    flags.append(False)
        for k, (v, f) in enumerate(zip(values, flags, strict=True)):
            slot = out[k]
            if slot is not None:
                slot.append(Prediction(model.name, model.property, float(v), bool(f)))
    return out


def _chunks(records: Iterable[InputRecord], size: int) -> Iterator[list[InputRecord]]:
    it = iter(records)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


class ScreeningEngine:
    """Screens molecules on a back-end and returns merged, ranked and summarised results.

    Without a back-end, screens that fit one chunk run in-process and larger ones on the
    shared process pool (`default_backend()`, one worker per core). Predictors travel to the
    workers with every chunk, so they must be picklable.
    """

    def __init__(
        self,
        config: ScreenConfig | None = None,
        predictors: Sequence[Predictor] = (),
        backend: ScreeningBackend | None = None,
    ) -> None:
        self.config = config or ScreenConfig()
        self.predictors = list(predictors)
        self.backend = backend

    def _backend_for(self, total: int | None) -> ScreeningBackend:
        if self.backend is not None:
            return self.backend
        if total is not None and total <= self.config.chunk_size:
            return SerialBackend()  # one chunk: not worth shipping to another process
        return default_backend()

    def run(
        self,
        records: Iterable[InputRecord],
        *,
        total: int | None = None,
        progress_cb: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
    ) -> ScreenResult:
        """Screen the records; raises `ScreeningCancelled` if cancelled."""
        if total is None and isinstance(records, Sequence):
            total = len(records)
        fn = functools.partial(process_chunk, config=self.config, predictors=self.predictors)
        merged: dict[str, MoleculeResult] = {}
        failures: list[RecordFailure] = []
        n_records = 0
        backend = self._backend_for(total)
        for part in backend.map_chunks(
            fn, _chunks(records, self.config.chunk_size), progress_cb, cancel_event, total=total
        ):
            failures.extend(part.failures)
            n_records += len(part.failures) + len(part.molecules)
            for m in part.molecules:
                seen = merged.get(m.key)
                if seen is None:
                    merged[m.key] = m
                else:
                    seen.rows.extend(m.rows)
                    seen.ids.extend(m.ids)
        molecules = list(merged.values())
        ranking = diverse_ranking(molecules, self.config.top_n, self.config.similarity_threshold)
        summary = summarize(molecules, failures, n_records)
        return ScreenResult(molecules, failures, ranking, summary)


def screen(
    records: Iterable[InputRecord],
    config: ScreenConfig | None = None,
    predictors: Sequence[Predictor] = (),
    backend: ScreeningBackend | None = None,
    **run_kwargs: object,
) -> ScreenResult:
    """One-call screen with an engine built on the spot."""
    engine = ScreeningEngine(config, predictors, backend)
    return engine.run(records, **run_kwargs)  # type: ignore[arg-type]
