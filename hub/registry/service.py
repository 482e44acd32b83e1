"""Model registry: register run models with lineage, lifecycle with signatures, artifacts.

Lifecycle: candidate -> shadow -> production (QA e-signature) -> retired, and a one-step
rollback to the previous production version (also signed). Every change is audited.
Screening and site agents read `production_models(session, task)` and `load_artifact`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, or_, select

from hub.audit import service as audit
from hub.audit import signatures
from hub.audit.signatures import Meaning
from hub.config import Settings
from hub.db import utcnow
from hub.errors import Conflict, NotFound, PermissionDenied
from hub.identity.principal import Principal
from hub.registry.models import ModelArtifact, ModelStatus, ModelVersion

if TYPE_CHECKING:
    from hub.federation.engine import RunResult
    from hub.federation.models import FederatedRun

SIGNABLE = "model_version"
MANAGERS = ("hub_admin", "qa")


def _per_round(result: RunResult, names: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for r in result.rounds:
        sites: dict[str, dict[str, Any]] = {}
        for phase, rows in (("train", r.train), ("evaluate", r.evaluate)):
            for s in rows:
                sites.setdefault(names.get(s.site_id, s.site_id), {})[phase] = s.metrics
        out.append({"round": r.round, "train_aggregate": r.train_aggregate,
                    "evaluate_aggregate": r.evaluate_aggregate, "central": r.central,
                    "sites": sites, "dropped": r.dropped})
    return out


def register_run_model(session: Session, run: FederatedRun, result: RunResult) -> ModelVersion:
    """A candidate version from a completed run, judged against the task's indicators."""
    from hub.sites.models import Site
    from standards.tasks import get_task
    from standards.tasks.common import ModelBundle

    assert result.model_bundle is not None
    bundle = ModelBundle.from_bytes(result.model_bundle)
    task = get_task(run.task)
    verdicts = [vars(v) for v in task.judge(result.final_metrics)]
    sites = session.exec(select(Site).where(col(Site.id).in_(run.site_ids))).all()
    names = {s.id: s.name for s in sites}
    lineage = {
        "run_id": run.id, "engine": run.engine, "rounds": run.num_rounds,
        "strategy": run.strategy, "proximal_mu": run.proximal_mu,
        "privacy": {"dp_clipping_norm": run.dp_clipping_norm,
                    "dp_noise_multiplier": run.dp_noise_multiplier},
        "sites": [{"id": s.id, "name": s.name, "organization_id": s.organization_id,
                   "took_part": s.id in {x.get("site_id") for x in result.sites}
                   or s.name in {x.get("site_id") for x in result.sites}} for s in sites],
        "excluded": run.excluded,
        "standards": {"task": bundle.task, "task_version": bundle.task_version,
                      "code_hash": bundle.code_hash,
                      "evaluation_indicators": [
                          {"metric": i.metric, "op": i.op, "threshold": i.threshold}
                          for i in task.indicators]},
        "code_hash": bundle.code_hash,
        "train": run.train, "data": run.data,
        "initial_central": result.initial_central,
        "per_round": _per_round(result, names),
        "duration_s": round(result.duration_s, 1),
    }
    last = session.exec(select(func.max(ModelVersion.version))
                        .where(ModelVersion.task == run.task)).one()
    model = ModelVersion(
        task=run.task, version=int(last or 0) + 1, run_id=run.id, lineage=lineage,
        final_metrics=dict(result.final_metrics), indicators=verdicts,
        passed=all(v["passed"] for v in verdicts) and bool(verdicts),
        code_hash=bundle.code_hash, task_version=bundle.task_version,
        artifact_sha256="sha256:" + hashlib.sha256(result.model_bundle).hexdigest(),
        artifact_size=len(result.model_bundle))
    session.add(model)
    session.flush()
    session.add(ModelArtifact(model_id=model.id, data=result.model_bundle))
    session.flush()
    return model


def list_models(session: Session, task: str | None = None,
                status: ModelStatus | None = None) -> Sequence[ModelVersion]:
    stmt = select(ModelVersion).order_by(col(ModelVersion.task),
                                         col(ModelVersion.version).desc())
    if task:
        stmt = stmt.where(ModelVersion.task == task)
    if status:
        stmt = stmt.where(ModelVersion.status == status)
    return session.exec(stmt).all()


def get_model(session: Session, model_id: str) -> ModelVersion:
    model = session.get(ModelVersion, model_id)
    if model is None:
        raise NotFound(f"Model {model_id} not found")
    return model


def production_models(session: Session, task: str) -> list[ModelVersion]:
    """The production version(s) of a task (at most one; empty when none is promoted)."""
    return list(list_models(session, task, ModelStatus.production))


def production_model(session: Session, task: str) -> ModelVersion:
    found = production_models(session, task)
    if not found:
        raise NotFound(f"No production model for task {task}")
    return found[0]


def load_artifact(session: Session, model: ModelVersion) -> bytes:
    """The model bundle bytes, checked against the registered sha256."""
    art = session.get(ModelArtifact, model.id)
    if art is None:
        raise NotFound(f"Model {model.id} has no artifact")
    digest = "sha256:" + hashlib.sha256(art.data).hexdigest()
    if digest != model.artifact_sha256:
        raise Conflict(f"Artifact of model {model.id} does not match its registered hash")
    return bytes(art.data)


