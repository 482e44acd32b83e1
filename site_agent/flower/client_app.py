"""The site's Flower ClientApp (Message API): consent check, local training and evaluation.

Simulation: data from `partition-id`/`num-partitions`. Deployment: `--node-config "site-id=…
data-path=… policy-file=…"`. Task name, code hash and spec come in the message config; a
site that has not consented (policy allow-list of task + code hash) replies with an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Error,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.clientapp.mod import fixedclipping_mod
from flwr.supercore.differential_privacy import KEY_CLIPPING_NORM

from site_agent.flower.consent import check_consent
from site_agent.flower.site_data import SiteDataError, load_site_data
from standards.tasks import get_task
from standards.tasks import protocol as p
from standards.tasks.common import FederatedTask, get_weights, set_weights

log = logging.getLogger(__name__)
torch.set_num_threads(1)  # one simulated site per CPU; deployment sites set their own


def dp_clipping_when_asked(msg: Message, ctxt: Context, call_next: Any) -> Message:
    """Apply Flower's fixedclipping_mod only when the run asks for client-side DP."""
    configs = list(msg.content.config_records.values())
    if configs and KEY_CLIPPING_NORM in configs[0]:
        return fixedclipping_mod(msg, ctxt, call_next)
    reply: Message = call_next(msg, ctxt)
    return reply


app = ClientApp()


def _config(msg: Message) -> dict[str, Any]:
    rec = msg.content.config_records.get(p.CONFIG)
    return dict(rec) if rec is not None else {}


def _refuse(msg: Message, code: int, reason: str) -> Message:
    return Message(Error(code=code, reason=reason), reply_to=msg)


def _admit(msg: Message, context: Context) -> tuple[FederatedTask | None, str, dict[str, Any], str]:
    """(task or None if refused, site id, message config, consent reason)."""
    cfg = _config(msg)
    node_config = dict(context.node_config)
    name = str(cfg.get(p.TASK, ""))
    try:
        task = get_task(name)
    except KeyError:
        site_id, _ = check_consent(node_config, name, "", "")
        return None, site_id, cfg, f"unknown task {name!r}"
    requested = str(cfg.get(p.CODE_HASH, ""))
    site_id, consent = check_consent(node_config, name, requested, task.code_hash())
    if not consent.allowed:
        log.warning("refusing %s for task %s: %s", msg.metadata.message_type, name, consent.reason)
        return None, site_id, cfg, consent.reason
    return task, site_id, cfg, consent.reason


def _site_record(site_id: str, context: Context, consent: bool, reason: str) -> ConfigRecord:
    nc = context.node_config
    return ConfigRecord(
        {
            "site-id": site_id,
            "partition-id": int(nc.get("partition-id", -1)),
            "consent": consent,
            "reason": reason,
        }
    )


def _data(
    task: FederatedTask, context: Context, cfg: Mapping[str, Any]
) -> tuple[Any, Any, dict[str, Any]]:
    spec = p.decode_spec(str(cfg[p.SPEC])) if p.SPEC in cfg else task.default_spec()
    train, evaluation = load_site_data(task.name, dict(context.node_config), cfg, spec)
    return train, evaluation, spec


@app.query("handshake")
def handshake(msg: Message, context: Context) -> Message:
    """Tell the hub who this site is, whether it consents, and its shareable feature summary."""
    task, site_id, cfg, reason = _admit(msg, context)
    if task is None:
        record = _site_record(site_id, context, False, p.consent_reason(reason, site_id))
        return Message(RecordDict({p.SITE: record}), reply_to=msg)
    content = RecordDict({p.SITE: _site_record(site_id, context, True, "consented")})
    try:
        train, _, _ = _data(task, context, cfg)
    except (SiteDataError, OSError, KeyError, ValueError) as exc:
        return _refuse(msg, p.DATA_UNAVAILABLE, f"site {site_id} has no usable data: {exc}")
    metrics: dict[str, Any] = {p.NUM_EXAMPLES: task.num_examples(train)}
    stats = task.feature_stats(train)
    if stats is not None:
        metrics.update(stats.to_record())
    content[p.STATS] = MetricRecord(metrics)
    return Message(content, reply_to=msg)


@app.train(mods=[dp_clipping_when_asked])
def train(msg: Message, context: Context) -> Message:
    """Local training from the global weights; replies with new weights and metrics."""
    task, site_id, cfg, reason = _admit(msg, context)
    if task is None:
        return _refuse(msg, p.CONSENT_REFUSED, p.consent_reason(reason, site_id))
    try:
        data, _, spec = _data(task, context, cfg)
    except (SiteDataError, OSError, KeyError, ValueError) as exc:
        return _refuse(msg, p.DATA_UNAVAILABLE, f"site {site_id} has no usable data: {exc}")
    model = task.build_model(spec)
    set_weights(model, msg.content.array_records[p.ARRAYS].to_numpy_ndarrays())
    metrics: dict[str, Any] = dict(task.fit(model, data, spec, cfg))
    metrics[p.NUM_EXAMPLES] = task.num_examples(data)
    content = RecordDict(
        {
            p.ARRAYS: ArrayRecord(get_weights(model)),
            p.METRICS: MetricRecord(metrics),
            p.SITE: _site_record(site_id, context, True, "trained"),
        }
    )
    return Message(content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Metrics of the global model on this site's evaluation data."""
    task, site_id, cfg, reason = _admit(msg, context)
    if task is None:
        return _refuse(msg, p.CONSENT_REFUSED, p.consent_reason(reason, site_id))
    try:
        _, data, spec = _data(task, context, cfg)
    except (SiteDataError, OSError, KeyError, ValueError) as exc:
        return _refuse(msg, p.DATA_UNAVAILABLE, f"site {site_id} has no usable data: {exc}")
    model = task.build_model(spec)
    set_weights(model, msg.content.array_records[p.ARRAYS].to_numpy_ndarrays())
    metrics: dict[str, Any] = dict(task.evaluate(model, data, spec))
    metrics[p.NUM_EXAMPLES] = task.num_examples(data)
    content = RecordDict(
        {
            p.METRICS: MetricRecord(metrics),
            p.SITE: _site_record(site_id, context, True, "evaluated"),
        }
    )
    return Message(content, reply_to=msg)
