"""The long-running agent: monitoring, outbox delivery, heartbeats, pluggable services.

Extra services (the Flower SuperNode of the federation work, data connectors…) implement
:class:`AgentService` and are listed in ``SITE_AGENT_SERVICES`` as ``module:factory``; the
runner starts them, calls ``tick`` every loop and stops them on shutdown.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from site_agent import __version__, enrollment, messages
from site_agent.client import HubClient, HubError
from site_agent.config import AgentSettings, SiteIdentity, read_secret
from site_agent.egress import gate
from site_agent.ingest import files_in, ingest
from site_agent.monitoring.pipeline import Monitor
from site_agent.monitoring.scoring import make_scorer
from site_agent.outbox import DeliveryReport, Outbox
from site_agent.store import LocalStore
from site_agent.traceability import forward as forward_traceability

log = logging.getLogger("site_agent")


@dataclass
class AgentContext:
    """What a running agent shares with its services."""

    settings: AgentSettings
    identity: SiteIdentity
    store: LocalStore
    outbox: Outbox
    client: HubClient | None
    extra: dict[str, Any] = field(default_factory=dict)


class AgentService(ABC):
    """A component that runs inside ``site-agent run`` (e.g. the Flower SuperNode)."""

    name = "service"

    @abstractmethod
    def start(self, ctx: AgentContext) -> None:
        """Start (may spawn a subprocess or thread); must return promptly."""

    def tick(self, ctx: AgentContext) -> None:  # noqa: B027 - optional hook
        """Called once per agent loop."""

    @abstractmethod
    def stop(self) -> None:
        """Stop and release resources."""


def load_services(specs: list[str]) -> list[AgentService]:
    """Instantiate ``module:factory`` specs."""
    out = []
    for spec in specs:
        module, _, attr = spec.partition(":")
        factory = getattr(importlib.import_module(module), attr or "service")
        out.append(factory())
    return out


def open_outbox(settings: AgentSettings, store: LocalStore) -> Outbox:
    return Outbox(store, settings.home / "outbox.lock", settings.backoff_base,
                  settings.backoff_max)


def hub_client(settings: AgentSettings, identity: SiteIdentity) -> HubClient | None:
    url = settings.hub_url or identity.hub_url
    if not url:
        return None
    return HubClient(url, read_secret(settings.api_key_path), settings.request_timeout)


def make_monitor(settings: AgentSettings, identity: SiteIdentity, store: LocalStore,
                 outbox: Outbox) -> Monitor:
    shadow = make_scorer(settings.shadow_scorer) if settings.shadow_scorer else None
    return Monitor(store, outbox, identity.site_code, make_scorer(settings.scorer), shadow,
                   settings.shadow_report_every, settings.share_readings,
                   settings.readings_batch)


def heartbeat(settings: AgentSettings, identity: SiteIdentity, client: HubClient,
              outbox: Outbox, store: LocalStore) -> dict[str, Any]:
    """Tell the hub we are alive; picks up a rotated API key if the old one was revoked."""
    body = {"agent_version": __version__, "sent_at": datetime.now(UTC).isoformat(),
            "outbox_pending": outbox.pending(),
            "records_stored": sum(store.record_counts().values())}
    resp = client.post("/sites/me/heartbeat", gate(messages.HEARTBEAT, body))
    if resp.status_code == 401 and identity.site_id:
        try:
            rotated = enrollment.poll_once(settings, identity, client).api_key_saved
        except HubError:  # the site itself is refused: report the original answer
            rotated = False
        if rotated:
            resp = client.post("/sites/me/heartbeat", gate(messages.HEARTBEAT, body))
    return client.json_or_raise(resp)


class Runner:
    """One agent process: ``tick`` does a unit of work; ``run`` loops until stopped."""

    def __init__(self, settings: AgentSettings, identity: SiteIdentity,
                 watch: Path | None = None, watch_schema: str = messages.SENSOR_READING,
                 services: list[AgentService] | None = None) -> None:
        self.settings, self.identity = settings, identity
        self.store = LocalStore(settings.store_file)
        self.outbox = open_outbox(settings, self.store)
        self.client = hub_client(settings, identity)
        self.monitor = make_monitor(settings, identity, self.store, self.outbox)
        self.watch, self.watch_schema = watch, watch_schema
        self.services = services if services is not None else load_services(settings.services)
        self.ctx = AgentContext(settings, identity, self.store, self.outbox, self.client)
        self.stop_event = threading.Event()
        self._last_heartbeat = 0.0
        self.last_delivery: DeliveryReport | None = None

    def _watch_files(self) -> None:
        if self.watch is None or not self.watch.exists():
            return
        seen: dict[str, list[float]] = self.store.get_meta("watch.seen", {})
        for path in files_in(self.watch):
            stat = path.stat()
            sig = [stat.st_size, stat.st_mtime]
            if seen.get(str(path)) == sig:
                continue
            report = ingest(self.store, path, self.watch_schema)
            for problem in report.problems[:20]:
                log.warning("ingest: %s", problem)
            seen[str(path)] = sig
        self.store.set_meta("watch.seen", seen)

    def tick(self) -> None:
        """Ingest watched files, score new readings, queue EPCIS documents, deliver due
        messages, heartbeat."""
        self._watch_files()
        while self.monitor.process().readings:
            pass
        if self.settings.share_traceability:
            while forward_traceability(self.store, self.outbox).queued:
                pass
        if self.client is not None and self.client.api_key:
            self.last_delivery = self.outbox.deliver(self.client, self.settings.delivery_batch)
            now = time.monotonic()
            if now - self._last_heartbeat >= self.settings.heartbeat_seconds:
                try:
                    heartbeat(self.settings, self.identity, self.client, self.outbox, self.store)
                    self._last_heartbeat = now
                except Exception as exc:  # keep working without the hub
                    log.warning("heartbeat failed: %s", exc)
                    self._last_heartbeat = now
        for svc in self.services:
            svc.tick(self.ctx)

    def run(self, max_ticks: int | None = None) -> None:
        for svc in self.services:
            svc.start(self.ctx)
        ticks = 0
        try:
            while not self.stop_event.is_set():
                try:
                    self.tick()
                except Exception:  # one bad tick must not end the agent
                    log.exception("agent loop error")
                ticks += 1
                if max_ticks is not None and ticks >= max_ticks:
                    break
                self.stop_event.wait(self.settings.loop_seconds)
        finally:
            for svc in self.services:
                svc.stop()
            self.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.store.close()
