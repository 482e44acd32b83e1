"""Flower apps without the engine: ClientApp handlers, consent, DP clipping, strategy rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.supercore.differential_privacy import KEY_CLIPPING_NORM
from flwr.supercore.task_identity import TaskIdentity

from hub.federation.server_app import ProgressSink, RunConfig
from hub.federation.strategies import RunFailed, SiteDirectory, TrackedFedAvg, make_strategy
from site_agent.flower.client_app import app as client_app
from site_agent.flower.consent import SitePolicy, check_consent
from standards.tasks import molecular_property as mp
from standards.tasks import protocol as p
from standards.tasks.common import get_weights


@pytest.fixture(autouse=True)
def _task_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flower stamps new instruction messages with the current task's identity."""
    for attr, value in (("_run_id", 1), ("_task_id", 1), ("_node_id", 0)):
        monkeypatch.setattr(TaskIdentity, attr, value)


def _context(node_config: dict[str, Any]) -> Context:
    return Context(run_id=1, node_id=7, node_config=node_config, state=RecordDict(), run_config={})


def _config(**extra: Any) -> dict[str, Any]:
    spec = mp.apply_stats(mp.default_spec(), mp.data_stats(mp.load_partition(0, 4)))
    return {
        p.TASK: mp.TASK_NAME,
        p.CODE_HASH: mp.TASK.code_hash(),
        p.SPEC: p.encode_spec(spec),
        "epochs": 1,
        "num-rounds": 2,
        "server-round": 1,
        "holdout-fraction": 0.0,
        **extra,
    }


def _train_msg(cfg: dict[str, Any], node: int = 7) -> tuple[Message, list[np.ndarray]]:
    spec = p.decode_spec(cfg[p.SPEC])
    weights = get_weights(mp.build_model(spec, seed=0))
    content = RecordDict({p.ARRAYS: ArrayRecord(weights), p.CONFIG: ConfigRecord(cfg)})
    return Message(content, dst_node_id=node, message_type="train"), weights


SIM = {"partition-id": 1, "num-partitions": 4}


def test_consenting_simulated_site_trains_and_reports_metrics() -> None:
    msg, sent = _train_msg(_config())
    reply = client_app(msg, _context(SIM))
    assert not reply.has_error()
    got = reply.content.array_records[p.ARRAYS].to_numpy_ndarrays()
    assert [w.shape for w in got] == [w.shape for w in sent]
    assert any(not np.array_equal(a, b) for a, b in zip(got, sent, strict=True))
    metrics = reply.content.metric_records[p.METRICS]
    assert (
        metrics[p.NUM_EXAMPLES] == len(mp.lab_indices(4)[1])
        and float(cast(float, metrics["train_loss"])) > 0
    )
    assert reply.content.config_records[p.SITE]["site-id"] == "site-1"


def test_site_without_consent_refuses_with_its_reason(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(SitePolicy("lab-basel", (("equipment-anomaly", "*"),)).to_dict()))
    msg, _ = _train_msg(_config())
    reply = client_app(
        msg, _context({"site-id": "lab-basel", "policy-file": str(policy), "data-path": "x"})
    )
    assert reply.has_error() and reply.error.code == p.CONSENT_REFUSED
    reason = str(reply.error.reason)
    assert "lab-basel" in reason and "not in the allow-list" in reason


def test_handshake_reports_consent_and_shareable_stats_only() -> None:
    cfg: dict[str, Any] = {
        p.TASK: mp.TASK_NAME,
        p.CODE_HASH: mp.TASK.code_hash(),
        "holdout-fraction": 0.0,
    }
    msg = Message(
        RecordDict({p.CONFIG: ConfigRecord(cfg)}), dst_node_id=7, message_type=p.HANDSHAKE
    )
    reply = client_app(msg, _context(SIM))
    site = reply.content.config_records[p.SITE]
    assert site["consent"] is True
    stats = reply.content.metric_records[p.STATS]
    n = len(mp.lab_indices(4)[1])
    assert (
        stats["n"] == n
        and len(cast(list[float], stats["sum"]))
        == len(mp.default_spec()["features"]["descriptors"]) + 1
    )
    refused = client_app(msg, _context({"site-id": "lab-x", "allow-tasks": "equipment-anomaly"}))
    site = refused.content.config_records[p.SITE]
    assert site["consent"] is False and "lab-x" in str(site["reason"])
    assert p.STATS not in refused.content.metric_records