def signable_content(session: Session, model_id: str) -> dict[str, Any] | None:
    """What a promotion signature covers: the version, its evaluation and artifact hash."""
    m = session.get(ModelVersion, model_id)
    if m is None:
        return None
    return {"id": m.id, "task": m.task, "version": m.version, "run_id": m.run_id,
            "code_hash": m.code_hash, "artifact_sha256": m.artifact_sha256,
            "final_metrics": m.final_metrics, "indicators": m.indicators}


signatures.register_signable(SIGNABLE, signable_content, roles=())


def _manager(who: Principal) -> None:
    if not who.is_user or not who.has(*MANAGERS):
        raise PermissionDenied("Changing a model's lifecycle needs the qa or hub_admin role")


def _set(session: Session, m: ModelVersion, status: ModelStatus, why: str) -> None:
    with audit.reason(session, why):
        m.status, m.status_reason = status, why
        if status == ModelStatus.retired:
            m.retired_at = utcnow()
        session.add(m)


def to_shadow(session: Session, who: Principal, model_id: str, why: str) -> ModelVersion:
    """Sites score a candidate beside production without acting on it."""
    _manager(who)
    m = get_model(session, model_id)
    if m.status != ModelStatus.candidate:
        raise Conflict(f"Model is {m.status}; only candidates go to shadow")
    _set(session, m, ModelStatus.shadow, why)
    return m


def promote(session: Session, settings: Settings, who: Principal, model_id: str,
            password: str, comment: str | None) -> ModelVersion:
    """QA signs the version into production; the current production version is retired."""
    if not who.is_user or not who.has("qa"):
        raise PermissionDenied("Promoting a model to production needs the qa role")
    m = get_model(session, model_id)
    if m.status not in (ModelStatus.candidate, ModelStatus.shadow):
        raise Conflict(f"Model is {m.status}; only candidate or shadow models can be promoted")
    if not m.passed:
        failing = ", ".join(f"{i['metric']} {i['op']} {i['threshold']}"
                            for i in m.indicators if not i["passed"]) or "no indicators"
        raise Conflict(f"Model {m.task} v{m.version} fails its evaluation indicators "
                       f"({failing}); it cannot go to production")
    why = comment or f"{m.task} v{m.version} promoted to production"
    signatures.sign(session, settings, signer_id=who.id, password=password,
                    meaning=Meaning.approved, entity_type=SIGNABLE, entity_id=m.id,
                    comment=why)
    current = production_models(session, m.task)
    for old in current:
        _set(session, old, ModelStatus.retired, f"replaced by v{m.version}: {why}")
    with audit.reason(session, why):
        m.status, m.status_reason = ModelStatus.production, why
        m.promoted_at, m.promoted_by = utcnow(), who.id
        m.previous_production_id = current[0].id if current else None
        session.add(m)
    return m


def rollback(session: Session, settings: Settings, who: Principal, task: str, password: str,
             comment: str | None) -> ModelVersion:
    """Back to the previous production version (one step, signed by QA)."""
    if not who.is_user or not who.has("qa"):
        raise PermissionDenied("Rolling back production needs the qa role")
    current = production_model(session, task)
    if not current.previous_production_id:
        raise Conflict(f"{task} v{current.version} has no previous production version")
    prev = get_model(session, current.previous_production_id)
    why = comment or f"rollback of {task} v{current.version} to v{prev.version}"
    signatures.sign(session, settings, signer_id=who.id, password=password,
                    meaning=Meaning.approved, entity_type=SIGNABLE, entity_id=prev.id,
                    comment=why)
    _set(session, current, ModelStatus.retired, why)
    with audit.reason(session, why):
        prev.status, prev.status_reason = ModelStatus.production, why
        prev.promoted_at, prev.promoted_by, prev.retired_at = utcnow(), who.id, None
        session.add(prev)
    return prev


def retire(session: Session, who: Principal, model_id: str, why: str) -> ModelVersion:
    """Take a version out of use (production is left by promotion or rollback instead)."""
    _manager(who)
    m = get_model(session, model_id)
    if m.status in (ModelStatus.retired, ModelStatus.production):
        raise Conflict(f"Model is {m.status}; promote another version or roll back instead")
    _set(session, m, ModelStatus.retired, why)
    return m


def shadow_reports(session: Session, who: Principal, model: ModelVersion) -> list[Any]:
    """Shadow reports whose shadow scorer names this model (`model:<id>` or `<task>-v<n>`)."""
    from hub.monitoring.models import ShadowReport

    stmt = select(ShadowReport).where(or_(
        col(ShadowReport.shadow_scorer).contains(model.id),
        ShadowReport.shadow_scorer == f"{model.task}-v{model.version}"))
    if not who.has(*MANAGERS, "regulator"):
        stmt = stmt.where(ShadowReport.organization_id == who.org_id)
    return list(session.exec(stmt.order_by(col(ShadowReport.window_end))).all())
