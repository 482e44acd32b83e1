"""Run federated training on Flower's engines: `RunSpec` in, `RunResult` out, progress events.

Progress channel: the ServerApp appends one JSON object per line to `<run dir>/events.jsonl`
(the ServerApp runs in a separate process: the simulation subprocess here, or the SuperLink's
ServerApp process in deployment). `run()` tails that file and calls `progress(event)` in the
caller's thread as events arrive, then builds the `RunResult` from the events plus
`<run dir>/result/{model.bundle,result.json}`. Event types: run_started, site_joined,
site_refused, site_dropped, round_trained, round_evaluated, central_evaluated,
run_completed, run_failed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLIENT_APP = "site_agent.flower.client_app:app"
SERVER_APP = "hub.federation.server_app:app"
Progress = Callable[[dict[str, Any]], None]


@dataclass
class RunSpec:
    """What to run: task, sites, rounds, strategy, dropout/DP rules and hyperparameters."""

    task: str
    num_sites: int = 3  # simulation: how many simulated sites (partitions)
    num_rounds: int = 5
    strategy: str = "fedavg"
    proximal_mu: float = 0.0
    min_sites: int = 2
    round_timeout: float = 600.0
    join_timeout: float = 120.0
    dp_noise_multiplier: float = 0.0
    dp_clipping_norm: float = 0.0
    evaluate_every: int = 1
    seed: int = 0
    train: dict[str, float | int] = field(
        default_factory=dict
    )  # epochs, lr, weight-decay, batch-size
    data: dict[str, float | int | str] = field(
        default_factory=dict
    )  # holdout-fraction, data-seed, plant-*
    site_policies: dict[int, dict[str, Any]] | None = (
        None  # simulation: partition -> consent policy
    )
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def run_config(self, run_dir: Path) -> dict[str, Any]:
        """Flat Flower run config for the ServerApp."""
        cfg: dict[str, Any] = {
            "task": self.task,
            "num-rounds": self.num_rounds,
            "strategy": self.strategy,
            "proximal-mu": float(self.proximal_mu),
            "min-sites": self.min_sites,
            "expected-sites": self.num_sites,
            "round-timeout": float(self.round_timeout),
            "join-timeout": float(self.join_timeout),
            "dp-noise-multiplier": float(self.dp_noise_multiplier),
            "dp-clipping-norm": float(self.dp_clipping_norm),
            "evaluate-every": self.evaluate_every,
            "seed": self.seed,
            "run-label": self.run_id,
            "progress-file": str(run_dir / "events.jsonl"),
            "result-dir": str(run_dir / "result"),
        }
        return {**cfg, **self.train, **self.data}


@dataclass
class SiteResult:
    """One site's reply in one round."""

    site_id: str
    node_id: int
    metrics: dict[str, float]


@dataclass
class RoundRecord:
    """Everything reported for one round."""

    round: int
    train: list[SiteResult] = field(default_factory=list)
    evaluate: list[SiteResult] = field(default_factory=list)
    train_aggregate: dict[str, float] = field(default_factory=dict)
    evaluate_aggregate: dict[str, float] = field(default_factory=dict)
    central: dict[str, float] = field(default_factory=dict)
    dropped: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunResult:
    """Outcome of a run: per-round per-site metrics, final evaluation, model bundle."""

    run_id: str
    status: str  # completed | failed | cancelled
    reason: str = ""
    sites: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    rounds: list[RoundRecord] = field(default_factory=list)
    initial_central: dict[str, float] = field(default_factory=dict)
    final_metrics: dict[str, float] = field(default_factory=dict)
    indicators: list[dict[str, Any]] = field(default_factory=list)
    model_bundle: bytes | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        """Completed and every declared indicator passed."""
        return self.status == "completed" and all(i["passed"] for i in self.indicators)

    @classmethod
    def from_events(cls, run_id: str, events: list[dict[str, Any]], result_dir: Path) -> RunResult:
        """Assemble the result from the event log and the result directory."""
        res = cls(run_id=run_id, status="failed", events=events)
        rounds: dict[int, RoundRecord] = {}

        def rnd(n: int) -> RoundRecord:
            return rounds.setdefault(n, RoundRecord(n))

        for ev in events:
            kind = ev["type"]
            if kind == "site_joined":
                res.sites.append({k: ev[k] for k in ("site_id", "node_id", "num_examples")})
            elif kind == "site_refused":
                res.refused.append({k: ev[k] for k in ("site_id", "node_id", "reason")})
            elif kind in ("round_trained", "round_evaluated"):
                r = rnd(int(ev["round"]))
                sites = [SiteResult(s["site_id"], s["node_id"], s["metrics"]) for s in ev["sites"]]
                if kind == "round_trained":
                    r.train, r.train_aggregate = sites, ev["aggregate"]
                else:
                    r.evaluate, r.evaluate_aggregate = sites, ev["aggregate"]
            elif kind == "site_dropped":
                rnd(int(ev["round"])).dropped.append(
                    {k: ev[k] for k in ("site_id", "phase", "reason")}
                )
            elif kind == "central_evaluated":
                if int(ev["round"]) == 0:
                    res.initial_central = ev["metrics"]
                else:
                    rnd(int(ev["round"])).central = ev["metrics"]
            elif kind == "run_completed":
                res.status = "completed"
                res.final_metrics, res.indicators = ev["final_metrics"], ev["indicators"]
                res.duration_s = float(ev.get("duration_s", 0.0))
            elif kind == "run_failed":
                res.status, res.reason = "failed", ev["reason"]
        res.rounds = [rounds[k] for k in sorted(rounds)]
        bundle = result_dir / "model.bundle"
        if res.status == "completed" and bundle.exists():
            res.model_bundle = bundle.read_bytes()
        return res