def test_consent_policy_rules() -> None:
    h = mp.TASK.code_hash()
    pol = SitePolicy("lab-1", (("molecular-property", h), ("equipment-anomaly", "*")))
    assert pol.check("molecular-property", h, h).allowed
    assert not pol.check("molecular-property", "sha256:old", "sha256:old").allowed
    assert not pol.check("molecular-property", h, "sha256:other").allowed  # code differs from site
    assert pol.check("equipment-anomaly", "sha256:x", "sha256:x").allowed
    site, consent = check_consent({"site-id": "plant-9"}, "molecular-property", h, h)
    assert site == "plant-9" and not consent.allowed  # deployment sites need a policy
    _, consent = check_consent(
        {"allow-tasks": f"molecular-property@{h}"}, "molecular-property", h, h
    )
    assert consent.allowed


def test_dp_clipping_mod_applies_when_the_run_asks_for_it() -> None:
    msg, sent = _train_msg(_config(**{KEY_CLIPPING_NORM: 0.01}))
    reply = client_app(msg, _context(SIM))
    got = reply.content.array_records[p.ARRAYS].to_numpy_ndarrays()
    norm = np.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(got, sent, strict=True)))
    assert norm == pytest.approx(0.01, rel=1e-3)


class _Nodes:
    def __init__(self, nodes: list[int]) -> None:
        self.nodes = nodes

    def get_node_ids(self) -> list[int]:
        return self.nodes


def FakeGrid(nodes: list[int]) -> Grid:
    """Just enough of a Grid for node sampling."""
    return cast(Grid, _Nodes(nodes))


def _reply(ins: Message, weights: list[np.ndarray], n: int, loss: float) -> Message:
    content = RecordDict(
        {
            p.ARRAYS: ArrayRecord(weights),
            p.METRICS: MetricRecord({"train_loss": loss, p.NUM_EXAMPLES: n}),
        }
    )
    return Message(content, reply_to=ins)


def _strategy(
    events: list[tuple[str, dict[str, Any]]], min_sites: int = 2
) -> tuple[TrackedFedAvg, SiteDirectory]:
    directory = SiteDirectory({1: "lab-a", 2: "lab-b", 3: "lab-c", 4: "lab-d"}, {4: "refused"})
    strat = make_strategy(
        "fedavg",
        task=mp.TASK,
        directory=directory,
        progress=lambda k, f: events.append((k, f)),
        min_sites=min_sites,
        round_timeout=5,
        num_rounds=3,
    )
    assert isinstance(strat, TrackedFedAvg)
    return strat, directory


def test_strategy_skips_excluded_sites_and_drops_late_ones() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    strat, _ = _strategy(events)
    arrays = ArrayRecord([np.zeros(3, np.float32)])
    msgs = list(strat.configure_train(1, arrays, ConfigRecord({}), FakeGrid([1, 2, 3, 4])))
    assert sorted(m.metadata.dst_node_id for m in msgs) == [1, 2, 3]
    by_node = {m.metadata.dst_node_id: m for m in msgs}
    replies = [
        _reply(by_node[1], [np.full(3, 1.0, np.float32)], 10, 0.5),
        _reply(by_node[2], [np.full(3, 4.0, np.float32)], 30, 0.1),
    ]  # lab-c never answers
    agg, metrics = strat.aggregate_train(1, replies)
    assert agg is not None and metrics is not None
    np.testing.assert_allclose(agg.to_numpy_ndarrays()[0], np.full(3, 3.25))  # weighted by examples
    assert metrics["train_loss"] == pytest.approx(0.2)
    kinds = [k for k, _ in events]
    assert kinds == ["site_dropped", "round_trained"]
    dropped = events[0][1]
    assert dropped["site_id"] == "lab-c" and "timeout" in dropped["reason"]
    trained = events[1][1]
    assert [s["site_id"] for s in trained["sites"]] == ["lab-a", "lab-b"]
    assert trained["sites"][0]["metrics"]["train_loss"] == 0.5


