"""The site agent's SuperNode service: its command line and restart after an exit."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from site_agent.config import AgentSettings, SiteIdentity
from site_agent.runner import AgentContext
from site_agent.supernode import SuperNodeService, SuperNodeSettings


def _ctx(tmp_path: Path, site_id: str | None = "4f1c") -> AgentContext:
    settings = AgentSettings(home=tmp_path)
    ident = SiteIdentity(name="lab", kind="lab", location={"enterprise": "e", "site": "s"},
                         site_id=site_id)
    return AgentContext(settings, ident, store=None, outbox=None, client=None)  # type: ignore[arg-type]


def test_command_carries_tls_node_key_and_site_config(tmp_path: Path) -> None:
    ca, data = tmp_path / "ca.crt", tmp_path / "mols.sdf"
    svc = SuperNodeService(SuperNodeSettings(superlink="hub.example.org:9092",
                                             root_certificates=ca, data_path=data, port=9100))
    argv = svc.command(_ctx(tmp_path))
    assert f"--root-certificates={ca}" in argv and "--insecure" not in argv
    assert f"--auth-supernode-private-key={tmp_path / 'keys' / 'site_key'}" in argv
    assert "--superlink=hub.example.org:9092" in argv and "--port=9100" in argv
    cfg = next(a for a in argv if a.startswith("--node-config="))
    assert cfg == f'--node-config=site-id="4f1c" label="logS" data-path="{data}"'
    with pytest.raises(ValueError, match="ROOT_CERTIFICATES"):
        SuperNodeService(SuperNodeSettings(superlink="h:1")).command(_ctx(tmp_path))
    with pytest.raises(ValueError, match="not enrolled"):
        SuperNodeService(SuperNodeSettings(superlink="h:1", insecure=True)).command(
            _ctx(tmp_path, None))


def test_an_exited_supernode_is_restarted_and_stopped(tmp_path: Path) -> None:
    svc = SuperNodeService(SuperNodeSettings(superlink="h:1", insecure=True,
                                             max_backoff_s=0.2))
    svc.log_path = tmp_path / "supernode.log"
    svc.argv = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(0.3)"]
    svc._spawn()
    first = svc.proc
    assert first is not None
    first.wait(5)
    deadline = time.monotonic() + 10
    while svc.proc is first and time.monotonic() < deadline:
        svc.tick(_ctx(tmp_path))
        time.sleep(0.05)
    assert svc.proc is not first and svc.failures == 1
    assert svc.proc is not None
    svc.proc.wait(5)
    assert svc.log_path.read_text().count("up") == 2  # the restarted one ran
    svc.argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    svc._spawn()
    svc.stop()
    assert svc.proc is not None and svc.proc.poll() is not None