class FederationEngine(ABC):
    """Runs a `RunSpec` on some Flower engine and reports progress while it runs."""

    def __init__(self, work_dir: str | Path) -> None:
        self.work_dir = Path(work_dir).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def run(
        self, spec: RunSpec, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> RunResult:
        """Run to completion (or failure/cancel); `progress(event)` is called as rounds finish."""

    def run_dir(self, spec: RunSpec) -> Path:
        """Per-run directory holding events, logs and results."""
        d = self.work_dir / "runs" / spec.run_id
        d.mkdir(parents=True, exist_ok=True)
        return d


class EventTail:
    """Reads new complete lines of a JSON Lines file as they are appended."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0
        self.events: list[dict[str, Any]] = []

    def poll(self) -> Iterator[dict[str, Any]]:
        """Events appended since the last poll."""
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            if line.strip():
                ev = json.loads(line)
                self.events.append(ev)
                yield ev


def _short_dir(preferred: Path) -> Path:
    """Ray's socket paths must stay short (< 108 bytes): fall back to a /tmp directory."""
    if len(str(preferred)) <= 40:
        preferred.mkdir(parents=True, exist_ok=True)
        return preferred
    return Path(tempfile.mkdtemp(prefix="fh-ray-"))


def supervise(
    proc: subprocess.Popen[bytes],
    tail: EventTail,
    progress: Progress | None,
    cancel: threading.Event | None,
    deadline: float | None,
) -> str:
    """Forward events until the process exits; returns "", "cancelled" or "timeout"."""
    outcome = ""
    while proc.poll() is None:
        for ev in tail.poll():
            if progress:
                progress(ev)
        if cancel is not None and cancel.is_set():
            outcome = "cancelled"
        elif deadline is not None and time.monotonic() > deadline:
            outcome = "timeout"
        if outcome:
            stop_process_group(proc)
            break
        time.sleep(0.2)
    for ev in tail.poll():
        if progress:
            progress(ev)
    return outcome


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group we started, then SIGKILL after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


class SimulationEngine(FederationEngine):
    """Flower Simulation Engine (Ray) in a child process: one machine, simulated sites.

    FLWR_HOME and Ray's temp dir live under the work dir; each client gets one CPU.
    Simulated sites' consent comes from `RunSpec.site_policies` (absent: they consent).
    """

    def __init__(
        self,
        work_dir: str | Path,
        client_app: str = CLIENT_APP,
        num_cpus: int | None = None,
        timeout_s: float | None = None,
        python: str = sys.executable,
    ) -> None:
        super().__init__(work_dir)
        self.client_app, self.num_cpus, self.timeout_s, self.python = (
            client_app,
            num_cpus,
            timeout_s,
            python,
        )

    def run(
        self, spec: RunSpec, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> RunResult:
        """Run the simulation and return its result (blocking)."""
        run_dir = self.run_dir(spec)
        ray_dir = _short_dir(self.work_dir / "ray")
        env = {**os.environ, "FLWR_HOME": str(self.work_dir / "flwr"), "RAY_TMPDIR": str(ray_dir),
               # the run log is a record of what each site did: keep one line per site, not
               # Ray's "[repeated Nx across cluster]" summary
               "RAY_DEDUP_LOGS": "0"}
        if spec.site_policies is not None:
            policies = {"partitions": {str(k): v for k, v in spec.site_policies.items()}}
            (run_dir / "policies.json").write_text(json.dumps(policies))
            env["FEDHUB_SITE_POLICY_FILE"] = str(run_dir / "policies.json")
        job = {
            "client_app": self.client_app,
            "num_supernodes": spec.num_sites,
            "run_config": spec.run_config(run_dir),
            "backend_config": {
                "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                "init_args": {
                    "_temp_dir": str(ray_dir),
                    "include_dashboard": False,
                    **({"num_cpus": self.num_cpus} if self.num_cpus else {}),
                },
            },
        }
        (run_dir / "job.json").write_text(json.dumps(job, indent=1))
        tail = EventTail(run_dir / "events.jsonl")
        started = time.monotonic()
        with (run_dir / "flower.log").open("wb") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter + our module
                [self.python, "-m", "hub.federation.engine", "simulate", str(run_dir / "job.json")],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                cwd=os.getcwd(),
            )
            deadline = started + self.timeout_s if self.timeout_s else None
            outcome = supervise(proc, tail, progress, cancel, deadline)
        stop_process_group(proc, grace=5.0)  # Ray helpers left in the group, if any
        if ray_dir != self.work_dir / "ray":
            shutil.rmtree(ray_dir, ignore_errors=True)
        result = RunResult.from_events(spec.run_id, tail.events, run_dir / "result")
        if outcome:
            result.status, result.reason = (
                ("cancelled", "cancelled")
                if outcome == "cancelled"
                else ("failed", f"run exceeded {self.timeout_s:g} s")
            )
        elif result.status == "failed" and not result.reason:
            result.reason = (
                f"simulation exited with code {proc.returncode}; see {run_dir / 'flower.log'}"
            )
        if not result.duration_s:
            result.duration_s = time.monotonic() - started
        return result


