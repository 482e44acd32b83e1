"""The hub's Flower ServerApp: handshake (consent + shared feature summaries), then FL rounds.

Run config keys (Flower run config, flat): task, num-rounds, strategy (fedavg|fedprox),
proximal-mu, min-sites, expected-sites, round-timeout, join-timeout, dp-noise-multiplier,
dp-clipping-norm, evaluate-every, seed, train hyperparameters (epochs, lr, weight-decay,
batch-size) and data options (holdout-fraction, data-seed, plant-*), progress-file (JSON
Lines events) and result-dir (model bundle + summary).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid, ServerApp

from hub.federation.strategies import RunFailed, SiteDirectory, make_strategy
from standards.tasks import get_task
from standards.tasks import protocol as p
from standards.tasks.common import (
    FeatureStats,
    FederatedTask,
    get_weights,
    merge_stats,
    set_weights,
)

PASS_THROUGH = (
    "epochs",
    "lr",
    "weight-decay",
    "batch-size",
    "holdout-fraction",
    "data-seed",
    "plant-days",
    "plant-equipment",
    "plant-faults",
)


@dataclass
class RunConfig:
    """Parsed run configuration (defaults apply to missing keys)."""

    task: str = "molecular-property"
    num_rounds: int = 10
    strategy: str = "fedavg"
    proximal_mu: float = 0.0
    min_sites: int = 2
    expected_sites: int = 0
    round_timeout: float = 600.0
    join_timeout: float = 120.0
    dp_noise_multiplier: float = 0.0
    dp_clipping_norm: float = 0.0
    evaluate_every: int = 1
    seed: int = 0
    progress_file: str = ""
    result_dir: str = ""
    run_label: str = ""
    site_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> RunConfig:
        """From a flat Flower run config (keys with dashes)."""
        out = cls()
        for f in fields(cls):
            key = f.name.replace("_", "-")
            if key in cfg and f.name != "site_options":
                default = getattr(out, f.name)
                setattr(out, f.name, type(default)(cfg[key]))
        out.site_options = {k: cfg[k] for k in PASS_THROUGH if k in cfg}
        if out.min_sites < 1:
            raise ValueError("min-sites must be at least 1")
        return out


class ProgressSink:
    """Emits run events to a JSON Lines file and/or a callback (one JSON object per line)."""

    def __init__(
        self,
        path: str | Path | None = None,
        callback: Callable[[dict[str, Any]], None] | None = None,
        run_label: str = "",
    ) -> None:
        self.path = Path(path) if path else None
        self.callback = callback
        self.run_label = run_label
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, kind: str, fields_: dict[str, Any]) -> None:
        event = _finite(
            {
                "type": kind,
                "time": datetime.now(UTC).isoformat(),
                "run": self.run_label,
                **fields_,
            }
        )
        if self.path:
            with self.path.open("a") as fh:
                fh.write(json.dumps(event, default=str, allow_nan=False) + "\n")
        if self.callback:
            self.callback(event)


def _finite(x: Any) -> Any:
    """Replace NaN/inf (anywhere in nested dicts/lists) with None: events are strict JSON."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def _wait_for_nodes(grid: Grid, cfg: RunConfig) -> list[int]:
    want = max(cfg.expected_sites, cfg.min_sites)
    deadline = time.monotonic() + cfg.join_timeout
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= want or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    if len(nodes) < cfg.min_sites:
        raise RunFailed(
            f"only {len(nodes)} site(s) connected within {cfg.join_timeout:g} s; "
            f"{cfg.min_sites} required"
        )
    return nodes


def _base_config(task: FederatedTask, cfg: RunConfig) -> dict[str, Any]:
    return {p.TASK: task.name, p.CODE_HASH: task.code_hash(), "seed": cfg.seed, **cfg.site_options}


def handshake(
    grid: Grid,
    nodes: list[int],
    task: FederatedTask,
    cfg: RunConfig,
    emit: Callable[[str, dict[str, Any]], None],
) -> tuple[SiteDirectory, list[FeatureStats]]:
    """Ask every node who it is and whether it consents; collect shareable feature summaries."""
    msgs = [
        Message(
            RecordDict({p.CONFIG: ConfigRecord(_base_config(task, cfg))}),
            dst_node_id=n,
            message_type=p.HANDSHAKE,
        )
        for n in nodes
    ]
    replies = {
        m.metadata.src_node_id: m for m in grid.send_and_receive(msgs, timeout=cfg.round_timeout)
    }
    directory, stats = SiteDirectory(), []
    for node in nodes:
        reply = replies.get(node)
        if reply is None:
            directory.names[node] = f"node-{node}"
            directory.excluded[node] = "no reply to the handshake"
        elif reply.has_error():
            directory.names[node] = f"node-{node}"
            directory.excluded[node] = reply.error.reason or f"error {reply.error.code}"
        else:
            site = reply.content.config_records[p.SITE]
            directory.names[node] = str(site["site-id"])
            if not bool(site["consent"]):
                directory.excluded[node] = str(site["reason"])
            elif task.shares_feature_stats and p.STATS in reply.content.metric_records:
                stats.append(FeatureStats.from_record(reply.content.metric_records[p.STATS]))
        name = directory.name(node)
        if node in directory.excluded:
            emit(
                "site_refused",
                {"site_id": name, "node_id": node, "reason": directory.excluded[node]},
            )
        else:
            rec = reply.content.metric_records.get(p.STATS) if reply is not None else None
            n_ex = rec.get(p.NUM_EXAMPLES, 0) if rec is not None else 0
            emit("site_joined", {"site_id": name, "node_id": node, "num_examples": n_ex})
    return directory, stats


