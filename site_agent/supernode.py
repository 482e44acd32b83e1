"""The Flower SuperNode as a `site-agent run` service (`site_agent.supernode:service`).

It connects the site to the hub's SuperLink with TLS (the hub's CA) and authenticates with the
site's own key pair (the one registered at enrollment). The site's identity, data and consent
policy reach the ClientApp as node config: ``site-id`` (the hub's site id), ``data-path``,
``label``, ``policy-file``. A SuperNode that exits is restarted with a growing delay.

Settings (environment, prefix ``SITE_AGENT_SUPERNODE_``): ``SUPERLINK`` (host:port, required),
``ROOT_CERTIFICATES`` (CA file; without it the connection is refused unless ``INSECURE=true``),
``DATA_PATH``, ``LABEL``, ``POLICY_FILE``, ``PORT`` (local ClientApp API port), ``EXECUTABLE``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from site_agent.keys import PRIVATE_NAME
from site_agent.runner import AgentContext, AgentService

log = logging.getLogger("site_agent.supernode")


class SuperNodeSettings(BaseSettings):
    """Where the SuperLink is and what this site offers to federated runs."""

    model_config = SettingsConfigDict(env_prefix="SITE_AGENT_SUPERNODE_", extra="ignore")
    superlink: str = ""
    root_certificates: Path | None = None
    insecure: bool = False
    data_path: Path | None = None
    label: str = "logS"
    policy_file: Path | None = None
    port: int = 9094
    executable: str = "flower-supernode"
    max_backoff_s: float = 300.0


def node_config(site_id: str, s: SuperNodeSettings) -> str:
    """Flower node config (space-separated key=value, strings quoted)."""
    items = {"site-id": site_id, "label": s.label}
    if s.data_path:
        items["data-path"] = str(s.data_path.resolve())
    if s.policy_file:
        items["policy-file"] = str(s.policy_file.resolve())
    return " ".join(f"{k}={json.dumps(v)}" for k, v in items.items())


class SuperNodeService(AgentService):
    """Runs `flower-supernode` beside the agent and keeps it running."""

    name = "supernode"

    def __init__(self, settings: SuperNodeSettings | None = None) -> None:
        self.settings = settings or SuperNodeSettings()
        self.proc: subprocess.Popen[bytes] | None = None
        self.failures, self.next_start = 0, 0.0
        self.argv: list[str] = []
        self.log_path: Path | None = None

    def command(self, ctx: AgentContext) -> list[str]:
        """The SuperNode command line for this site."""
        s = self.settings
        if not s.superlink:
            raise ValueError("SITE_AGENT_SUPERNODE_SUPERLINK is not set")
        if not ctx.identity.site_id:
            raise ValueError("the site is not enrolled yet (no hub site id)")
        exe = shutil.which(s.executable) or s.executable
        argv = [exe, f"--superlink={s.superlink}",
                f"--auth-supernode-private-key={ctx.settings.key_dir / PRIVATE_NAME}",
                f"--port={s.port}", f"--node-config={node_config(ctx.identity.site_id, s)}"]
        if s.root_certificates:
            argv.append(f"--root-certificates={s.root_certificates.resolve()}")
        elif s.insecure:
            argv.append("--insecure")
        else:
            raise ValueError("set SITE_AGENT_SUPERNODE_ROOT_CERTIFICATES (the hub's CA file)")
        return argv

    def start(self, ctx: AgentContext) -> None:
        """Start the SuperNode in its own process group (logs to <home>/supernode.log)."""
        self.argv = self.command(ctx)
        self.log_path = ctx.settings.home / "supernode.log"
        self._spawn()

    def _spawn(self) -> None:
        assert self.log_path is not None
        with self.log_path.open("ab") as fh:
            self.proc = subprocess.Popen(  # noqa: S603 - argv built from settings, no shell
                self.argv, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "FLWR_HOME": str(self.log_path.parent / "flwr")})
        log.info("SuperNode started (pid %d)", self.proc.pid)

    def tick(self, ctx: AgentContext) -> None:
        """Restart the SuperNode if it exited (exponential backoff)."""
        if self.proc is None or self.proc.poll() is None:
            return
        now = time.monotonic()
        if not self.next_start:
            self.failures += 1
            delay = min(2.0 ** self.failures, self.settings.max_backoff_s)
            log.warning("SuperNode exited with %s; restarting in %.0f s",
                        self.proc.returncode, delay)
            self.next_start = now + delay
        elif now >= self.next_start:
            self.next_start = 0.0
            self._spawn()

    def stop(self) -> None:
        """SIGTERM the SuperNode's process group, SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=10)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def service() -> SuperNodeService:
    """Factory named in SITE_AGENT_SERVICES."""
    return SuperNodeService()
