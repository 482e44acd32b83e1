"""The run executor: approved runs execute one at a time on a Flower engine in the hub process.

The engine's progress events are written to `run_round_metric` as they arrive (one short
transaction per event), so the API, SSE stream and pages see rounds while the run goes on.
Finished runs register their model with the registry. On start, runs a previous hub process
left `running` are failed with a reason; queued runs are picked up.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.config import Settings
from hub.db import Database
from hub.federation import service
from hub.federation.deployment import DeploymentEngine, TlsFiles
from hub.federation.engine import FederationEngine, RunResult, RunSpec, SimulationEngine
from hub.federation.models import FederatedRun, RunRoundMetric, RunStatus
from hub.sites.flows import RegistrarFailed, SuperNodeRegistrar
from hub.sites.models import Site, SiteKey

log = logging.getLogger("fedhub.federation")
EngineFactory = Callable[[FederatedRun], FederationEngine]
PolicyFor = Callable[[Site, FederatedRun], dict[str, Any] | None]


def time_budget(run: FederatedRun) -> float:
    """Wall-clock limit of a simulated run: engine start-up, joining, train+evaluate rounds."""
    return 240.0 + run.round_timeout_s * (2 * run.num_rounds + 1)


def allow_declared_task(site: Site, run: FederatedRun) -> dict[str, Any] | None:
    """Simulated site policy: a site consents to the tasks it declared (any code version)."""
    allow = [{"task": t, "code-hash": "*"} for t in site.tasks or []]
    return {"site-id": site.id, "allow": allow}


class EventRecorder:
    """Turns engine events into progress records and run updates."""

    def __init__(self, session: Session, run: FederatedRun) -> None:
        self.session, self.run = session, run
        sites = session.exec(select(Site).where(col(Site.id).in_(run.site_ids))).all()
        self.by_id = {s.id: s.name for s in sites}
        self.by_name = {s.name: s.id for s in sites}
        last = session.exec(select(RunRoundMetric.n).where(RunRoundMetric.run_id == run.id)
                            .order_by(col(RunRoundMetric.n).desc())).first()
        self.n = int(last or 0)

    def _site(self, raw: Any) -> tuple[str | None, str]:
        raw = str(raw) if raw is not None else "?"
        if raw in self.by_id:
            return raw, self.by_id[raw]
        if raw in self.by_name:
            return self.by_name[raw], raw
        return None, raw

    def _add(self, kind: str, rnd: int = 0, site: Any = None, metrics: dict[str, Any] | None
             = None, detail: str | None = None) -> None:
        self.n += 1
        sid, label = self._site(site) if site is not None else (None, None)
        self.session.add(RunRoundMetric(run_id=self.run.id, n=self.n, round=rnd, kind=kind,
                                        site_id=sid, site_label=label, metrics=metrics or {},
                                        detail=detail))

    def __call__(self, ev: dict[str, Any]) -> None:
        kind, rnd = ev.get("type", ""), int(ev.get("round", 0) or 0)
        if kind == "run_started":
            self._add("started", metrics={"num_rounds": ev.get("num_rounds")})
            with audit.reason(self.session, "task code hash reported by the server app"):
                self.run.code_hash = ev.get("code_hash")
                self.session.add(self.run)
        elif kind == "site_joined":
            self._add("joined", site=ev["site_id"], metrics={"num_examples":
                                                           ev.get("num_examples", 0)})
        elif kind == "site_refused":
            sid, label = self._site(ev["site_id"])
            self._add("refused", site=ev["site_id"], detail=ev.get("reason"))
            with audit.reason(self.session, f"site {label} excluded: {ev.get('reason')}"):
                self.run.excluded = [*self.run.excluded, {"site_id": sid, "site": label,
                                                          "reason": ev.get("reason")}]
                self.session.add(self.run)
        elif kind in ("round_trained", "round_evaluated"):
            phase = "train" if kind == "round_trained" else "evaluate"
            for s in ev.get("sites", []):
                self._add(phase, rnd, s["site_id"], s.get("metrics"))
            self._add(f"{phase}_aggregate", rnd, metrics=ev.get("aggregate"))
            if phase == "train":
                self.run.current_round = rnd  # not audited (progress counter)
                self.session.add(self.run)
        elif kind == "site_dropped":
            self._add("dropped", rnd, ev["site_id"],
                      detail=f"{ev.get('phase')}: {ev.get('reason')}")
        elif kind == "central_evaluated":
            self._add("central", rnd, metrics=ev.get("metrics"))
        elif kind == "run_completed":
            self._add("completed", metrics=ev.get("final_metrics"))
        elif kind == "run_failed":
            self._add("failed", detail=ev.get("reason"))


def run_spec(session: Session, run: FederatedRun, policy_for: PolicyFor | None) -> RunSpec:
    """The engine's RunSpec for a run (simulation: one partition per participating site)."""
    sites = {s.id: s for s in session.exec(select(Site).where(col(Site.id).in_(run.site_ids)))}
    policies = None
    if policy_for is not None:
        policies = {}
        for i, sid in enumerate(run.site_ids):
            pol = policy_for(sites[sid], run)
            if pol is not None:
                policies[i] = pol
    return RunSpec(task=run.task, num_sites=len(run.site_ids), num_rounds=run.num_rounds,
                   strategy=run.strategy, proximal_mu=run.proximal_mu, min_sites=run.min_sites,
                   round_timeout=run.round_timeout_s, join_timeout=min(run.round_timeout_s, 300),
                   dp_noise_multiplier=run.dp_noise_multiplier,
                   dp_clipping_norm=run.dp_clipping_norm, train=dict(run.train),
                   data=dict(run.data), site_policies=policies, run_id=run.id)