def load_object(ref: str) -> Any:
    """Import "package.module:attribute" (the hub never imports site code statically)."""
    import importlib

    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _start_ray(init_args: Mapping[str, Any], attempts: int = 4) -> None:
    """Start Ray before Flower does, retrying: on a loaded machine the raylet can miss Ray's
    fixed 30 s start-up window. Flower then reuses this Ray instance."""
    import logging

    from hub.rayinit import init_ray

    pythonpath = os.pathsep.join([*sys.path, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    os.environ["PYTHONPATH"] = pythonpath  # Ray workers must import the same code
    args = {"logging_level": logging.WARNING, "log_to_driver": True, **init_args}
    init_ray(attempts, runtime_env={"env_vars": {"PYTHONPATH": pythonpath}}, **args)


def _root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def _simulate(job_path: str) -> int:
    """Child-process entry: run one simulation described by a job file."""
    from flwr.simulation import run_simulation

    from hub.federation.server_app import ProgressSink, build_server_app

    job = json.loads(Path(job_path).read_text())
    events = Path(job["run_config"]["progress-file"])
    try:
        _start_ray(job["backend_config"].get("init_args", {}))
        run_simulation(
            server_app=build_server_app(job["run_config"]),
            client_app=load_object(job["client_app"]),
            num_supernodes=int(job["num_supernodes"]),
            backend_config=job["backend_config"],
        )
    except Exception as exc:
        finished = events.exists() and any(
            json.loads(line)["type"] in ("run_completed", "run_failed")
            for line in events.read_text().splitlines()
            if line.strip()
        )
        if not finished:  # the engine itself failed: say why instead of waiting for timeouts
            cause = _root_cause(exc)
            sink = ProgressSink(events, run_label=str(job["run_config"].get("run-label", "")))
            sink(
                "run_failed",
                {
                    "reason": f"Simulation Engine failed: {type(cause).__name__}: {cause}",
                    "error": type(cause).__name__,
                },
            )
        sys.stdout.flush()
        os._exit(1)  # the ServerApp thread may still be waiting on replies that will not come
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m hub.federation.engine simulate <job.json>`."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "simulate":
        return _simulate(args[1])
    print("usage: python -m hub.federation.engine simulate <job.json>", file=sys.stderr)
    return 2


def run_config_toml(cfg: Mapping[str, Any]) -> str:
    """TOML body of `[tool.flwr.app.config]` for a run config."""
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in cfg.items())


if __name__ == "__main__":
    sys.exit(main())
