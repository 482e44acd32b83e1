"""One screen's job: engine chunks on the back-end, results stored in chunks as they arrive.

The engine's `process_chunk` runs on the back-end (the shared process pool by default);
this thread merges duplicates (first record on the molecule row, further records in
`screen_input`), bulk-inserts molecules and failures every chunk batch, and updates progress
(done / total, ETA) in short transactions of its own. At the end it ranks (`diverse_ranking`)
and summarises (`summarize`) with the engine's own functions and stores both.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from hub.audit import service as audit
from hub.config import Settings
from hub.db import Database, utcnow
from hub.screening import service
from hub.screening.alerts import AlertHit
from hub.screening.backends import ScreeningBackend, ScreeningCancelled, SerialBackend
from hub.screening.inputs import InputRecord
from hub.screening.models import Screen, ScreenError, ScreenInput, ScreenMolecule, ScreenStatus
from hub.screening.pipeline import ScreenConfig, process_chunk
from hub.screening.predictors import Predictor
from hub.screening.properties import Properties, RuleResult
from hub.screening.results import MoleculeResult, Prediction, RecordFailure

log = logging.getLogger("fedhub.screening")
RUNNER = audit.Actor(id="system:screening", name="screening job runner")
FLUSH_SECONDS = 1.0
ID_LEN = 200


def engine_config(options: dict[str, Any]) -> ScreenConfig:
    """The engine's config from stored screen options."""
    keys = ("canonical_tautomer", "max_tautomers", "catalogs", "weights", "top_n",
            "similarity_threshold")
    return ScreenConfig.model_validate({k: options[k] for k in keys if k in options})


def to_row(screen_id: str, idx: int, m: MoleculeResult) -> dict[str, Any]:
    """A molecule result as a `screen_molecule` row."""
    p = m.properties
    return {
        "screen_id": screen_id, "idx": idx, "row": m.rows[0], "input_id": m.ids[0][:ID_LEN],
        "n_inputs": len(m.rows), "smiles": m.smiles, "input_smiles": m.input_smiles,
        "inchikey": m.inchikey, "priority": m.priority, "rank": m.rank,
        "rank_reason": m.rank_reason, "mw": p.mw, "clogp": p.clogp, "tpsa": p.tpsa,
        "hbd": p.hbd, "hba": p.hba, "rotatable_bonds": p.rotatable_bonds,
        "aromatic_rings": p.aromatic_rings, "heavy_atoms": p.heavy_atoms, "fsp3": p.fsp3,
        "qed": p.qed, "sa_score": p.sa_score, "passes_lipinski": m.lipinski.passed,
        "passes_veber": m.veber.passed,
        "violations": {"lipinski": list(m.lipinski.violations),
                       "veber": list(m.veber.violations)},
        "alert_count": len(m.alerts), "alerts": [a.to_dict() for a in m.alerts],
        "predictions": [x.to_dict() for x in m.predictions],
        "out_of_domain": sum(not x.in_domain for x in m.predictions),
        "priority_terms": dict(m.priority_terms), "standardization": list(m.standardization),
    }


def from_row(r: ScreenMolecule, extra: Sequence[tuple[int, str]] = ()) -> MoleculeResult:
    """A stored molecule back as the engine's result (for export and depiction)."""
    props = Properties(mw=r.mw, clogp=r.clogp, tpsa=r.tpsa, hbd=r.hbd, hba=r.hba,
                       rotatable_bonds=r.rotatable_bonds, aromatic_rings=r.aromatic_rings,
                       heavy_atoms=r.heavy_atoms, fsp3=r.fsp3, qed=r.qed, sa_score=r.sa_score)
    v = r.violations or {}
    return MoleculeResult(
        rows=[r.row, *(x[0] for x in extra)], ids=[r.input_id, *(x[1] for x in extra)],
        input_smiles=r.input_smiles, smiles=r.smiles, inchikey=r.inchikey,
        standardization=list(r.standardization), properties=props,
        lipinski=RuleResult(r.passes_lipinski, list(v.get("lipinski", []))),
        veber=RuleResult(r.passes_veber, list(v.get("veber", []))),
        alerts=[AlertHit(a["family"], a["name"], tuple(a["atoms"])) for a in r.alerts],
        predictions=[Prediction(x["name"], x["property"], x["value"], x["in_domain"])
                     for x in r.predictions],
        priority=r.priority, priority_terms=dict(r.priority_terms), rank=r.rank,
        rank_reason=r.rank_reason)


def _chunks(records: Iterable[InputRecord], size: int) -> Iterator[list[InputRecord]]:
    it = iter(records)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _failure_row(screen_id: str, f: RecordFailure) -> dict[str, Any]:
    return {"screen_id": screen_id, "row": f.row, "input_id": f.id[:ID_LEN],
            "structure": f.structure[:2000], "stage": f.stage[:20], "reason": f.reason}


