"""The model registry's section: models in production at the site during the period, their
validation status and evaluation indicators, with the lineage records as bundle evidence."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, or_, select

from hub.compliance.prefill import identifier
from hub.compliance.providers import SectionContext, SectionResult, register_section_provider
from hub.registry.models import ModelStatus, ModelVersion
from hub.sites.models import Site

LOWER_IS_BETTER = ("<=", "<")


def _indicator(v: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "metric": identifier(str(v.get("metric", "")), "metric"),
        "direction": "lower_is_better" if v.get("op") in LOWER_IS_BETTER else "higher_is_better",
        "threshold": float(v.get("threshold", 0.0)), "split": "test",
        "passed": bool(v.get("passed")),
    }
    if v.get("value") is not None:
        out["measured"] = float(v["value"])
    return out


def lineage_record(m: ModelVersion) -> dict[str, Any]:
    """What a regulator needs to trace a model: run, code, data standards, metrics, artifact."""
    return {"model_id": m.id, "task": m.task, "version": m.version, "status": m.status,
            "task_version": m.task_version, "code_hash": m.code_hash,
            "artifact_sha256": m.artifact_sha256, "run_id": m.run_id,
            "created_at": m.created_at.isoformat(),
            "promoted_at": m.promoted_at.isoformat() if m.promoted_at else None,
            "retired_at": m.retired_at.isoformat() if m.retired_at else None,
            "final_metrics": m.final_metrics, "indicators": m.indicators,
            "lineage": m.lineage}


def models_in_production(ctx: SectionContext) -> SectionResult:
    """Registry versions of the site's federated tasks that were in production in the period."""
    site = ctx.session.get(Site, ctx.site_id)
    tasks = list(site.tasks) if site else []
    if not tasks:
        return SectionResult([], "model registry", note="The site declares no federated tasks.")
    rows = ctx.session.exec(select(ModelVersion).where(
        col(ModelVersion.task).in_(tasks), col(ModelVersion.promoted_at).is_not(None),
        col(ModelVersion.promoted_at) < ctx.until,
        or_(col(ModelVersion.retired_at).is_(None), col(ModelVersion.retired_at) >= ctx.since),
    ).order_by(col(ModelVersion.task), col(ModelVersion.version))).all()
    items = []
    for m in rows:
        in_use = m.status == ModelStatus.production or (
            m.retired_at is not None and m.retired_at >= ctx.until)
        status = ("validated" if m.passed else "not_validated") if in_use else "retired"
        item: dict[str, Any] = {
            "model": {"name": identifier(m.task), "version": f"v{m.version}"},
            "task": identifier(m.task), "validation_status": status,
            "indicators": [_indicator(v) for v in m.indicators],
        }
        if m.promoted_at is not None:
            item["validated_at"] = m.promoted_at.isoformat()
        items.append(item)
    return SectionResult(items, "model registry", evidence=[lineage_record(m) for m in rows],
                         note=f"Tasks of the site: {', '.join(tasks)}.")


register_section_provider("models_in_production", models_in_production)
