"""Screening service: submit (validate input and options), access per organization, cancel,
results queries (filter, sort, paginate), ranking, errors, depictions and export rows."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, func, select

from hub.audit import service as audit
from hub.config import Settings
from hub.db import utcnow
from hub.errors import Conflict, HubError, NotFound, PayloadTooLarge, ValidationFailed, field_errors
from hub.identity.principal import Principal
from hub.screening.inputs import MAX_RECORDS, ScreenInputError, iter_records
from hub.screening.models import (
    FINISHED,
    Screen,
    ScreenError,
    ScreenInput,
    ScreenMolecule,
    ScreenStatus,
)
from hub.screening.schemas import SORT_KEYS, ScreenOptions

EXTENSIONS = {"smiles": ".smi", "csv": ".csv", "sdf": ".sdf"}


class UnsupportedMediaType(HubError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


@dataclass
class Submission:
    """A spooled input file and how to read it."""

    path: Path
    sha256: str
    fmt: str | None = None
    filename: str | None = None
    name: str | None = None
    options: ScreenOptions = field(default_factory=ScreenOptions)
    smiles_column: str | None = None
    id_column: str | None = None
    id_property: str | None = None


def screens_dir(settings: Settings) -> Path:
    """Where screen inputs are kept."""
    return Path(settings.data_dir) / "screens"


def parse_options(raw: Any, pointer: str = "/options") -> ScreenOptions:
    """Validated options; 422 naming each offending field."""
    try:
        return ScreenOptions.model_validate(raw or {})
    except ValidationError as exc:
        errs = field_errors(list(exc.errors()))
        for e in errs:
            e["pointer"] = pointer + e["pointer"]
        raise ValidationFailed(f"Invalid screen options: {', '.join(e['pointer'] for e in errs)}",
                               errors=errs) from exc


def input_error(exc: ScreenInputError) -> HubError:
    """The problem document for an input that cannot be read at all."""
    pointer = "/" + (exc.field or "file")
    errors = [{"pointer": pointer, "message": exc.detail, "type": exc.code}]
    if exc.code == "unknown-format":
        return UnsupportedMediaType(exc.detail, errors=errors, input_error=exc.code)
    if exc.code == "too-many-records":
        return PayloadTooLarge(exc.detail, errors=errors, input_error=exc.code)
    return ValidationFailed(exc.detail, errors=errors, input_error=exc.code)


def reader(screen: Screen, path: Path) -> Iterator[Any]:
    """The input records of a screen (streamed from its file)."""
    o = screen.options
    return iter_records(path, screen.input_format, filename=screen.input_filename,  # type: ignore[arg-type]
                        smiles_column=o.get("smiles_column"), id_column=o.get("id_column"),
                        id_property=o.get("id_property"))


def input_path(settings: Settings, screen: Screen) -> Path:
    """The stored input file of a screen."""
    return screens_dir(settings) / screen.id / ("input" + EXTENSIONS[screen.input_format])


def create_screen(session: Session, settings: Settings, who: Principal, sub: Submission) -> Screen:
    """Count and check the input (one streaming pass), store it, create the queued screen."""
    from hub.screening.inputs import detect_format

    try:
        fmt = sub.fmt
        if fmt is None:
            with sub.path.open("r", encoding="utf-8-sig", errors="replace") as fh:
                head = "".join(fh.readline() for _ in range(20))
            fmt = detect_format(head, sub.filename)
        records = iter_records(sub.path, fmt, filename=sub.filename,  # type: ignore[arg-type]
                               smiles_column=sub.smiles_column, id_column=sub.id_column,
                               id_property=sub.id_property, max_records=MAX_RECORDS)
        total = sum(1 for _ in records)
    except ScreenInputError as exc:
        sub.path.unlink(missing_ok=True)
        raise input_error(exc) from exc
    options = sub.options.model_dump(mode="json")
    options.update({k: v for k, v in (("smiles_column", sub.smiles_column),
                                      ("id_column", sub.id_column),
                                      ("id_property", sub.id_property)) if v})
    screen = Screen(organization_id=who.org_id, created_by=who.id, created_by_name=who.name,
                    name=(sub.name or sub.filename or f"screen of {total} molecules")[:200],
                    input_format=fmt, input_filename=sub.filename, input_sha256=sub.sha256,
                    options=options, total=total)
    dest = input_path(settings, screen)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(sub.path, dest)
    session.add(screen)
    try:
        session.flush()
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return screen


def get_screen(session: Session, who: Principal, screen_id: str) -> Screen:
    """A screen of the caller's organization (404 for everyone else)."""
    screen = session.get(Screen, screen_id)
    if screen is None or screen.organization_id != who.org_id:
        raise NotFound(f"Screen {screen_id} not found")
    return screen