class ScreenJob:
    """Runs one claimed screen to its end."""

    def __init__(self, db: Database, settings: Settings, screen_id: str,
                 cancel_event: threading.Event, backend: ScreeningBackend | None = None,
                 predictors: Sequence[Predictor] | None = None) -> None:
        self.db, self.settings, self.screen_id = db, settings, screen_id
        self.cancel_event, self.backend, self.predictors = cancel_event, backend, predictors
        self.merged: dict[str, int] = {}
        self.molecules: list[MoleculeResult] = []
        self.failures: list[RecordFailure] = []
        self.n_records = 0
        self.t0 = time.monotonic()
        Rows = list[dict[str, Any]]
        self.pending: tuple[Rows, Rows, Rows] = ([], [], [])

    def _session(self) -> Session:
        session = self.db.session()
        audit.set_actor(session, RUNNER)
        return session

    def _start(self) -> tuple[Screen, list[Predictor]] | None:
        from hub.screening.model_source import describe, production_predictors

        with self._session() as session:
            screen = service.locked(session, self.screen_id)
            if screen is None or screen.status != ScreenStatus.queued:
                return None
            preds = (list(self.predictors) if self.predictors is not None
                     else production_predictors(session))
            with audit.reason(session, "models used for predictions"):
                screen.models = describe(preds)
            service.set_status(session, screen, ScreenStatus.running,
                               "started by the screening job runner")
            session.commit()
            return screen, preds

    def run(self) -> None:
        """Screen, store, rank and summarise; failures and cancellation are recorded."""
        started = self._start()
        if started is None:
            return
        screen, predictors = started
        try:
            self._screen(screen, predictors)
        except ScreeningCancelled:
            self._store()  # keep what was screened before the cancel
            self._finish(ScreenStatus.cancelled, None)
        except Exception as exc:
            log.exception("screen %s failed", self.screen_id)
            self._finish(ScreenStatus.failed, f"screening error: {type(exc).__name__}: {exc}")

    def _screen(self, screen: Screen, predictors: list[Predictor]) -> None:
        config = engine_config(screen.options)
        records = service.reader(screen, service.input_path(self.settings, screen))
        backend = self.backend
        if backend is None:
            from hub.screening.backends import default_backend

            backend = (SerialBackend() if screen.total <= config.chunk_size
                       else default_backend())
        fn = functools.partial(process_chunk, config=config, predictors=predictors)
        self.t0 = last = time.monotonic()
        pending_m, pending_i, pending_f = self.pending
        for part in backend.map_chunks(fn, _chunks(records, config.chunk_size), None,
                                       self.cancel_event, total=screen.total):
            self.n_records += len(part.failures) + len(part.molecules)
            pending_f += [_failure_row(self.screen_id, f) for f in part.failures]
            self.failures.extend(part.failures)
            for m in part.molecules:
                idx = self.merged.get(m.key)
                if idx is None:
                    idx = self.merged[m.key] = len(self.molecules)
                    self.molecules.append(m)
                    pending_m.append(to_row(self.screen_id, idx, m))
                else:
                    first = self.molecules[idx]
                    first.rows.extend(m.rows)
                    first.ids.extend(m.ids)
                    pending_i.append({"screen_id": self.screen_id, "row": m.rows[0],
                                      "input_id": m.ids[0][:ID_LEN], "molecule_idx": idx})
            now = time.monotonic()
            if now - last >= FLUSH_SECONDS:
                self._store()
                pending_m, pending_i, pending_f = self.pending
                last = now
        self._store()
        self._complete(config)

    def _store(self) -> None:
        """Insert the pending batch and advance progress, in one short transaction."""
        mols, inputs, fails = self.pending
        self.pending = ([], [], [])
        with self._session() as session:
            for table, rows in ((ScreenMolecule, mols), (ScreenInput, inputs),
                                (ScreenError, fails)):
                if rows:
                    session.execute(sa.insert(table), rows)
            screen = session.get(Screen, self.screen_id)
            assert screen is not None
            elapsed = time.monotonic() - self.t0
            screen.done = self.n_records
            screen.failed_count = len(self.failures)
            screen.unique_count = len(self.molecules)
            rate = self.n_records / elapsed if elapsed > 0 else 0
            left = max(0, screen.total - self.n_records)
            screen.eta_seconds = round(left / rate, 1) if rate > 0 else None
            screen.updated_at = utcnow()
            session.add(screen)
            session.commit()
            if screen.status == ScreenStatus.cancelled:
                self.cancel_event.set()  # cancelled through another process or request

    def _complete(self, config: ScreenConfig) -> None:
        from hub.screening.ranking import diverse_ranking
        from hub.screening.summary import summarize

        picks = diverse_ranking(self.molecules, config.top_n, config.similarity_threshold)
        summary = summarize(self.molecules, self.failures, self.n_records).to_dict()
        with self._session() as session:
            ranks = [{"s": self.screen_id, "i": p.index, "rank": p.rank, "reason": p.reason}
                     for p in picks]
            merged = [{"s": self.screen_id, "i": i, "n": len(m.rows)}
                      for i, m in enumerate(self.molecules) if len(m.rows) > 1]
            t = ScreenMolecule.__table__  # type: ignore[attr-defined]
            where = (t.c.screen_id == sa.bindparam("s")) & (t.c.idx == sa.bindparam("i"))
            if ranks:
                session.execute(t.update().where(where).values(
                    rank=sa.bindparam("rank"), rank_reason=sa.bindparam("reason")), ranks)
            if merged:
                session.execute(t.update().where(where).values(n_inputs=sa.bindparam("n")),
                                merged)
            screen = service.locked(session, self.screen_id)
            assert screen is not None
            screen.summary = summary
            screen.done = self.n_records
            if screen.status == ScreenStatus.running:
                service.set_status(
                    session, screen, ScreenStatus.completed,
                    f"screened {self.n_records} records: {len(self.molecules)} unique molecules, "
                    f"{len(self.failures)} failed, top {len(picks)} ranked")
            session.add(screen)
            session.commit()

    def _finish(self, status: ScreenStatus, why: str | None) -> None:
        with self._session() as session:
            screen = service.locked(session, self.screen_id)
            if screen is None:
                return
            screen.done = self.n_records
            screen.eta_seconds = None
            if screen.status == ScreenStatus.running:
                service.set_status(session, screen, status, why or status.value)
            session.add(screen)
            session.commit()
