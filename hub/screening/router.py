"""Screening API: submit (JSON, CSV, SDF; multipart or raw body), progress, cancel, results,
ranking, errors, summary, depictions and streamed CSV/SDF export."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Query, Request, Response
from fastapi import Path as FastAPIPath
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from hub.db import Database, new_id
from hub.deps import MAX_INDEX, CurrentPrincipal, PageNumber, SessionDep, SettingsDep
from hub.errors import PayloadTooLarge, ValidationFailed, field_errors
from hub.identity.principal import Principal
from hub.qualifications import require_qualification
from hub.screening import flows, service
from hub.screening.models import Screen
from hub.screening.schemas import (
    Cancel,
    ErrorPublic,
    MergedInput,
    MoleculeDetail,
    MoleculePublic,
    Page,
    RankedPublic,
    ScreenJSON,
    ScreenPublic,
)

RAW_TYPES = {
    "text/csv": "csv", "text/tab-separated-values": "csv", "application/csv": "csv",
    "chemical/x-mdl-sdfile": "sdf", "chemical/x-sdf": "sdf", "application/x-mdl-sdfile": "sdf",
    "chemical/x-daylight-smiles": "smiles", "application/x-smiles": "smiles",
    "text/plain": None, "application/octet-stream": None,
}  # fmt: skip


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its local $defs substituted in place (for the OpenAPI request body)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


SUBMIT_BODY = {
    "requestBody": {"required": True, "content": {
        "application/json": {"schema": _inline(ScreenJSON.model_json_schema())},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": ".smi, .csv (with an id column) or .sdf"},
            "options": {"type": "string", "description": "ScreenOptions as JSON"},
            "name": {"type": "string"}, "format": {"enum": ["smiles", "csv", "sdf"]},
            "smiles_column": {"type": "string"}, "id_column": {"type": "string"},
            "id_property": {"type": "string", "description": "SDF tag holding the id"}}}},
        **{t: {"schema": {"type": "string", "format": "binary"}} for t in RAW_TYPES},
    }}}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Recover interrupted screens with the hub (tests start the runner on first use)."""
    if app.state.settings.environment != "test":
        flows.get_runner(app)
    yield
    runner = getattr(app.state, "screen_runner", None)
    if runner is not None:
        runner.stop()


router = APIRouter(prefix="/screens", tags=["screening"], lifespan=lifespan)


def mount(app: FastAPI, authenticated: list[Any]) -> None:
    """The API (authenticated) and the R&D pages (they log people in themselves)."""
    from hub.screening.pages import pages

    app.include_router(router, dependencies=authenticated)
    app.include_router(pages)


def public(screen: Screen) -> ScreenPublic:
    """A screen with its progress."""
    data = {k: getattr(screen, k) for k in ScreenPublic.model_fields if k != "progress"}
    data["progress"] = service.progress(screen)
    return ScreenPublic.model_validate(data)


def _start(app: FastAPI, screen_id: str) -> None:
    # never inside a request's transaction: recovery writes, and SQLite allows one writer
    flows.get_runner(app).submit(screen_id)


def _stop(app: FastAPI, screen_id: str) -> None:
    flows.get_runner(app).cancel(screen_id)


async def _spool(request: Request, chunks: AsyncIterator[bytes], pointer: str) -> tuple[Path, str]:
    settings = request.app.state.settings
    limit = settings.max_body_bytes
    tmp = service.screens_dir(settings) / "incoming"
    tmp.mkdir(parents=True, exist_ok=True)
    path, digest, size = tmp / new_id(), hashlib.sha256(), 0
    try:
        with path.open("wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"upload exceeds {limit} bytes", errors=[
                        {"pointer": pointer, "message": f"larger than {limit} bytes"}])
                digest.update(chunk)
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, "sha256:" + digest.hexdigest()


def _options(raw: str | None, pointer: str) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed("options must be a JSON object", errors=[
            {"pointer": pointer, "message": f"not JSON: {exc}"}]) from exc


async def _from_json(request: Request) -> service.Submission:
    try:
        body = ScreenJSON.model_validate_json(await request.body())
    except ValidationError as exc:
        errs = field_errors(list(exc.errors()))
        for e in errs:
            e["pointer"] = "/body" + e["pointer"]
        raise ValidationFailed(f"Invalid fields: {', '.join(e['pointer'] for e in errs)}",
                               errors=errs) from exc
    bad = [i for i, s in enumerate(body.smiles) if not s.strip() or len(s.split()) > 1]
    if bad:
        raise ValidationFailed("each SMILES must be one non-empty token", errors=[
            {"pointer": f"/body/smiles/{i}", "message": "empty or contains whitespace"}
            for i in bad[:50]])
    ids = body.ids or [f"row-{i}" for i in range(1, len(body.smiles) + 1)]

    async def lines() -> AsyncIterator[bytes]:
        for k in range(0, len(body.smiles), 5000):
            part = zip(body.smiles[k:k + 5000], ids[k:k + 5000], strict=True)
            yield "".join(f"{s.strip()} {' '.join(i.split()) or '-'}\n"
                          for s, i in part).encode()

    path, sha = await _spool(request, lines(), "/body")
    return service.Submission(path, sha, "smiles", None, body.name, body.options)


