"""Flower strategies that report every site's per-round results and enforce the minimum sites."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import (
    DifferentialPrivacyClientSideFixedClipping,
    FedAvg,
    FedProx,
    Strategy,
)

from standards.tasks import protocol as p
from standards.tasks.common import FederatedTask

ProgressHook = Callable[[str, dict[str, Any]], None]


class RunFailed(RuntimeError):
    """A federated run cannot continue; the message is the reason shown to people."""


@dataclass
class SiteDirectory:
    """Which Flower node is which site, and which sites are excluded from the run (and why)."""

    names: dict[int, str] = field(default_factory=dict)
    excluded: dict[int, str] = field(default_factory=dict)

    def name(self, node_id: int) -> str:
        """Site id of a node (falls back to the node id)."""
        return self.names.get(node_id, f"node-{node_id}")

    @property
    def admitted(self) -> list[int]:
        """Nodes taking part."""
        return [n for n in self.names if n not in self.excluded]


def _metrics(msg: Message) -> dict[str, float]:
    rec = msg.content.metric_records.get(p.METRICS)
    if rec is None:
        return {}
    return {k: float(v) for k, v in rec.items() if isinstance(v, int | float)}


def metrics_aggregator(task: FederatedTask) -> Callable[[list[RecordDict], str], MetricRecord]:
    """FedAvg metric aggregation delegated to the task (exact pooling where it can)."""

    def aggregate(contents: list[RecordDict], weight_key: str) -> MetricRecord:
        parts = []
        for rd in contents:
            rec = rd.metric_records.get(p.METRICS) or next(iter(rd.metric_records.values()))
            m = {k: float(v) for k, v in rec.items() if isinstance(v, int | float)}
            parts.append((m, m.get(weight_key, 1.0)))
        pooled: dict[str, Any] = dict(task.aggregate_metrics(parts))
        return MetricRecord(pooled)

    return aggregate


class TrackedFedAvg(FedAvg):
    """FedAvg that talks only to admitted sites, reports each reply and drops late sites.

    A site that does not reply within the round timeout (or replies with an error) is left out
    of that round; the round completes if at least `min_sites` replied, else `RunFailed`.
    """

    def __init__(
        self,
        *,
        task: FederatedTask,
        directory: SiteDirectory,
        progress: ProgressHook,
        min_sites: int,
        round_timeout: float,
        evaluate_every: int = 1,
        num_rounds: int = 1,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("evaluate_metrics_aggr_fn", metrics_aggregator(task))
        kwargs.setdefault("arrayrecord_key", p.ARRAYS)
        kwargs.setdefault("configrecord_key", p.CONFIG)
        kwargs.setdefault("min_train_nodes", min_sites)
        kwargs.setdefault("min_evaluate_nodes", min_sites)
        kwargs.setdefault("min_available_nodes", min_sites)
        super().__init__(**kwargs)
        self.task = task
        self.directory = directory
        self.progress = progress
        self.min_sites = min_sites
        self.round_timeout = round_timeout
        self.evaluate_every = evaluate_every
        self.num_rounds = num_rounds
        self._sent: dict[tuple[str, int], list[int]] = {}

    def _admitted(self, kind: str, server_round: int, msgs: Iterable[Message]) -> list[Message]:
        keep = [m for m in msgs if m.metadata.dst_node_id in self.directory.admitted]
        self._sent[(kind, server_round)] = [m.metadata.dst_node_id for m in keep]
        return keep

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Messages for admitted sites only."""
        msgs = super().configure_train(server_round, arrays, config, grid)
        return self._admitted("train", server_round, msgs)

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Federated evaluation every `evaluate_every` rounds and after the last one."""
        last = server_round == self.num_rounds
        if self.evaluate_every <= 0 or (server_round % self.evaluate_every and not last):
            self._sent[("evaluate", server_round)] = []
            return []
        msgs = super().configure_evaluate(server_round, arrays, config, grid)
        return self._admitted("evaluate", server_round, msgs)

    def _sort(self, kind: str, server_round: int, replies: Iterable[Message]) -> list[Message]:
        """Report per-site results, drops and refusals; return the usable replies."""
        ok: list[Message] = []
        sites: list[dict[str, Any]] = []
        replied = set()
        for msg in replies:
            node = msg.metadata.src_node_id
            replied.add(node)
            if msg.has_error():
                reason = msg.error.reason or f"error {msg.error.code}"
                if msg.error.code == p.CONSENT_REFUSED:
                    self.directory.excluded[node] = reason
                    self.progress(
                        "site_refused",
                        {"site_id": self.directory.name(node), "node_id": node, "reason": reason},
                    )
                else:
                    self.progress(
                        "site_dropped",
                        {
                            "round": server_round,
                            "phase": kind,
                            "site_id": self.directory.name(node),
                            "node_id": node,
                            "reason": reason,
                        },
                    )
                continue
            ok.append(msg)
            sites.append(
                {"site_id": self.directory.name(node), "node_id": node, "metrics": _metrics(msg)}
            )
        for node in self._sent.get((kind, server_round), []):
            if node not in replied:
                self.progress(
                    "site_dropped",
                    {
                        "round": server_round,
                        "phase": kind,
                        "site_id": self.directory.name(node),
                        "node_id": node,
                        "reason": f"no reply within the round timeout ({self.round_timeout:g} s)",
                    },
                )
        self._last_sites = sites
        return ok

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Aggregate the replies that arrived in time; fail the run below `min_sites`."""
        ok = self._sort("train", server_round, replies)
        if len(ok) < self.min_sites:
            raise RunFailed(
                f"round {server_round}: only {len(ok)} site(s) returned a model update "
                f"(at least {self.min_sites} required)"
            )
        arrays, metrics = super().aggregate_train(server_round, ok)
        self.progress(
            "round_trained",
            {"round": server_round, "sites": self._last_sites, "aggregate": dict(metrics or {})},
        )
        return arrays, metrics

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Aggregate evaluation replies and report each site's metrics."""
        ok = self._sort("evaluate", server_round, replies)
        metrics = super().aggregate_evaluate(server_round, ok) if ok else None
        self.progress(
            "round_evaluated",
            {"round": server_round, "sites": self._last_sites, "aggregate": dict(metrics or {})},
        )
        return metrics


