"""Screening pages (R&D): submit (paste or upload), watch progress, browse ranked results with
depictions and alert highlights, download CSV/SDF."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from fastapi import BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from hub.config import Settings
from hub.db import new_id
from hub.deps import SettingsDep
from hub.errors import HubError, PayloadTooLarge, ValidationFailed
from hub.qualifications import QualificationRequired, ensure_qualified
from hub.screening import service
from hub.screening.models import FINISHED, Screen
from hub.web import (
    Area,
    PageSession,
    PageUser,
    fail,
    form_errors,
    fragment,
    page_router,
    redirect,
    register_area,
    render,
)

pages = page_router("/web/screens")
register_area(Area("Screening", "/web/screens", "Screen molecules: ranked, explained candidates "
                   "with structural alerts and model predictions.",
                   roles=("researcher", "hub_admin"), order=40))
Flag = Annotated[str, Query()]


def _spool(settings: Settings, upload: UploadFile | None,
           text: str) -> tuple[Path, str, str | None]:
    tmp = service.screens_dir(settings) / "incoming"
    tmp.mkdir(parents=True, exist_ok=True)
    path, digest, size = tmp / new_id(), hashlib.sha256(), 0
    with path.open("wb") as fh:
        if upload is not None and upload.filename:
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > settings.max_body_bytes:
                    fh.close()
                    path.unlink(missing_ok=True)
                    raise PayloadTooLarge(f"upload exceeds {settings.max_body_bytes} bytes",
                                          errors=[{"pointer": "/file", "message": "too large"}])
                digest.update(chunk)
                fh.write(chunk)
            return path, "sha256:" + digest.hexdigest(), upload.filename
        data = text.replace("\r\n", "\n").encode()
        fh.write(data)
        return path, "sha256:" + hashlib.sha256(data).hexdigest(), None


def _list(request: Request, session: Any, who: PageUser, settings: Settings,
          errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
          status_code: int = 200) -> HTMLResponse:
    qualified, why = True, ""
    try:
        ensure_qualified(session, settings.qualification_gates, who.principal, "screen.submit")
    except QualificationRequired as exc:
        qualified, why = False, exc.detail
    screens = service.list_screens(session, who.principal)
    return render(request, "screening/list.html", {
        "screens": screens, "qualified": qualified, "why": why, "errors": errors or {},
        "form": form or {}, "progress": service.progress}, status_code)


@pages.get("")
def screens_page(request: Request, who: PageUser, session: PageSession,
                 settings: SettingsDep) -> HTMLResponse:
    """Your organization's screens and the submission form."""
    return _list(request, session, who, settings)


@pages.post("")
def submit_page(request: Request, who: PageUser, session: PageSession, settings: SettingsDep,
                tasks: BackgroundTasks, name: Annotated[str, Form()] = "",
                smiles: Annotated[str, Form()] = "",
                file: Annotated[UploadFile | None, File()] = None,
                top_n: Annotated[str, Form()] = "50",
                similarity_threshold: Annotated[str, Form()] = "0.7",
                canonical_tautomer: Annotated[str, Form()] = "") -> Response:
    """Submit a screen from pasted SMILES or an uploaded file."""
    form = {"name": name, "smiles": smiles, "top_n": top_n,
            "similarity_threshold": similarity_threshold,
            "canonical_tautomer": canonical_tautomer}
    ensure_qualified(session, settings.qualification_gates, who.principal, "screen.submit")
    try:
        if not smiles.strip() and (file is None or not file.filename):
            raise ValidationFailed("Paste SMILES or choose a file", errors=[
                {"pointer": "/smiles", "message": "paste SMILES (one per line) or upload a file"}])
        options = service.parse_options({"top_n": top_n or 50,
                                         "similarity_threshold": similarity_threshold or 0.7,
                                         "canonical_tautomer": bool(canonical_tautomer)}, "")
        path, sha, filename = _spool(settings, file, smiles)
        sub = service.Submission(path, sha, None if filename else "smiles", filename,
                                 name or None, options)
        screen = service.create_screen(session, settings, who.principal, sub)
    except HubError as exc:  # what was sent is wrong: show the form again, naming the field
        fail(session, exc)
        errors = form_errors(exc) or {"smiles": exc.detail}
        return _list(request, session, who, settings, errors, form, exc.status)
    from hub.screening.router import _start

    tasks.add_task(_start, request.app, screen.id)
    return redirect(request, f"/web/screens/{screen.id}",
                    flash=f"Screen submitted: {screen.total} records queued.")