def locked(session: Session, screen_id: str) -> Screen | None:
    """The screen row, locked until commit (PostgreSQL; SQLite transactions are exclusive)."""
    return session.exec(select(Screen).where(Screen.id == screen_id).with_for_update()
                        .execution_options(populate_existing=True)).first()


def list_screens(session: Session, who: Principal, limit: int = 100) -> list[Screen]:
    """The organization's screens, newest first."""
    stmt = (select(Screen).where(Screen.organization_id == who.org_id)
            .order_by(col(Screen.created_at).desc()).limit(limit))
    return list(session.exec(stmt))


def set_status(session: Session, screen: Screen, status: ScreenStatus, why: str) -> None:
    """Audited status change."""
    with audit.reason(session, why):
        screen.status = status
        screen.status_reason = why
        now = utcnow()
        if status == ScreenStatus.running:
            screen.started_at = now
        if status in FINISHED:
            screen.finished_at = now
            screen.eta_seconds = None
        screen.updated_at = now
        session.add(screen)
        session.flush()


def cancel(session: Session, who: Principal, screen_id: str, reason: str) -> Screen:
    """Cancel a queued or running screen (audited); results so far are kept."""
    get_screen(session, who, screen_id)
    screen = locked(session, screen_id)  # the job runner changes status too
    assert screen is not None
    if screen.status in FINISHED:
        status = ScreenStatus(screen.status).value
        raise Conflict(f"Screen is already {status}",
                       errors=[{"pointer": "/status", "message": status}])
    set_status(session, screen, ScreenStatus.cancelled, reason)
    return screen


def progress(screen: Screen) -> dict[str, Any]:
    """Done/total, percent and ETA."""
    pct = 100.0 * screen.done / screen.total if screen.total else 0.0
    return {"done": screen.done, "total": screen.total, "percent": round(pct, 1),
            "eta_seconds": screen.eta_seconds}


# --- results -------------------------------------------------------------------------
FILTERS: dict[str, tuple[str, str]] = {  # query name -> (column, op)
    "passes_lipinski": ("passes_lipinski", "eq"), "passes_veber": ("passes_veber", "eq"),
    "min_qed": ("qed", "ge"), "max_qed": ("qed", "le"), "min_mw": ("mw", "ge"),
    "max_mw": ("mw", "le"), "min_priority": ("priority", "ge"), "max_sa_score": ("sa_score", "le"),
    "max_clogp": ("clogp", "le"), "max_tpsa": ("tpsa", "le"),
}


def _where(screen_id: str, filters: dict[str, Any]) -> list[Any]:
    cond: list[Any] = [ScreenMolecule.screen_id == screen_id]
    for key, value in filters.items():
        if value is None:
            continue
        if key == "has_alerts":
            c = col(ScreenMolecule.alert_count)
            cond.append(c > 0 if value else c == 0)
        elif key == "ranked":
            r: Any = ScreenMolecule.rank
            cond.append(r.is_not(None) if value else r.is_(None))
        elif key == "in_domain":
            c = col(ScreenMolecule.out_of_domain)
            cond.append(c == 0 if value else c > 0)
        else:
            name, op = FILTERS[key]
            column = getattr(ScreenMolecule, name)
            cond.append(column == value if op == "eq" else column >= value if op == "ge"
                        else column <= value)
    return cond


