"""Federation pages: runs list and request form, run detail with live per-site charts, approval."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from hub.deps import SettingsDep
from hub.errors import AccountLocked, SignatureRejected, ValidationFailed
from hub.federation import flows, service
from hub.federation.models import FINISHED, FederatedRun, RunStatus
from hub.federation.schemas import Approval, RunCreate, RunProgress
from hub.web import (
    FORM_ERRORS,
    Area,
    ESignForm,
    PageSession,
    PageUser,
    Series,
    WebUser,
    fail,
    form_errors,
    fragment,
    line_chart,
    page_router,
    redirect,
    register_area,
    render,
    require_page_role,
    signature_rows,
)

pages = page_router("/web/federation")
register_area(Area("Federated runs", "/web/federation/runs",
                   "Request, approve and follow federated training across sites.",
                   roles=("hub_admin", "qa", "site_admin", "researcher"), order=50))
Creator = Annotated[WebUser, Depends(require_page_role(*service.CREATORS))]
QA = Annotated[WebUser, Depends(require_page_role("qa"))]
HEADLINE = ("rmse", "recall", "val_loss", "mae")


def _form_body(form: dict[str, str]) -> dict[str, Any]:
    def num(key: str, default: str) -> str:
        return form.get(key) or default

    train = {k: float(form[k]) for k in ("epochs", "lr") if form.get(k)}
    if "epochs" in train:
        train["epochs"] = int(train["epochs"])
    return {"task": form.get("task", ""), "rounds": num("rounds", "5"),
            "strategy": num("strategy", "fedavg"), "proximal_mu": num("proximal_mu", "0"),
            "min_sites": num("min_sites", "2"), "round_timeout_s": num("round_timeout_s", "600"),
            "privacy": {"dp_clipping_norm": num("dp_clipping_norm", "0"),
                        "dp_noise_multiplier": num("dp_noise_multiplier", "0"),
                        "secure_aggregation": form.get("secure_aggregation") == "on"},
            "train": train}


def _list(request: Request, session: Session, who: WebUser, form: dict[str, str] | None = None,
          errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    from standards.tasks import task_names

    runs = service.list_runs(session, who.principal)
    return render(request, "federation/runs.html", {
        "runs": runs, "tasks": task_names(), "form": form or {}, "errors": errors or {},
        "can_create": who.has(*service.CREATORS)}, status_code)


@pages.get("/runs")
def runs(request: Request, who: PageUser, session: PageSession) -> HTMLResponse:
    """Federated runs you may see, and a form to request one."""
    return _list(request, session, who)


@pages.post("/runs")
async def create(request: Request, who: Creator, session: PageSession) -> Response:
    """Request a federated run (it waits for QA's signature)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        run = service.create_run(session, who.principal, RunCreate.model_validate(
            _form_body(form)), engine=request.app.state.settings.federation_engine)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _list(request, session, who, form, form_errors(exc), 422)
    return redirect(request, f"/web/federation/runs/{run.id}",
                    flash="Run requested; it starts once QA signs it.")


def _charts(prog: RunProgress) -> list[Any]:
    sites = sorted({s.site_label for r in prog.rounds for s in r.sites})
    charts = []
    train = [Series(name, [next((s.train.get("train_loss") for s in r.sites
                                 if s.site_label == name and s.train), None)
                           for r in prog.rounds], x=[r.round for r in prog.rounds])
             for name in sites]
    if prog.rounds:
        charts.append(line_chart(train, title="Training loss per site", x_label="Round",
                                 y_label="train loss"))
    key = next((k for k in HEADLINE for r in prog.rounds for s in r.sites if k in s.evaluate),
               None)
    if key:
        ev = [Series(name, [next((s.evaluate.get(key) for s in r.sites
                                  if s.site_label == name and s.evaluate), None)
                            for r in prog.rounds], x=[r.round for r in prog.rounds])
              for name in sites]
        central = [r.central.get(key) for r in prog.rounds]
        if any(v is not None for v in central):
            ev.append(Series("central test set", central, x=[r.round for r in prog.rounds]))
        charts.append(line_chart(ev, title=f"Evaluation {key} per site", x_label="Round",
                                 y_label=key))
    return charts


def _progress_ctx(session: Session, run: FederatedRun) -> dict[str, Any]:
    prog = service.progress(session, run)
    return {"run": run, "progress": prog, "charts": _charts(prog),
            "names": service.site_names(session, run.site_ids)}


def _detail(request: Request, session: Session, who: WebUser, run_id: str,
            sign_error: str | None = None, status_code: int = 200) -> HTMLResponse:
    run = service.get_run_for(session, who.principal, run_id)
    ctx = _progress_ctx(session, run)
    ctx.update({"signatures": signature_rows(session, service.SIGNABLE, run.id),
                "sign_error": sign_error, "finished": run.status in FINISHED,
                "record": {"Task": run.task, "Strategy": run.strategy, "Rounds": run.num_rounds,
                           "Sites": ", ".join(ctx["names"].get(s, s) for s in run.site_ids),
                           "Minimum sites": run.min_sites,
                           "DP clipping / noise": f"{run.dp_clipping_norm} / "
                                                  f"{run.dp_noise_multiplier}"}})
    return render(request, "federation/detail.html", ctx, status_code)


@pages.get("/runs/{run_id}")
def detail(run_id: str, request: Request, who: PageUser, session: PageSession) -> HTMLResponse:
    """One run: definition, approval, live per-round per-site metrics."""
    return _detail(request, session, who, run_id)


@pages.get("/runs/{run_id}/progress")
def progress(run_id: str, request: Request, who: PageUser,
             session: PageSession) -> HTMLResponse:
    """The live progress fragment (refreshed by the page until the run finishes)."""
    run = service.get_run_for(session, who.principal, run_id)
    return fragment(request, "federation/_progress.html", _progress_ctx(session, run),
                    final=run.status in FINISHED)


@pages.post("/runs/{run_id}/approve")
def approve(run_id: str, request: Request, who: QA, session: PageSession,
            settings: SettingsDep, form: ESignForm) -> Response:
    """Approve the run with an electronic signature; it is queued to start."""
    try:
        if not form.password:
            raise ValidationFailed("Re-enter your password to sign",
                                   errors=[{"pointer": "/password", "message": "required"}])
        service.approve(session, settings, who.principal, run_id, Approval(
            password=form.password, meaning=form.meaning, comment=form.comment or None))
    except (SignatureRejected, AccountLocked, ValidationFailed) as exc:
        fail(session, exc)
        return _detail(request, session, who, run_id, sign_error=exc.detail,
                       status_code=exc.status)
    session.commit()
    flows.get_executor(request.app).notify()
    return redirect(request, f"/web/federation/runs/{run_id}",
                    flash="Run approved and queued; progress appears below as rounds finish.")


@pages.post("/runs/{run_id}/cancel")
def cancel(run_id: str, request: Request, who: PageUser, session: PageSession,
           reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Cancel a run that has not finished."""
    run = service.get_run_for(session, who.principal, run_id)
    if run.status == RunStatus.running:
        flows.get_executor(request.app).cancel(run_id)
        return redirect(request, f"/web/federation/runs/{run_id}", flash="Stopping the run.")
    try:
        service.cancel(session, who.principal, run_id, reason or "cancelled from the portal")
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _detail(request, session, who, run_id, status_code=422)
    return redirect(request, f"/web/federation/runs/{run_id}", flash="Run cancelled.")
