"""Registry pages: versions by task, lineage, signed promotion, shadow, retirement, rollback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from hub.deps import SettingsDep
from hub.errors import AccountLocked, Conflict, SignatureRejected, ValidationFailed
from hub.registry import service
from hub.registry.models import ModelStatus
from hub.web import (
    Area,
    ESignForm,
    PageSession,
    PageUser,
    Series,
    WebUser,
    fail,
    line_chart,
    page_router,
    redirect,
    register_area,
    render,
    require_page_role,
    signature_rows,
)

pages = page_router("/web/registry")
register_area(Area("Model registry", "/web/registry",
                   "Model versions from federated runs: lineage, promotion, rollback.",
                   roles=(), order=55))
Manager = Annotated[WebUser, Depends(require_page_role(*service.MANAGERS))]
QA = Annotated[WebUser, Depends(require_page_role("qa"))]
SIGN_ERRORS = (SignatureRejected, AccountLocked, ValidationFailed, Conflict)


@pages.get("")
def models(request: Request, who: PageUser, session: PageSession) -> HTMLResponse:
    """Every model version, grouped by task."""
    rows = service.list_models(session)
    tasks: dict[str, list[Any]] = {}
    for m in rows:
        tasks.setdefault(m.task, []).append(m)
    return render(request, "registry/list.html", {"tasks": tasks})


def _chart(lineage: dict[str, Any]) -> Any:
    rounds = lineage.get("per_round", [])
    metrics: dict[str, Any] = next((r["central"] or r["evaluate_aggregate"] for r in rounds
                    if r.get("central") or r.get("evaluate_aggregate")), {})
    key = next((k for k in ("rmse", "recall", "val_loss") if k in metrics), None)
    if key is None:
        return None
    xs = [r["round"] for r in rounds]
    sites = sorted({s for r in rounds for s in r.get("sites", {})})
    series = [Series(s, [r["sites"].get(s, {}).get("evaluate", {}).get(key) for r in rounds],
                     x=xs) for s in sites]
    series.append(Series("pooled / central", [(r.get("central") or r.get(
        "evaluate_aggregate") or {}).get(key) for r in rounds], x=xs))
    return line_chart(series, title=f"{key} per round", x_label="Round", y_label=key)


def _detail(request: Request, session: Session, model_id: str, sign_error: str | None = None,
            dialog: str | None = None, status_code: int = 200) -> HTMLResponse:
    m = service.get_model(session, model_id)
    who: WebUser = request.state.web_user
    current = service.production_models(session, m.task)
    return render(request, "registry/detail.html", {
        "m": m, "chart": _chart(m.lineage), "reports": service.shadow_reports(
            session, who.principal, m),
        "signatures": signature_rows(session, service.SIGNABLE, m.id),
        "sign_error": sign_error, "dialog": dialog,
        "can_rollback": m.status == ModelStatus.production and bool(m.previous_production_id),
        "current": current[0] if current else None,
        "record": {"Task": m.task, "Version": m.version, "Artifact": m.artifact_sha256,
                   "Indicators": "pass" if m.passed else "FAIL"}}, status_code)


@pages.get("/models/{model_id}")
def detail(model_id: str, request: Request, who: PageUser, session: PageSession
           ) -> HTMLResponse:
    """One version: lineage, per-round metrics, evaluation, signatures, shadow reports."""
    return _detail(request, session, model_id)


@pages.post("/models/{model_id}/promote")
def promote(model_id: str, request: Request, who: QA, session: PageSession,
            settings: SettingsDep, form: ESignForm) -> Response:
    """Promote to production with an electronic signature."""
    try:
        m = service.promote(session, settings, who.principal, model_id, form.password,
                            form.comment or None)
    except SIGN_ERRORS as exc:
        fail(session, exc)
        return _detail(request, session, model_id, exc.detail, "promote", exc.status)
    return redirect(request, f"/web/registry/models/{m.id}",
                    flash=f"{m.task} v{m.version} is in production.")


@pages.post("/models/{model_id}/rollback")
def rollback(model_id: str, request: Request, who: QA, session: PageSession,
             settings: SettingsDep, form: ESignForm) -> Response:
    """Roll production back to the previous version (signed)."""
    m = service.get_model(session, model_id)
    try:
        prev = service.rollback(session, settings, who.principal, m.task, form.password,
                                form.comment or None)
    except SIGN_ERRORS as exc:
        fail(session, exc)
        return _detail(request, session, model_id, exc.detail, "rollback", exc.status)
    return redirect(request, f"/web/registry/models/{prev.id}",
                    flash=f"{prev.task} production rolled back to v{prev.version}.")


@pages.post("/models/{model_id}/{action}")
def change(model_id: str, action: str, request: Request, who: Manager, session: PageSession,
           reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Shadow or retire a version, with a reason."""
    actions = {"shadow": service.to_shadow, "retire": service.retire}
    if action not in actions:
        return _detail(request, session, model_id, status_code=404)
    try:
        if len(reason.strip()) < 3:
            raise ValidationFailed("Say why", errors=[{"pointer": "/reason",
                                                       "message": "required"}])
        m = actions[action](session, who.principal, model_id, reason.strip())
    except (ValidationFailed, Conflict) as exc:
        fail(session, exc)
        return _detail(request, session, model_id, exc.detail, action, exc.status)
    return redirect(request, f"/web/registry/models/{m.id}",
                    flash=f"{m.task} v{m.version} is now {m.status}.")