def deployment_engine(settings: Settings, timeout_s: float | None = None) -> DeploymentEngine:
    """The Deployment Engine for the SuperLink the settings name (started elsewhere: its own
    process or container, never by a hub worker)."""
    tls = TlsFiles(settings.superlink_ca_file) if settings.superlink_ca_file else None
    return DeploymentEngine(Path(settings.data_dir) / "federation",
                            superlink=settings.superlink_address, manage_superlink=False,
                            tls=tls, timeout_s=timeout_s)


def configured_engine(settings: Settings) -> EngineFactory | None:
    """The engine factory `FEDHUB_FEDERATION_ENGINE` chooses (None: the Simulation Engine)."""
    if settings.federation_engine != "deployment":
        return None
    return lambda run: deployment_engine(settings, timeout_s=time_budget(run))


def stall_limit(run: FederatedRun) -> float:
    """Longest silence between two engine events before the run is stopped as stuck:
    joining, one round's timeout, and start-up / central evaluation slack."""
    return 120.0 + min(run.round_timeout_s, 300.0) + run.round_timeout_s


class StallWatch:
    """Sets `cancel` when no event arrived for `limit` seconds (an engine that never returns)."""

    def __init__(self, limit: float, cancel: threading.Event) -> None:
        self.limit, self.cancel, self.stalled = limit, cancel, False
        self.last = time.monotonic()
        self._done = threading.Event()

    def seen(self) -> None:
        self.last = time.monotonic()

    def _watch(self) -> None:
        while not self._done.wait(min(5.0, self.limit / 4)):
            if time.monotonic() - self.last > self.limit:
                self.stalled = True
                self.cancel.set()
                return

    def __enter__(self) -> StallWatch:
        self.last = time.monotonic()
        threading.Thread(target=self._watch, name="fedhub-run-watch", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()


class RunExecutor:
    """Executes queued runs one at a time (background thread, or `run_pending()` inline)."""

    def __init__(self, db: Database, settings: Settings, engine: EngineFactory | None = None,
                 policy_for: PolicyFor | None = allow_declared_task,
                 stall: Callable[[FederatedRun], float] | None = None) -> None:
        self.db, self.settings = db, settings
        self.stall = stall or stall_limit
        work = Path(settings.data_dir) / "federation"
        self.engine_factory: EngineFactory = engine or (
            lambda run: SimulationEngine(work, timeout_s=time_budget(run)))
        self.policy_for = policy_for
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------
    def recover(self) -> int:
        """Fail runs left running by a previous process."""
        with self.db.session() as session:
            n = service.recover_interrupted(session)
            session.commit()
        if n:
            log.warning("%d run(s) were left running by a previous hub process: failed", n)
        return n

    def start(self) -> RunExecutor:
        """Recover, then run queued work, in a daemon thread (never inside a request's
        transaction: SQLite would be locked by it)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="fedhub-runs", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (a running run is cancelled)."""
        self._stop.set()
        for ev in self._cancel.values():
            ev.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def notify(self) -> None:
        """A run was queued: look now rather than at the next poll."""
        self._wake.set()

    def cancel(self, run_id: str) -> bool:
        """Ask a running run to stop; returns whether it was running here."""
        ev = self._cancel.get(run_id)
        if ev is not None:
            ev.set()
        return ev is not None

    def _loop(self) -> None:
        try:
            self.recover()
        except Exception:
            log.exception("could not fail interrupted runs")
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:  # keep the executor alive; the run itself is marked failed
                log.exception("federation executor error")
            self._wake.wait(5.0)
            self._wake.clear()

    # --- work ----------------------------------------------------------------------
    def _claim(self) -> str | None:
        # hub workers each run an executor: on PostgreSQL the row lock (skipping rows another
        # worker is claiming) gives each queued run to exactly one of them
        with self._lock, self.db.session() as session:
            audit.set_actor(session, service.EXECUTOR)
            run = session.exec(select(FederatedRun).where(
                FederatedRun.status == RunStatus.queued)
                .order_by(col(FederatedRun.approved_at)).limit(1)
                .with_for_update(skip_locked=True)).first()
            if run is None:
                return None
            service.set_status(session, run, RunStatus.running, "started by the run executor")
            session.commit()
            return run.id

    def run_pending(self) -> int:
        """Execute queued runs until none is left; returns how many ran."""
        count = 0
        while not self._stop.is_set():
            run_id = self._claim()
            if run_id is None:
                return count
            self.execute(run_id)
            count += 1
        return count

    def execute(self, run_id: str) -> None:
        """Run one claimed run to its end and record the outcome."""
        cancel = self._cancel.setdefault(run_id, threading.Event())
        try:
            with self.db.session() as session:
                audit.set_actor(session, service.EXECUTOR)
                run = session.get(FederatedRun, run_id)
                assert run is not None
                spec = run_spec(session, run, self.policy_for if run.engine == "simulation"
                                else None)
                recorder = EventRecorder(session, run)
                session.commit()  # hold no transaction while the engine starts (SQLite lock)
                watch = StallWatch(self.stall(run), cancel)

                def on_event(ev: dict[str, Any]) -> None:
                    watch.seen()
                    recorder(ev)
                    session.commit()

                try:
                    with watch:
                        result = self.engine_factory(run).run(spec, progress=on_event,
                                                              cancel=cancel)
                except Exception as exc:  # engine could not run at all
                    log.exception("run %s: engine error", run_id)
                    result = RunResult(run_id=run_id, status="failed",
                                       reason=f"engine error: {type(exc).__name__}: {exc}")
                if watch.stalled:
                    result.status = "failed"
                    result.reason = (f"no progress from the Flower engine for {watch.limit:.0f} s "
                                     "(engine start-up failed or a round is stuck); stopped")
                self.finish(session, run, result)
                session.commit()
        finally:
            self._cancel.pop(run_id, None)

    def finish(self, session: Session, run: FederatedRun, result: RunResult) -> None:
        """Record the outcome; a completed run registers its model version."""
        session.refresh(run)
        if result.status == "completed" and result.model_bundle is not None:
            from hub.registry import service as registry
            from standards.tasks import get_task

            verdicts = [vars(v) for v in get_task(run.task).judge(result.final_metrics)]
            with audit.reason(session, "final evaluation against the task's indicators"):
                run.final_metrics = dict(result.final_metrics)
                run.indicators = verdicts
                session.add(run)
            model = registry.register_run_model(session, run, result)
            with audit.reason(session, f"model version {model.version} registered"):
                run.model_version_id = model.id
                session.add(run)
            service.set_status(session, run, RunStatus.completed,
                               f"completed {len(result.rounds)} round(s) in "
                               f"{result.duration_s:.0f} s")
        elif result.status == "cancelled":
            service.set_status(session, run, RunStatus.cancelled, result.reason or "cancelled")
        else:
            service.set_status(session, run, RunStatus.failed,
                               result.reason or "the run failed without a reason")


class DeploymentRegistrar(SuperNodeRegistrar):
    """Registers site keys at the SuperLink of a `DeploymentEngine` (its own flwr wrapper).

    Install with `hub.sites.flows.set_registrar(DeploymentRegistrar(engine))`: approving a
    site's enrollment (or rotating its key) then registers the key for SuperNode auth.
    """

    def __init__(self, engine: DeploymentEngine) -> None:
        self.engine = engine

    def register(self, site: Site, key: SiteKey) -> str | None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "site.pub"
            path.write_text(key.public_key + "\n")
            try:
                out = self.engine.register_site(path, site.name)
            except (RuntimeError, OSError) as exc:
                raise RegistrarFailed(str(exc)) from exc
        node = out.get("node-id")
        return str(node) if node is not None else None

    def unregister(self, site: Site, key: SiteKey) -> None:
        if key.supernode_id:
            try:
                self.engine._flwr("supernode", "unregister", key.supernode_id, "fedhub")
            except RuntimeError as exc:
                raise RegistrarFailed(str(exc)) from exc


def get_executor(app: Any) -> RunExecutor:
    """The app's executor, created and started on first use (tests install their own)."""
    ex: RunExecutor | None = getattr(app.state, "federation_executor", None)
    if ex is None:
        with _create_lock:
            ex = getattr(app.state, "federation_executor", None)
            if ex is None:
                settings = app.state.settings
                ex = RunExecutor(app.state.db, settings,
                                 engine=configured_engine(settings)).start()
                app.state.federation_executor = ex
    return ex


_create_lock = threading.Lock()