@dataclass
class FederationOutcome:
    """What a completed run produced."""

    spec: dict[str, Any]
    weights: list[Any]
    final_metrics: dict[str, float]
    bundle: bytes


def run_federation(
    grid: Grid, cfg: RunConfig, emit: Callable[[str, dict[str, Any]], None]
) -> FederationOutcome:
    """Handshake, strategy rounds, central evaluation, model bundle; emits progress events."""
    task = get_task(cfg.task)
    emit(
        "run_started",
        {
            "task": task.name,
            "code_hash": task.code_hash(),
            "num_rounds": cfg.num_rounds,
            "strategy": cfg.strategy,
        },
    )
    nodes = _wait_for_nodes(grid, cfg)
    directory, stats = handshake(grid, nodes, task, cfg, emit)
    if len(directory.admitted) < cfg.min_sites:
        raise RunFailed(
            f"{len(directory.admitted)} of {len(nodes)} site(s) consented and have data; "
            f"{cfg.min_sites} required"
        )
    spec = task.default_spec()
    if task.shares_feature_stats:
        spec = task.apply_feature_stats(spec, merge_stats(stats))
    model = task.build_model(spec, cfg.seed)
    strategy = make_strategy(
        cfg.strategy,
        task=task,
        directory=directory,
        progress=emit,
        min_sites=cfg.min_sites,
        round_timeout=cfg.round_timeout,
        num_rounds=cfg.num_rounds,
        evaluate_every=cfg.evaluate_every,
        proximal_mu=cfg.proximal_mu,
        dp_noise_multiplier=cfg.dp_noise_multiplier,
        dp_clipping_norm=cfg.dp_clipping_norm,
    )
    run_cfg = {**_base_config(task, cfg), p.SPEC: p.encode_spec(spec), "num-rounds": cfg.num_rounds}
    test = task.central_test_data()
    central: dict[int, dict[str, float]] = {}

    def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        m = task.build_model(spec)
        set_weights(m, arrays.to_numpy_ndarrays())
        metrics: dict[str, Any] = {k: float(v) for k, v in task.evaluate(m, test, spec).items()}
        central[server_round] = metrics
        emit("central_evaluated", {"round": server_round, "metrics": metrics})
        return MetricRecord(metrics)

    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(get_weights(model)),
        num_rounds=cfg.num_rounds,
        timeout=cfg.round_timeout,
        train_config=ConfigRecord(run_cfg),
        evaluate_config=ConfigRecord(run_cfg),
        evaluate_fn=evaluate_fn if test is not None else None,
    )
    weights = result.arrays.to_numpy_ndarrays()
    if central:
        final = central[max(central)]
    elif result.evaluate_metrics_clientapp:
        final = {
            k: float(v)
            for k, v in result.evaluate_metrics_clientapp[
                max(result.evaluate_metrics_clientapp)
            ].items()
            if isinstance(v, int | float)
        }
    else:
        final = {}
    bundle = task.bundle(spec, weights, final).to_bytes()
    return FederationOutcome(spec, weights, final, bundle)


def execute(
    grid: Grid,
    run_config: Mapping[str, Any],
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> FederationOutcome:
    """Run with events and results written where the run config says; failures are reported."""
    cfg = RunConfig.from_mapping(run_config)
    emit = ProgressSink(cfg.progress_file or None, callback, cfg.run_label)
    started = time.monotonic()
    try:
        out = run_federation(grid, cfg, emit)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, RunFailed) else f"{type(exc).__name__}: {exc}"
        emit("run_failed", {"reason": reason, "error": type(exc).__name__})
        raise
    task = get_task(cfg.task)
    verdicts = [vars(v) for v in task.judge(out.final_metrics)]
    summary = {
        "final_metrics": out.final_metrics,
        "indicators": verdicts,
        "spec": out.spec,
        "duration_s": time.monotonic() - started,
    }
    if cfg.result_dir:
        rd = Path(cfg.result_dir)
        rd.mkdir(parents=True, exist_ok=True)
        (rd / "model.bundle").write_bytes(out.bundle)
        (rd / "result.json").write_text(json.dumps(_finite(summary), default=str))
    emit("run_completed", {k: v for k, v in summary.items() if k != "spec"})
    return out


def build_server_app(
    overrides: Mapping[str, Any] | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> ServerApp:
    """A ServerApp whose run config is the Flower run config updated with `overrides`."""
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        execute(grid, {**dict(context.run_config), **dict(overrides or {})}, callback)

    return server


app = build_server_app()