def _context(session: Any, screen: Screen) -> dict[str, Any]:
    return {"screen": screen, "p": service.progress(screen),
            "finished": screen.status in FINISHED}


@pages.get("/{screen_id}")
def screen_page(screen_id: str, request: Request, who: PageUser,
                session: PageSession) -> HTMLResponse:
    """A screen: progress, summary, the ranked candidates with depictions."""
    screen = service.get_screen(session, who.principal, screen_id)
    ctx = _context(session, screen)
    ctx["ranking"] = service.ranking(session, screen)
    ctx["errors_page"], ctx["n_errors"] = service.errors(session, screen, 1, 20)
    ctx["summary"] = screen.summary or {}
    return render(request, "screening/detail.html", ctx)


@pages.get("/{screen_id}/progress")
def progress_fragment(screen_id: str, request: Request, who: PageUser,
                      session: PageSession) -> HTMLResponse:
    """Live progress (refresh fragment); stops polling once the screen has finished."""
    screen = service.get_screen(session, who.principal, screen_id)
    ctx = _context(session, screen)
    return fragment(request, "screening/_progress.html", ctx, final=ctx["finished"])


@pages.post("/{screen_id}/cancel")
def cancel_page(screen_id: str, request: Request, who: PageUser, session: PageSession,
                tasks: BackgroundTasks, reason: Annotated[str, Form()] = "") -> Response:
    """Cancel a screen (audited)."""
    service.cancel(session, who.principal, screen_id, reason or "cancelled from the web portal")
    from hub.screening.router import _stop

    tasks.add_task(_stop, request.app, screen_id)
    return redirect(request, f"/web/screens/{screen_id}", flash="Screen cancelled.")


@pages.get("/{screen_id}/results")
def results_page(screen_id: str, request: Request, who: PageUser, session: PageSession,
                 sort: str = "-priority", page: Annotated[int, Query(ge=1)] = 1,
                 passes_lipinski: Flag = "", has_alerts: Flag = "") -> HTMLResponse:
    """All molecules, sortable and filterable, 50 a page."""
    screen = service.get_screen(session, who.principal, screen_id)
    flags = {"passes_lipinski": passes_lipinski, "has_alerts": has_alerts}
    filters = {k: v == "true" for k, v in flags.items() if v in ("true", "false")}
    rows, total = service.results(session, screen, sort, filters, page, 50)
    return render(request, "screening/results.html", {
        "screen": screen, "rows": rows, "total": total, "page": page,
        "pages": service.pages(total, 50), "sort": sort, "flags": flags,
        "query": "&".join(f"{k}={v}" for k, v in {"sort": sort, **flags}.items() if v)})


@pages.get("/{screen_id}/molecules/{idx}.svg")
def depiction_page(screen_id: str, idx: int, who: PageUser, session: PageSession) -> Response:
    """A molecule's depiction with its alert atoms highlighted."""
    from hub.screening.depict import depict_result
    from hub.screening.jobs import from_row

    screen = service.get_screen(session, who.principal, screen_id)
    svg = depict_result(from_row(service.molecule(session, screen, idx)), 260, 180)
    return Response(svg, media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


@pages.get("/{screen_id}/export.{kind}")
def export_page(screen_id: str, kind: str, request: Request, who: PageUser,
                session: PageSession) -> StreamingResponse:
    """Download all results as CSV or SDF."""
    from hub.screening.router import _export

    if kind not in ("csv", "sdf"):
        raise service.UnsupportedMediaType(f"no export as {kind!r}")
    screen = service.get_screen(session, who.principal, screen_id)
    media = "text/csv" if kind == "csv" else "chemical/x-mdl-sdfile"
    return StreamingResponse(
        _export(request.app.state.db, who.principal, screen.id, kind), media_type=media,
        headers={"Content-Disposition": f'attachment; filename="screen-{screen.id[:8]}.{kind}"'})

