"""Federated runs: creation, QA approval with e-signature, org scoping, progress records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.audit import signatures
from hub.config import Settings
from hub.db import utcnow
from hub.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from hub.federation.models import FINISHED, FederatedRun, RunRoundMetric, RunStatus
from hub.federation.schemas import (
    Approval,
    RoundProgress,
    RunCreate,
    RunProgress,
    SiteRound,
)
from hub.identity.principal import Principal
from hub.sites.models import Site, SiteStatus

SIGNABLE = "federated_run"
CREATORS = ("hub_admin", "qa", "site_admin", "researcher")
SEES_ALL = ("hub_admin", "qa")
EXECUTOR = audit.Actor(id="system:federation", name="federation executor")
SECAGG_REASON = (
    "secure aggregation (SecAgg+) is only available in Flower 1.41's legacy workflow "
    "(SecAggPlusWorkflow with secaggplus_mod), not with the Message API strategies fedhub runs; "
    "use client-side DP (dp_clipping_norm, dp_noise_multiplier) instead")


def _known_task(name: str) -> None:
    from standards.tasks import task_names

    if name not in task_names():
        raise ValidationFailed(f"Unknown federated task {name!r}", errors=[
            {"pointer": "/task", "message": f"known tasks: {', '.join(task_names())}"}])


def eligible_sites(session: Session, task: str) -> list[Site]:
    """Active sites that declare the task among their capabilities."""
    rows = session.exec(select(Site).where(Site.status == SiteStatus.active)
                        .order_by(col(Site.name))).all()
    return [s for s in rows if task in (s.tasks or [])]


def _chosen_sites(session: Session, data: RunCreate) -> list[Site]:
    if data.site_ids is None:
        return eligible_sites(session, data.task)
    errors, sites = [], []
    for i, sid in enumerate(data.site_ids):
        site = session.get(Site, sid)
        if site is None:
            errors.append({"pointer": f"/site_ids/{i}", "message": "no such site"})
        elif site.status != SiteStatus.active:
            errors.append({"pointer": f"/site_ids/{i}", "message": f"site is {site.status}"})
        elif data.task not in (site.tasks or []):
            errors.append({"pointer": f"/site_ids/{i}",
                           "message": f"site does not offer task {data.task}"})
        else:
            sites.append(site)
    if len(set(data.site_ids)) != len(data.site_ids):
        errors.append({"pointer": "/site_ids", "message": "a site is listed twice"})
    if errors:
        raise ValidationFailed("Some participating sites cannot take part", errors=errors)
    return sites


def create_run(session: Session, who: Principal, data: RunCreate,
               engine: str = "simulation") -> FederatedRun:
    """Validate and record a run request (pending QA approval)."""
    if not who.is_user or not who.has(*CREATORS):
        raise PermissionDenied(f"Starting a run needs one of the roles: {', '.join(CREATORS)}")
    if data.privacy.secure_aggregation:
        raise ValidationFailed("Secure aggregation is not available", errors=[
            {"pointer": "/privacy/secure_aggregation", "message": SECAGG_REASON}])
    if data.privacy.dp_noise_multiplier > 0 and data.privacy.dp_clipping_norm <= 0:
        raise ValidationFailed("DP noise needs a clipping norm", errors=[
            {"pointer": "/privacy/dp_clipping_norm", "message": "must be > 0 with noise"}])
    _known_task(data.task)
    sites = _chosen_sites(session, data)
    if len(sites) < data.min_sites:
        raise ValidationFailed(
            f"{len(sites)} eligible site(s) for {data.task}; the run needs at least "
            f"{data.min_sites}", errors=[{"pointer": "/min_sites", "message":
                                          f"only {len(sites)} active site(s) offer the task"}])
    run = FederatedRun(
        task=data.task, engine=engine, strategy=data.strategy, proximal_mu=data.proximal_mu,
        num_rounds=data.rounds, min_sites=data.min_sites, round_timeout_s=data.round_timeout_s,
        dp_noise_multiplier=data.privacy.dp_noise_multiplier,
        dp_clipping_norm=data.privacy.dp_clipping_norm, site_ids=[s.id for s in sites],
        organization_ids=sorted({s.organization_id for s in sites}), train=dict(data.train),
        data=dict(data.data), created_by=who.id)
    session.add(run)
    session.flush()
    return run


def visible(who: Principal, run: FederatedRun) -> bool:
    """QA and hub admins see every run; others the runs their organization's sites join."""
    if who.has(*SEES_ALL):
        return True
    if not who.is_user:
        return who.site_id is not None and who.site_id in run.site_ids
    return who.org_id in run.organization_ids


def get_run_for(session: Session, who: Principal, run_id: str) -> FederatedRun:
    run = session.get(FederatedRun, run_id)
    if run is None or not visible(who, run):
        raise NotFound(f"Run {run_id} not found")
    return run


def list_runs(session: Session, who: Principal, status: RunStatus | None = None,
              limit: int = 200) -> list[FederatedRun]:
    stmt = select(FederatedRun).order_by(col(FederatedRun.created_at).desc())
    if status:
        stmt = stmt.where(FederatedRun.status == status)
    rows = session.exec(stmt).all()
    return [r for r in rows if visible(who, r)][:limit]