def _order(sort: str) -> list[Any]:
    desc = sort.startswith("-")
    key = sort.lstrip("-+")
    if key not in SORT_KEYS:
        raise ValidationFailed(f"cannot sort by {key!r}", errors=[{
            "pointer": "/query/sort", "message": f"choose from {', '.join(SORT_KEYS)}, "
            "optionally prefixed with '-' for descending"}])
    column: Any = getattr(ScreenMolecule, key)
    nulls = sa.case((column.is_(None), 1), else_=0)  # missing values (unranked) last
    return [nulls, column.desc() if desc else column.asc(), col(ScreenMolecule.idx)]


def results(session: Session, screen: Screen, sort: str, filters: dict[str, Any], page: int,
            per_page: int) -> tuple[list[ScreenMolecule], int]:
    """One page of molecules and the total matching the filters."""
    order = _order(sort)
    cond = _where(screen.id, filters)
    total = session.exec(select(func.count()).select_from(ScreenMolecule).where(*cond)).one()
    rows = session.exec(select(ScreenMolecule).where(*cond).order_by(*order)
                        .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), int(total)


def pages(total: int, per_page: int) -> int:
    """Number of pages."""
    return max(1, math.ceil(total / per_page))


def ranking(session: Session, screen: Screen) -> list[ScreenMolecule]:
    """The diverse ranked top-N, in rank order."""
    return list(session.exec(select(ScreenMolecule).where(
        ScreenMolecule.screen_id == screen.id, col(ScreenMolecule.rank).is_not(None))
        .order_by(col(ScreenMolecule.rank))))


def errors(session: Session, screen: Screen, page: int, per_page: int) -> tuple[
        list[ScreenError], int]:
    """Input records that could not be screened, by row."""
    total = session.exec(select(func.count()).select_from(ScreenError)
                         .where(ScreenError.screen_id == screen.id)).one()
    rows = session.exec(select(ScreenError).where(ScreenError.screen_id == screen.id)
                        .order_by(col(ScreenError.row)).offset((page - 1) * per_page)
                        .limit(per_page)).all()
    return list(rows), int(total)


def molecule(session: Session, screen: Screen, idx: int) -> ScreenMolecule:
    """One molecule of a screen."""
    mol = session.get(ScreenMolecule, (screen.id, idx))
    if mol is None:
        raise NotFound(f"Molecule {idx} not found in screen {screen.id}")
    return mol


def merged_inputs(session: Session, screen_id: str, idxs: list[int]) -> dict[int, list[
        tuple[int, str]]]:
    """Further input records (row, id) merged into each of the given molecules."""
    out: dict[int, list[tuple[int, str]]] = {}
    if not idxs:
        return out
    rows = session.exec(select(ScreenInput).where(
        ScreenInput.screen_id == screen_id, col(ScreenInput.molecule_idx).in_(idxs))
        .order_by(col(ScreenInput.row)))
    for r in rows:
        out.setdefault(r.molecule_idx, []).append((r.row, r.input_id))
    return out


def export_rows(session: Session, screen_id: str, batch: int = 2000) -> Iterator[
        tuple[ScreenMolecule, list[tuple[int, str]]]]:
    """Every molecule (ranked first, then by priority) with its merged inputs, in batches."""
    order = [sa.case((col(ScreenMolecule.rank).is_(None), 1), else_=0),
             col(ScreenMolecule.rank), col(ScreenMolecule.priority).desc(),
             col(ScreenMolecule.idx)]
    offset = 0
    while True:
        rows = list(session.exec(select(ScreenMolecule).where(
            ScreenMolecule.screen_id == screen_id).order_by(*order).offset(offset).limit(batch)))
        if not rows:
            return
        extra = merged_inputs(session, screen_id, [r.idx for r in rows if r.n_inputs > 1])
        for r in rows:
            yield r, extra.get(r.idx, [])
        offset += batch