class TrackedFedProx(TrackedFedAvg, FedProx):
    """FedProx (clients add mu/2 ||w - w_global||^2) with the same per-site tracking."""


def make_strategy(
    name: str,
    *,
    task: FederatedTask,
    directory: SiteDirectory,
    progress: ProgressHook,
    min_sites: int,
    round_timeout: float,
    num_rounds: int,
    evaluate_every: int = 1,
    proximal_mu: float = 0.0,
    dp_noise_multiplier: float = 0.0,
    dp_clipping_norm: float = 0.0,
) -> Strategy:
    """FedAvg or FedProx(mu), wrapped in client-side fixed-clipping DP when asked."""
    common: Mapping[str, Any] = {
        "task": task,
        "directory": directory,
        "progress": progress,
        "min_sites": min_sites,
        "round_timeout": round_timeout,
        "evaluate_every": evaluate_every,
        "num_rounds": num_rounds,
    }
    base: TrackedFedAvg
    if name == "fedavg":
        base = TrackedFedAvg(**common)
    elif name == "fedprox":
        if proximal_mu <= 0:
            raise ValueError("FedProx needs proximal-mu > 0")
        base = TrackedFedProx(**common, proximal_mu=proximal_mu)
    else:
        raise ValueError(f"unknown strategy {name!r} (fedavg, fedprox)")
    if dp_clipping_norm > 0:
        return DifferentialPrivacyClientSideFixedClipping(
            base,
            noise_multiplier=dp_noise_multiplier,
            clipping_norm=dp_clipping_norm,
            num_sampled_clients=max(len(directory.admitted), 1),
        )
    return base
