"""``fedhub models``: list model versions, promote with an e-signature, roll back."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Column, Table

from hub.console import CliConsole
from hub.errors import HubError
from hub.federation.cli import _as, _fail

app = typer.Typer(help="The model registry (versions, promotion, rollback).",
                  no_args_is_help=True)
console = CliConsole()
ByOption = Annotated[str, typer.Option("--by", help="your username (signs as you)")]


@app.command("list")
def list_models(task: Annotated[str | None, typer.Option(help="filter by task")] = None,
                status: Annotated[str | None, typer.Option(help="filter by status")] = None
                ) -> None:
    """Model versions with status, indicators and run."""
    from hub.cli import open_db
    from hub.registry import service
    from hub.registry.models import ModelStatus

    table = Table(Column("id", no_wrap=True, min_width=36),
                  "task", "version", "status", "indicators", "metrics", "run")
    with open_db(migrate=False).session() as session:
        for m in service.list_models(session, task, ModelStatus(status) if status else None):
            metrics = ", ".join(f"{k}={v:.3g}" for k, v in list(m.final_metrics.items())[:3]
                                if isinstance(v, float | int))
            table.add_row(m.id, m.task, f"v{m.version}", m.status,
                          "pass" if m.passed else "FAIL", metrics, (m.run_id or "-")[:8])
    console.print(table)


def _password(password: str | None) -> str:
    return password or getpass.getpass("password (e-signature): ")


@app.command("promote")
def promote(model_id: str, by: ByOption,
            comment: Annotated[str | None, typer.Option(help="signature comment")] = None,
            password: Annotated[str | None, typer.Option(help="omit to be prompted")] = None
            ) -> None:
    """Promote a version to production (QA e-signature; the previous one is retired)."""
    from hub.cli import _settings, _unit_of_work
    from hub.registry import service

    pw = _password(password)
    with _unit_of_work() as session:
        try:
            m = service.promote(session, _settings(), _as(session, by), model_id, pw, comment)
        except HubError as exc:
            raise _fail(exc) from exc
        console.print(f"{m.task} v{m.version} is now {m.status}")


@app.command("rollback")
def rollback(task: str, by: ByOption,
             comment: Annotated[str | None, typer.Option(help="signature comment")] = None,
             password: Annotated[str | None, typer.Option(help="omit to be prompted")] = None
             ) -> None:
    """Return TASK's production to the previous version (QA e-signature)."""
    from hub.cli import _settings, _unit_of_work
    from hub.registry import service

    pw = _password(password)
    with _unit_of_work() as session:
        try:
            m = service.rollback(session, _settings(), _as(session, by), task, pw, comment)
        except HubError as exc:
            raise _fail(exc) from exc
        console.print(f"{m.task} production is v{m.version} again")