async def _from_form(request: Request) -> service.Submission:
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ValidationFailed("multipart upload needs a file field", errors=[
            {"pointer": "/file", "message": "missing file part"}])

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(1 << 20):
            yield chunk

    path, sha = await _spool(request, chunks(), "/file")
    text = {k: v for k, v in form.items() if isinstance(v, str) and v}
    fmt = text.get("format")
    if fmt is not None and fmt not in ("smiles", "csv", "sdf"):
        path.unlink(missing_ok=True)
        raise service.UnsupportedMediaType(f"unknown format {fmt!r}", errors=[
            {"pointer": "/format", "message": "choose smiles, csv or sdf"}])
    opts = service.parse_options(_options(text.get("options"), "/options"))
    return service.Submission(path, sha, fmt, upload.filename, text.get("name"), opts,
                              text.get("smiles_column"), text.get("id_column"),
                              text.get("id_property"))


async def _from_raw(request: Request, ctype: str) -> service.Submission:
    q = request.query_params
    fmt = q.get("format") or RAW_TYPES[ctype]
    opts = service.parse_options(_options(q.get("options"), "/query/options"), "/query/options")
    path, sha = await _spool(request, request.stream(), "/body")
    return service.Submission(path, sha, fmt, q.get("filename"), q.get("name"), opts,
                              q.get("smiles_column"), q.get("id_column"), q.get("id_property"))


@router.post("", status_code=202, response_model=ScreenPublic, openapi_extra=SUBMIT_BODY,
             dependencies=[Depends(require_qualification("screen.submit"))])
async def submit_screen(request: Request, who: CurrentPrincipal, session: SessionDep,
                        settings: SettingsDep, tasks: BackgroundTasks,
                        response: Response) -> ScreenPublic:
    """Submit a screen (JSON SMILES list, CSV or SDF); it runs as a background job."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        sub = await _from_json(request)
    elif ctype == "multipart/form-data":
        sub = await _from_form(request)
    elif ctype in RAW_TYPES:
        sub = await _from_raw(request, ctype)
    else:
        raise service.UnsupportedMediaType(
            f"content type {ctype or '(none)'!r} is not accepted", errors=[{
                "pointer": "/headers/content-type",
                "message": "use application/json, multipart/form-data, text/csv, "
                "chemical/x-mdl-sdfile or chemical/x-daylight-smiles"}])
    screen = await run_in_threadpool(service.create_screen, session, settings, who, sub)
    tasks.add_task(_start, request.app, screen.id)  # after the commit
    response.headers["Location"] = f"/screens/{screen.id}"
    return public(screen)


@router.get("", response_model=list[ScreenPublic])
def list_screens(who: CurrentPrincipal, session: SessionDep) -> list[ScreenPublic]:
    """Your organization's screens, newest first."""
    return [public(s) for s in service.list_screens(session, who)]


@router.get("/{screen_id}", response_model=ScreenPublic)
def get_screen(screen_id: str, who: CurrentPrincipal, session: SessionDep) -> ScreenPublic:
    """A screen with status and progress (molecules done / total, ETA)."""
    return public(service.get_screen(session, who, screen_id))


@router.post("/{screen_id}/cancel", response_model=ScreenPublic)
def cancel_screen(screen_id: str, who: CurrentPrincipal, session: SessionDep,
                  request: Request, tasks: BackgroundTasks,
                  body: Cancel | None = None) -> ScreenPublic:
    """Cancel a queued or running screen (audited); results so far are kept."""
    screen = service.cancel(session, who, screen_id, (body or Cancel()).reason)
    tasks.add_task(_stop, request.app, screen.id)
    return public(screen)


Bool = Annotated[bool | None, Query()]
Num = Annotated[float | None, Query()]
MoleculeIndex = Annotated[int, FastAPIPath(le=MAX_INDEX)]


