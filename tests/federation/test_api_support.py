"""Support for the hub-side federation and registry tests: sites, scripted engines."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from hub.federation.engine import FederationEngine, Progress, RunResult, RunSpec
from hub.identity.models import Organization
from hub.sites.models import Site, SiteKind, SiteStatus
from standards.tasks import get_task
from standards.tasks.common import get_weights


def make_site(session: Session, org: Organization, name: str, tasks: list[str],
              status: SiteStatus = SiteStatus.active, kind: str = "lab") -> Site:
    site = Site(name=name, organization_id=org.id, kind=SiteKind(kind), tasks=tasks, status=status,
                requested_by="test", location={"enterprise": "e", "site": name})
    session.add(site)
    session.commit()
    return site


def bundle_for(task_name: str, metrics: dict[str, float]) -> bytes:
    """A real model bundle of the task (freshly initialized weights)."""
    task = get_task(task_name)
    spec = task.default_spec()
    return task.bundle(spec, get_weights(task.build_model(spec)), metrics).to_bytes()


Script = Callable[[RunSpec, list[str]], list[dict[str, Any]]]


def rounds_script(metrics: dict[str, float], drop: dict[int, str] | None = None,
                  refuse: dict[int, str] | None = None, fail_at: int | None = None) -> Script:
    """Events a ServerApp emits: joins/refusals, per-site train/evaluate per round, central."""
    drop, refuse = drop or {}, refuse or {}

    def script(spec: RunSpec, sites: list[str]) -> list[dict[str, Any]]:
        evs: list[dict[str, Any]] = [{"type": "run_started", "code_hash": "sha256:test",
                                      "num_rounds": spec.num_rounds}]
        live = []
        for i, s in enumerate(sites):
            if i in refuse:
                evs.append({"type": "site_refused", "site_id": s, "node_id": i,
                            "reason": refuse[i]})
            else:
                evs.append({"type": "site_joined", "site_id": s, "node_id": i,
                            "num_examples": 100 + i})
                live.append((i, s))
        for r in range(1, spec.num_rounds + 1):
            ok = [(i, s) for i, s in live if not (i in drop and r >= 2)]
            for i, s in live:
                if (i, s) not in ok:
                    evs.append({"type": "site_dropped", "round": r, "phase": "train",
                                "site_id": s, "node_id": i, "reason": drop[i]})
            if fail_at == r:
                evs.append({"type": "run_failed", "reason": f"round {r}: only {len(ok)} "
                            f"site(s) returned a model update (at least {spec.min_sites} "
                            "required)"})
                return evs
            evs.append({"type": "round_trained", "round": r, "aggregate": {"train_loss": 1 / r},
                        "sites": [{"site_id": s, "node_id": i,
                                   "metrics": {"train_loss": 1 / r + i}} for i, s in ok]})
            evs.append({"type": "round_evaluated", "round": r, "aggregate": {"rmse": 1 / r},
                        "sites": [{"site_id": s, "node_id": i,
                                   "metrics": {"rmse": 1 / r + i / 10}} for i, s in ok]})
            evs.append({"type": "central_evaluated", "round": r,
                        "metrics": {k: v for k, v in metrics.items()}})
        evs.append({"type": "run_completed", "final_metrics": metrics, "indicators": [],
                    "duration_s": 1.0})
        return evs

    return script


class ScriptedEngine(FederationEngine):
    """Emits a scripted event sequence through the real `RunResult.from_events` path."""

    def __init__(self, work_dir: Any, script: Script, task: str,
                 pause: threading.Event | None = None) -> None:
        super().__init__(work_dir)
        self.script, self.task, self.pause = script, task, pause
        self.specs: list[RunSpec] = []

    def run(self, spec: RunSpec, progress: Progress | None = None,
            cancel: threading.Event | None = None) -> RunResult:
        self.specs.append(spec)
        assert spec.site_policies is not None
        sites = [spec.site_policies[i]["site-id"] for i in range(spec.num_sites)]
        events = self.script(spec, sites)
        for ev in events:
            if progress:
                progress(ev)
        run_dir = self.run_dir(spec)
        res_dir = run_dir / "result"
        res_dir.mkdir(parents=True, exist_ok=True)
        if events[-1]["type"] == "run_completed":
            (res_dir / "model.bundle").write_bytes(
                bundle_for(self.task, events[-1]["final_metrics"]))
        return RunResult.from_events(spec.run_id, events, res_dir)