def test_round_fails_with_a_clear_reason_below_min_sites() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    strat, directory = _strategy(events, min_sites=2)
    msgs = list(
        strat.configure_train(
            2, ArrayRecord([np.zeros(2, np.float32)]), ConfigRecord({}), FakeGrid([1, 2, 3, 4])
        )
    )
    by_node = {m.metadata.dst_node_id: m for m in msgs}
    refusal = Message(
        Error(code=p.CONSENT_REFUSED, reason="site lab-b refused: withdrawn"),
        reply_to=by_node[2],
    )
    with pytest.raises(
        RunFailed,
        match=r"round 2: only 1 site\(s\) returned a model update \(at least 2 required\)",
    ):
        strat.aggregate_train(2, [_reply(by_node[1], [np.ones(2, np.float32)], 5, 1.0), refusal])
    assert 2 in directory.excluded  # withdrawn consent excludes the site from later rounds
    assert (
        "site_refused",
        {"site_id": "lab-b", "node_id": 2, "reason": "site lab-b refused: withdrawn"},
    ) in events


def test_evaluation_schedule_and_fedprox_and_dp_wrapping() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    directory = SiteDirectory({1: "a", 2: "b"})
    kw: dict[str, Any] = {
        "task": mp.TASK,
        "directory": directory,
        "progress": lambda k, f: None,
        "min_sites": 2,
        "round_timeout": 5,
        "num_rounds": 4,
    }
    strat = make_strategy("fedavg", evaluate_every=3, **kw)
    grid = FakeGrid([1, 2])
    arrays = ArrayRecord([np.zeros(2, np.float32)])
    sent = {
        r: len(list(strat.configure_evaluate(r, arrays, ConfigRecord({}), grid)))
        for r in (1, 2, 3, 4)
    }
    assert sent == {1: 0, 2: 0, 3: 2, 4: 2}
    prox = make_strategy("fedprox", proximal_mu=0.1, **kw)
    msgs = list(prox.configure_train(1, arrays, ConfigRecord({}), grid))
    assert msgs[0].content.config_records[p.CONFIG]["proximal-mu"] == 0.1
    dp = make_strategy("fedavg", dp_noise_multiplier=0.5, dp_clipping_norm=1.0, **kw)
    msgs = list(dp.configure_train(1, arrays, ConfigRecord({}), grid))
    assert msgs[0].content.config_records[p.CONFIG][KEY_CLIPPING_NORM] == 1.0
    with pytest.raises(ValueError):
        make_strategy("fedprox", **kw)
    assert not events


def test_run_config_parsing_and_progress_file(tmp_path: Path) -> None:
    cfg = RunConfig.from_mapping(
        {"task": "equipment-anomaly", "num-rounds": 3, "min-sites": 3, "epochs": 2, "unknown": 1}
    )
    assert (cfg.task, cfg.num_rounds, cfg.min_sites, cfg.site_options) == (
        "equipment-anomaly",
        3,
        3,
        {"epochs": 2},
    )
    with pytest.raises(ValueError):
        RunConfig.from_mapping({"min-sites": 0})
    seen: list[dict[str, Any]] = []
    sink = ProgressSink(tmp_path / "ev.jsonl", seen.append, run_label="r1")
    sink("round_trained", {"round": 1, "aggregate": {"loss": float("nan")}})
    line = json.loads((tmp_path / "ev.jsonl").read_text())
    assert line["type"] == "round_trained" and line["run"] == "r1" and seen[0]["round"] == 1
    assert line["aggregate"]["loss"] is None  # strict JSON: non-finite numbers become null


def test_sites_hold_out_molecules_for_their_own_evaluation() -> None:
    from site_agent.flower.site_data import load_site_data

    n = len(mp.lab_indices(4)[2])
    node = {"partition-id": 2, "num-partitions": 4}
    train, held = load_site_data(mp.TASK_NAME, node, {}, mp.default_spec())
    assert len(train) + len(held) == n and len(held) == round(0.2 * n)
    lab = mp.load_partition(2, 4)
    np.testing.assert_array_equal(np.sort(np.concatenate([train.y, held.y])), np.sort(lab.y))
    all_train, same = load_site_data(
        mp.TASK_NAME, node, {"holdout-fraction": 0.0}, mp.default_spec()
    )
    assert len(all_train) == n and len(same) == n