def signable_content(session: Session, run_id: str) -> dict[str, Any] | None:
    """What a run approval covers: the run's definition as requested."""
    run = session.get(FederatedRun, run_id)
    if run is None:
        return None
    return {"id": run.id, "task": run.task, "engine": run.engine, "strategy": run.strategy,
            "proximal_mu": run.proximal_mu, "num_rounds": run.num_rounds,
            "min_sites": run.min_sites, "round_timeout_s": run.round_timeout_s,
            "dp_noise_multiplier": run.dp_noise_multiplier,
            "dp_clipping_norm": run.dp_clipping_norm, "site_ids": run.site_ids,
            "train": run.train, "data": run.data, "created_by": run.created_by,
            "created_at": run.created_at.isoformat()}


signatures.register_signable(SIGNABLE, signable_content, roles=())


def approve(session: Session, settings: Settings, who: Principal, run_id: str,
            body: Approval) -> FederatedRun:
    """QA signs the run; it is queued for the executor."""
    if not who.is_user or not who.has("qa"):
        raise PermissionDenied("Approving a federated run needs the qa role")
    run = get_run_for(session, who, run_id)
    if run.status != RunStatus.pending_approval:
        raise Conflict(f"Run is {run.status}; only runs pending approval can be approved")
    comment = body.comment or "federated run approved"
    signatures.sign(session, settings, signer_id=who.id, password=body.password,
                    meaning=body.meaning, entity_type=SIGNABLE, entity_id=run.id,
                    comment=comment)
    with audit.reason(session, comment):
        run.status, run.approved_by, run.approved_at = RunStatus.queued, who.id, utcnow()
        session.add(run)
    return run


def cancel(session: Session, who: Principal, run_id: str, why: str) -> FederatedRun:
    """Withdraw a run that has not started (a running run is stopped by the executor)."""
    run = get_run_for(session, who, run_id)
    if not who.is_user or not (who.has(*SEES_ALL) or who.id == run.created_by):
        raise PermissionDenied("Only QA, hub admins or the requester can cancel a run")
    if run.status in FINISHED:
        raise Conflict(f"Run is already {run.status}")
    set_status(session, run, RunStatus.cancelled, why)
    return run


def set_status(session: Session, run: FederatedRun, status: RunStatus, why: str) -> None:
    """Change a run's status (audited with the reason)."""
    with audit.reason(session, why):
        run.status, run.status_reason = status, why
        if status == RunStatus.running:
            run.started_at = utcnow()
        elif status in FINISHED:
            run.finished_at = utcnow()
        session.add(run)


def recover_interrupted(session: Session) -> int:
    """Runs left `running` by a previous hub process are failed with a reason."""
    audit.set_actor(session, EXECUTOR)
    stale = session.exec(select(FederatedRun).where(
        FederatedRun.status == RunStatus.running)).all()
    for run in stale:
        set_status(session, run, RunStatus.failed,
                   "the hub restarted while this run was running; start a new run")
    session.flush()
    return len(stale)


def metrics_of(session: Session, run_id: str, after: int = 0) -> Sequence[RunRoundMetric]:
    """Progress records with n > after, in order."""
    return session.exec(select(RunRoundMetric).where(
        RunRoundMetric.run_id == run_id, RunRoundMetric.n > after)
        .order_by(col(RunRoundMetric.n))).all()


def site_names(session: Session, site_ids: list[str]) -> dict[str, str]:
    rows = session.exec(select(Site).where(col(Site.id).in_(site_ids))).all()
    return {s.id: s.name for s in rows}


def progress(session: Session, run: FederatedRun) -> RunProgress:
    """Per-round, per-site metrics assembled from the progress records."""
    rounds: dict[int, RoundProgress] = {}
    joined: list[str] = []
    last = 0

    def site_row(r: RoundProgress, m: RunRoundMetric) -> SiteRound:
        label = m.site_label or m.site_id or "?"
        for s in r.sites:
            if s.site_label == label:
                return s
        s = SiteRound(site_id=m.site_id, site_label=label)
        r.sites.append(s)
        return s

    for m in metrics_of(session, run.id):
        last = m.n
        if m.kind == "joined":
            joined.append(m.site_label or m.site_id or "?")
            continue
        if m.round <= 0 or m.kind in ("started", "completed", "failed", "refused"):
            continue
        r = rounds.setdefault(m.round, RoundProgress(round=m.round, sites=[]))
        if m.kind in ("train", "evaluate"):
            setattr(site_row(r, m), m.kind, m.metrics)
        elif m.kind == "dropped":
            site_row(r, m).dropped = m.detail
        elif m.kind in ("train_aggregate", "evaluate_aggregate", "central"):
            setattr(r, m.kind, m.metrics)
    for r in rounds.values():
        r.sites.sort(key=lambda s: s.site_label)
    return RunProgress(run_id=run.id, status=run.status, status_reason=run.status_reason,
                       current_round=run.current_round, num_rounds=run.num_rounds,
                       joined=joined, excluded=run.excluded,
                       rounds=[rounds[k] for k in sorted(rounds)], last_n=last)
