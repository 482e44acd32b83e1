"""Federated runs: request, QA approval, listing, live progress (polling and SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from hub.db import Database
from hub.deps import CurrentPrincipal, Offset, SessionDep, SettingsDep
from hub.federation import flows, service
from hub.federation.models import FINISHED, FederatedRun, RunStatus
from hub.federation.schemas import (
    Approval,
    RoundMetricPublic,
    RunCreate,
    RunProgress,
    RunPublic,
)
from hub.sites import flows as site_flows


def executor_ready(request: Request) -> None:
    """Start the executor on first use (it fails runs a previous process left running)."""
    flows.get_executor(request.app)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the run executor with the hub (tests install theirs and start it on first use).
    With the Deployment Engine, approved site keys are registered at its SuperLink."""
    settings = app.state.settings
    previous = site_flows.registrar()
    if settings.federation_engine == "deployment":
        site_flows.set_registrar(flows.DeploymentRegistrar(flows.deployment_engine(settings)))
    if settings.environment != "test":
        flows.get_executor(app)
    try:
        yield
    finally:
        ex = getattr(app.state, "federation_executor", None)
        if ex is not None:
            ex.stop()
        site_flows.set_registrar(previous)


router = APIRouter(tags=["federation"], prefix="/federation", lifespan=lifespan,
                   dependencies=[Depends(executor_ready)])


class Reason(BaseModel):
    """Why (recorded in the audit trail)."""

    reason: str = Field(min_length=3, max_length=2000)


@router.post("/runs", response_model=RunPublic, status_code=201)
def create_run(data: RunCreate, who: CurrentPrincipal, session: SessionDep,
               settings: SettingsDep) -> FederatedRun:
    """Request a federated run; it starts after a QA e-signature (POST …/approve)."""
    return service.create_run(session, who, data, engine=settings.federation_engine)


@router.get("/runs", response_model=list[RunPublic])
def list_runs(who: CurrentPrincipal, session: SessionDep,
              status: Annotated[RunStatus | None, Query()] = None) -> list[FederatedRun]:
    """Runs your organization's sites take part in (all runs for QA and hub admins)."""
    return service.list_runs(session, who, status)


@router.get("/runs/{run_id}", response_model=RunPublic)
def get_run(run_id: str, who: CurrentPrincipal, session: SessionDep) -> FederatedRun:
    """One run with its status, exclusions and final evaluation."""
    return service.get_run_for(session, who, run_id)


@router.post("/runs/{run_id}/approve", response_model=RunPublic)
def approve_run(run_id: str, body: Approval, who: CurrentPrincipal, session: SessionDep,
                settings: SettingsDep, request: Request, tasks: BackgroundTasks) -> FederatedRun:
    """QA approves a run with an electronic signature; the run is queued to start."""
    run = service.approve(session, settings, who, run_id, body)
    tasks.add_task(flows.get_executor(request.app).notify)  # after the commit
    return run


@router.post("/runs/{run_id}/cancel", response_model=RunPublic)
def cancel_run(run_id: str, body: Reason, who: CurrentPrincipal, session: SessionDep,
               request: Request) -> FederatedRun:
    """Cancel a run that has not finished (a running run is stopped)."""
    run = service.get_run_for(session, who, run_id)
    if run.status == RunStatus.running:
        if not who.is_user or not (who.has(*service.SEES_ALL) or who.id == run.created_by):
            return service.cancel(session, who, run_id, body.reason)  # raises PermissionDenied
        flows.get_executor(request.app).cancel(run_id)
        return run
    return service.cancel(session, who, run_id, body.reason)


@router.get("/runs/{run_id}/progress", response_model=RunProgress)
def run_progress(run_id: str, who: CurrentPrincipal, session: SessionDep) -> RunProgress:
    """Per-round, per-site metrics so far (poll this, or follow …/events)."""
    return service.progress(session, service.get_run_for(session, who, run_id))


def _batch(db: Database, run_id: str, after: int) -> tuple[list[str], int, bool]:
    with db.session() as session:
        run = session.get(FederatedRun, run_id)
        rows = service.metrics_of(session, run_id, after)
        out = []
        for m in rows:
            body = RoundMetricPublic.model_validate(m).model_dump_json()
            out.append(f"id: {m.n}\nevent: {m.kind}\ndata: {body}\n\n")
            after = m.n
        done = run is None or run.status in FINISHED
        if done and not rows and run is not None:
            status = json.dumps({"status": run.status, "reason": run.status_reason})
            out.append(f"event: end\ndata: {status}\n\n")
        return out, after, done and not rows


async def _stream(request: Request, run_id: str, after: int) -> AsyncIterator[str]:
    db: Database = request.app.state.db
    yield "retry: 2000\n\n"
    while True:
        chunks, after, finished = await anyio.to_thread.run_sync(_batch, db, run_id, after)
        for c in chunks:
            yield c
        if finished or await request.is_disconnected():
            return
        if not chunks:
            await anyio.sleep(0.5)


@router.get("/runs/{run_id}/events", response_class=StreamingResponse)
def run_events(run_id: str, who: CurrentPrincipal, session: SessionDep, request: Request,
               after: Offset = 0,
               last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Server-sent events: one event per progress record, then `end` when the run finishes."""
    service.get_run_for(session, who, run_id)
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after
    return StreamingResponse(_stream(request, run_id, start), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