@router.get("/{screen_id}/results", response_model=Page[MoleculePublic])
def results(screen_id: str, who: CurrentPrincipal, session: SessionDep,
            sort: str = "-priority", page: PageNumber = 1,
            per_page: Annotated[int, Query(ge=1, le=500)] = 50,
            passes_lipinski: Bool = None, passes_veber: Bool = None, has_alerts: Bool = None,
            ranked: Bool = None, in_domain: Bool = None, min_qed: Num = None,
            max_qed: Num = None, min_mw: Num = None, max_mw: Num = None,
            min_priority: Num = None, max_sa_score: Num = None, max_clogp: Num = None,
            max_tpsa: Num = None) -> dict[str, Any]:
    """Molecules, sortable (`sort=-priority`) and filterable, one page at a time."""
    screen = service.get_screen(session, who, screen_id)
    filters = {k: v for k, v in locals().items() if k in service.FILTERS
               or k in ("has_alerts", "ranked", "in_domain")}
    rows, total = service.results(session, screen, sort, filters, page, per_page)
    return {"items": rows, "total": total, "page": page, "per_page": per_page,
            "pages": service.pages(total, per_page)}


@router.get("/{screen_id}/ranking", response_model=list[RankedPublic])
def ranking(screen_id: str, who: CurrentPrincipal, session: SessionDep) -> list[dict[str, Any]]:
    """The diverse ranked top-N with the reason for each position."""
    screen = service.get_screen(session, who, screen_id)
    return [{"rank": m.rank, "reason": m.rank_reason or "", "molecule": m}
            for m in service.ranking(session, screen)]


@router.get("/{screen_id}/errors", response_model=Page[ErrorPublic])
def errors(screen_id: str, who: CurrentPrincipal, session: SessionDep,
           page: PageNumber = 1,
           per_page: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Input records that could not be screened: row or record number and RDKit's reason."""
    screen = service.get_screen(session, who, screen_id)
    rows, total = service.errors(session, screen, page, per_page)
    return {"items": rows, "total": total, "page": page, "per_page": per_page,
            "pages": service.pages(total, per_page)}


@router.get("/{screen_id}/summary")
def summary(screen_id: str, who: CurrentPrincipal, session: SessionDep) -> dict[str, Any]:
    """Counts passing each rule, alert families and property distributions."""
    screen = service.get_screen(session, who, screen_id)
    return {"status": screen.status, "summary": screen.summary}


@router.get("/{screen_id}/molecules/{idx}", response_model=MoleculeDetail)
def molecule(screen_id: str, idx: MoleculeIndex, who: CurrentPrincipal,
             session: SessionDep) -> MoleculeDetail:
    """One molecule with every input record merged into it."""
    screen = service.get_screen(session, who, screen_id)
    m = service.molecule(session, screen, idx)
    extra = service.merged_inputs(session, screen.id, [idx]).get(idx, [])
    inputs = [MergedInput(row=m.row, id=m.input_id)] + [MergedInput(row=r, id=i)
                                                       for r, i in extra]
    return MoleculeDetail.model_validate({**m.model_dump(), "inputs": inputs})


@router.get("/{screen_id}/molecules/{idx}/depiction.svg",
            responses={200: {"content": {"image/svg+xml": {}}}})
def depiction(screen_id: str, idx: MoleculeIndex, who: CurrentPrincipal, session: SessionDep,
              width: Annotated[int, Query(ge=80, le=1200)] = 320,
              height: Annotated[int, Query(ge=60, le=1200)] = 240) -> Response:
    """2D depiction (SVG) with structural-alert atoms highlighted."""
    from hub.screening.depict import depict_result
    from hub.screening.jobs import from_row

    screen = service.get_screen(session, who, screen_id)
    svg = depict_result(from_row(service.molecule(session, screen, idx)), width, height)
    return Response(svg, media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


def _export(db: Database, who: Principal, screen_id: str, kind: str) -> Iterator[str]:
    from hub.screening.export import iter_csv, iter_sdf
    from hub.screening.jobs import from_row

    with db.session() as session:
        screen = service.get_screen(session, who, screen_id)
        names = [m["name"] for m in screen.models]
        mols = (from_row(r, extra) for r, extra in service.export_rows(session, screen.id))
        yield from (iter_csv if kind == "csv" else iter_sdf)(mols, names)


@router.get("/{screen_id}/export.{kind}", responses={200: {"content": {
    "text/csv": {}, "chemical/x-mdl-sdfile": {}}}})
def export(screen_id: str, kind: str, who: CurrentPrincipal, session: SessionDep,
           request: Request) -> StreamingResponse:
    """Every molecule with all computed fields, streamed as CSV or SDF (ranked first)."""
    if kind not in ("csv", "sdf"):
        raise service.UnsupportedMediaType(f"no export as {kind!r}", errors=[
            {"pointer": "/path/kind", "message": "choose csv or sdf"}])
    screen = service.get_screen(session, who, screen_id)
    media = "text/csv" if kind == "csv" else "chemical/x-mdl-sdfile"
    filename = f"screen-{screen.id[:8]}.{kind}"
    return StreamingResponse(_export(request.app.state.db, who, screen.id, kind),
                             media_type=media, headers={
                                 "Content-Disposition": f'attachment; filename="{filename}"'})
