"""``fedhub run``: request, list, show and approve federated runs from the shell.

Approved runs are executed by the hub's run executor (``fedhub serve``); ``fedhub run execute``
runs queued runs in this process instead (no hub serving).
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table
from sqlmodel import Session

from hub.console import CliConsole, act_as, problem_exit
from hub.errors import HubError
from hub.identity.principal import Principal

app = typer.Typer(help="Federated runs (request, approve with e-signature, follow).",
                  no_args_is_help=True)
console = CliConsole()
err = CliConsole(stderr=True)
ByOption = Annotated[str, typer.Option("--by", help="your username (acts and signs as you)")]
CLI_ADMIN = Principal("user", "cli", "cli", "", frozenset({"hub_admin", "qa"}))


def _as(session: Session, username: str) -> Principal:
    return act_as(session, username, err)


def _fail(exc: HubError) -> typer.Exit:
    return problem_exit(exc, err)


def _kv(items: list[str], option: str) -> dict[str, float | int | str]:
    out: dict[str, float | int | str] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            err.print(f"[bold red]error:[/] {option} takes key=value, got {escape(item)!r}")
            raise typer.Exit(2)
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


@app.command("start")
def start(
    by: ByOption,
    task: Annotated[str, typer.Option(help="molecular-property | equipment-anomaly")],
    site: Annotated[list[str] | None, typer.Option(help="site id (repeatable; default: all "
                                                        "active sites offering the task)")] = None,
    rounds: Annotated[int, typer.Option(min=1, max=500)] = 5,
    strategy: Annotated[str, typer.Option(help="fedavg | fedprox")] = "fedavg",
    mu: Annotated[float, typer.Option(help="FedProx proximal mu")] = 0.0,
    min_sites: Annotated[int, typer.Option(min=1)] = 2,
    round_timeout: Annotated[float, typer.Option(help="seconds per round")] = 600.0,
    dp_clip: Annotated[float, typer.Option(help="client-side DP clipping norm")] = 0.0,
    dp_noise: Annotated[float, typer.Option(help="DP noise multiplier")] = 0.0,
    train: Annotated[list[str] | None, typer.Option(help="key=value, e.g. epochs=3")] = None,
    data: Annotated[list[str] | None, typer.Option(help="key=value, e.g. "
                                                        "holdout-fraction=0.2")] = None,
) -> None:
    """Request a run (it waits for a QA e-signature: fedhub run approve)."""
    from pydantic import ValidationError

    from hub.cli import _settings, _unit_of_work
    from hub.federation import service
    from hub.federation.schemas import RunCreate

    try:
        body = RunCreate.model_validate({
            "task": task, "site_ids": site or None, "rounds": rounds, "strategy": strategy,
            "proximal_mu": mu, "min_sites": min_sites, "round_timeout_s": round_timeout,
            "privacy": {"dp_clipping_norm": dp_clip, "dp_noise_multiplier": dp_noise},
            "train": _kv(train or [], "--train"), "data": _kv(data or [], "--data")})
    except ValidationError as exc:
        for e in exc.errors():
            err.print(f"[bold red]error:[/] {'/'.join(map(str, e['loc']))}: {e['msg']}")
        raise typer.Exit(2) from exc
    with _unit_of_work() as session:
        try:
            run = service.create_run(session, _as(session, by), body,
                                     engine=_settings().federation_engine)
        except HubError as exc:
            raise _fail(exc) from exc
        console.print(f"run {run.id} requested ({len(run.site_ids)} sites); "
                      f"approve with: fedhub run approve {run.id} --by <qa user>")


@app.command("approve")
def approve(run_id: str, by: ByOption,
            comment: Annotated[str | None, typer.Option(help="signature comment")] = None,
            password: Annotated[str | None, typer.Option(help="omit to be prompted")] = None
            ) -> None:
    """Sign the run as QA (password re-entered); the hub's executor then starts it."""
    from hub.cli import _settings, _unit_of_work
    from hub.federation import service
    from hub.federation.schemas import Approval

    pw = password or getpass.getpass("password (e-signature): ")
    with _unit_of_work() as session:
        try:
            run = service.approve(session, _settings(), _as(session, by), run_id,
                                  Approval(password=pw, comment=comment))
        except HubError as exc:
            raise _fail(exc) from exc
        console.print(f"run {run.id} signed and {run.status}")


@app.command("list")
def list_runs(status: Annotated[str | None, typer.Option(help="filter by status")] = None
              ) -> None:
    """Every run with task, sites, rounds and status."""
    from hub.cli import open_db
    from hub.federation import service
    from hub.federation.models import RunStatus

    table = Table(Column("id", no_wrap=True, min_width=36),
                  "task", "sites", "round", "strategy", "status", "created (UTC)")
    with open_db(migrate=False).session() as session:
        for r in service.list_runs(session, CLI_ADMIN, RunStatus(status) if status else None):
            table.add_row(r.id, r.task, str(len(r.site_ids)), f"{r.current_round}/"
                          f"{r.num_rounds}", r.strategy, r.status,
                          r.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    console.print(table)


@app.command("show")
def show(run_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One run: status, exclusions, per-round per-site metrics, final evaluation."""
    from hub.cli import open_db
    from hub.federation import service

    with open_db(migrate=False).session() as session:
        try:
            run = service.get_run_for(session, CLI_ADMIN, run_id)
        except HubError as exc:
            raise _fail(exc) from exc
        prog = service.progress(session, run)
    if as_json:
        console.print_json(prog.model_dump_json())
        return
    console.print(f"run {run.id}: {run.task}, {run.strategy}, {run.status}"
                  f" — {run.status_reason or ''}")
    for ex in run.excluded:
        console.print(f"  excluded {ex.get('site')}: {ex.get('reason')}")
    table = Table("round", "site", "train", "evaluate", "central")
    for r in prog.rounds:
        central = ", ".join(f"{k}={v:.3f}" for k, v in r.central.items() if v is not None)
        for s in r.sites:
            fmt = ", ".join(f"{k}={v:.3g}" for k, v in s.evaluate.items()
                            if isinstance(v, float | int) and k != "num-examples")
            loss = s.train.get("train_loss")
            table.add_row(str(r.round), s.site_label, s.dropped or (f"{loss:.3f}" if loss
                                                                     else "-"), fmt, central)
            central = ""
    console.print(table)
    if run.final_metrics:
        console.print("final: " + ", ".join(f"{i['metric']}={i['value']} {i['op']} "
                                            f"{i['threshold']} {'PASS' if i['passed'] else 'FAIL'}"
                                            for i in run.indicators))
        console.print(f"model version: {run.model_version_id}")


@app.command("execute")
def execute() -> None:
    """Run queued (approved) runs in this process, one at a time, then exit."""
    from hub.cli import _settings, open_db
    from hub.federation.flows import RunExecutor, configured_engine

    settings = _settings()
    ex = RunExecutor(open_db(), settings, engine=configured_engine(settings))
    ex.recover()
    console.print(f"{ex.run_pending()} run(s) executed")
