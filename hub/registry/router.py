"""Model registry: versions with lineage, lifecycle (shadow, signed promotion, rollback,
retirement) and artifacts for site agents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.deps import CurrentPrincipal, SessionDep, SettingsDep
from hub.federation.schemas import Approval
from hub.registry import service
from hub.registry.models import ModelStatus, ModelVersion
from hub.registry.schemas import ModelPublic, Reason, ShadowComparison, ShadowSummary

router = APIRouter(tags=["registry"], prefix="/registry")


@router.get("/models", response_model=list[ModelPublic])
def list_models(session: SessionDep, _who: CurrentPrincipal,
                task: Annotated[str | None, Query(max_length=64)] = None,
                status: Annotated[ModelStatus | None, Query()] = None) -> Sequence[ModelVersion]:
    """Model versions, newest first per task."""
    return service.list_models(session, task, status)


@router.get("/models/{model_id}", response_model=ModelPublic)
def get_model(model_id: str, session: SessionDep, _who: CurrentPrincipal) -> ModelVersion:
    """One version with lineage (run, rounds, strategy, sites, code hash, per-round metrics)."""
    return service.get_model(session, model_id)


@router.get("/models/{model_id}/artifact", response_class=Response)
def model_artifact(model_id: str, session: SessionDep, _who: CurrentPrincipal) -> Response:
    """The model bundle bytes; `X-Content-SHA256` carries the registered hash."""
    model = service.get_model(session, model_id)
    data = service.load_artifact(session, model)
    return Response(data, media_type="application/octet-stream", headers={
        "X-Content-SHA256": model.artifact_sha256, "ETag": f'"{model.artifact_sha256}"',
        "Content-Disposition": f'attachment; filename="{model.task}-v{model.version}.npz"'})


@router.get("/tasks/{task}/production", response_model=ModelPublic)
def production(task: str, session: SessionDep, _who: CurrentPrincipal) -> ModelVersion:
    """The production version of a task (404 when none is promoted)."""
    return service.production_model(session, task)


@router.get("/tasks/{task}/shadow", response_model=list[ModelPublic])
def shadow(task: str, session: SessionDep, _who: CurrentPrincipal) -> Sequence[ModelVersion]:
    """Versions sites should score in shadow mode beside production."""
    return service.list_models(session, task, ModelStatus.shadow)


@router.post("/models/{model_id}/shadow", response_model=ModelPublic)
def to_shadow(model_id: str, body: Reason, who: CurrentPrincipal,
              session: SessionDep) -> ModelVersion:
    """Put a candidate in shadow mode (QA or hub admin, with a reason)."""
    return service.to_shadow(session, who, model_id, body.reason)


@router.post("/models/{model_id}/promote", response_model=ModelPublic)
def promote(model_id: str, body: Approval, who: CurrentPrincipal, session: SessionDep,
            settings: SettingsDep) -> ModelVersion:
    """Promote to production with a QA e-signature (the previous production is retired)."""
    return service.promote(session, settings, who, model_id, body.password, body.comment)


@router.post("/tasks/{task}/rollback", response_model=ModelPublic)
def rollback(task: str, body: Approval, who: CurrentPrincipal, session: SessionDep,
             settings: SettingsDep) -> ModelVersion:
    """Return production to the previous version (one step, QA e-signature)."""
    return service.rollback(session, settings, who, task, body.password, body.comment)


@router.post("/models/{model_id}/retire", response_model=ModelPublic)
def retire(model_id: str, body: Reason, who: CurrentPrincipal,
           session: SessionDep) -> ModelVersion:
    """Retire a candidate or shadow version (QA or hub admin, with a reason)."""
    return service.retire(session, who, model_id, body.reason)


@router.get("/models/{model_id}/shadow-reports", response_model=ShadowSummary)
def shadow_reports(model_id: str, who: CurrentPrincipal, session: SessionDep) -> ShadowSummary:
    """Sites' shadow comparisons of this version against production (monitoring reports)."""
    model = service.get_model(session, model_id)
    rows = service.shadow_reports(session, who, model)
    total = sum(r.readings for r in rows)
    mean = sum(r.agreement * r.readings for r in rows) / total if total else None
    return ShadowSummary(model_id=model.id, readings=total, mean_agreement=mean,
                         reports=[ShadowComparison.model_validate(r) for r in rows])
