"""Deployment Engine through the hub: TLS SuperLink with node auth, 3 SuperNodes on loopback.

Site keys are registered at the SuperLink by the hub's registrar (as at enrollment); the hub's
executor launches the run; a SuperNode with a key the hub never registered is refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from hub.config import Settings
from hub.federation import service
from hub.federation.deployment import DeploymentEngine, TlsFiles
from hub.federation.flows import DeploymentRegistrar, RunExecutor
from hub.federation.models import FederatedRun, RunStatus
from hub.federation.schemas import Approval, RunCreate
from hub.identity import service as identity
from hub.sites import credentials
from hub.sites import flows as site_flows
from hub.sites.crypto import fingerprint, load_public_key, openssh
from hub.sites.models import SiteKey
from tests.deploy.procs import BIN, Server, env_with_bin, free_port
from tests.factories import PASSWORD, make_org, make_user
from tests.federation.test_api_support import make_site

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("flower-deployment"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl missing"),
]


@pytest.fixture
def superlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeploymentEngine]:
    certs = tmp_path / "certs"
    subprocess.run(
        ["bash", str(ROOT / "deploy" / "certs" / "make-dev-certs.sh"), str(certs)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    engine = DeploymentEngine(
        tmp_path / "hub-fed",
        superlink=f"127.0.0.1:{free_port()}",
        supernode_auth=True,
        tls=TlsFiles(certs / "ca.crt", certs / "superlink.crt", certs / "superlink.key"),
        poll_s=1.0,
        timeout_s=900,
    )
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    engine.start()
    previous = site_flows.registrar()
    site_flows.set_registrar(DeploymentRegistrar(engine))
    try:
        yield engine
    finally:
        site_flows.set_registrar(previous)
        engine.stop()


def _supernode(
    engine: DeploymentEngine, private: Path, node_config: str, log: Path, *extra: str
) -> Server:
    assert engine.tls is not None
    argv = [
        str(BIN / "flower-supernode"),
        f"--superlink={engine.superlink}",
        f"--root-certificates={engine.tls.ca_cert}",
        f"--auth-supernode-private-key={private}",
        f"--port={free_port()}",
        f"--node-config={node_config}",
        *extra,
    ]
    return Server(argv, log, env_with_bin(FLWR_HOME=str(log.with_suffix(".home"))), log.parent)


def test_hub_run_on_supernodes_with_tls_and_node_auth(
    superlink: DeploymentEngine, session: Session, settings: Settings, db: Any, tmp_path: Path
) -> None:
    from site_agent import keys

    org, op = make_org(session), make_org(session, "operator")
    qa = make_user(session, settings, op, "qa", "hub_admin")
    who = identity.principal_for_user(qa)
    nodes: list[Server] = []
    try:
        for i in range(3):
            site = make_site(session, org, f"lab-{i}", ["molecular-property"])
            private, public = keys.generate(tmp_path / f"site-{i}")
            key = load_public_key(public.read_text())
            row = SiteKey(site_id=site.id, public_key=openssh(key), fingerprint=fingerprint(key))
            session.add(row)
            session.flush()
            credentials.register_key(session, site, row)  # what approval does at enrollment
            session.commit()
            assert row.supernode_id  # the SuperLink knows this site's key now
            cfg = (
                f'site-id="{site.id}" allow-tasks="molecular-property" partition-id={i} '
                "num-partitions=3"
            )
            nodes.append(_supernode(superlink, private, cfg, tmp_path / f"node-{i}.log"))

        stranger_key, _ = keys.generate(tmp_path / "stranger")
        stranger = _supernode(
            superlink,
            stranger_key,
            'site-id="stranger"',
            tmp_path / "stranger.log",
            "--max-retries=1",
            "--max-wait-time=10",
        )
        stranger.proc.wait(timeout=120)
        assert stranger.proc.returncode != 0
        assert "Failed to activate SuperNode" in stranger.output()

        run = service.create_run(
            session,
            who,
            RunCreate(
                task="molecular-property",
                rounds=2,
                min_sites=3,
                round_timeout_s=240,
                train={"epochs": 1},
            ),
            engine="deployment",
        )
        service.approve(session, settings, who, run.id, Approval(password=PASSWORD))
        session.commit()
        executor = RunExecutor(db, settings, engine=lambda r: superlink, policy_for=None)
        assert executor.run_pending() == 1

        session.expire_all()
        done = session.get(FederatedRun, run.id)
        assert done is not None
        assert done.status == RunStatus.completed, done.status_reason
        prog = service.progress(session, done)
        assert sorted(prog.joined) == ["lab-0", "lab-1", "lab-2"]
        assert [r.round for r in prog.rounds] == [1, 2]
        assert all(len(r.sites) == 3 and all(s.site_id for s in r.sites) for r in prog.rounds)
        assert done.model_version_id and {"rmse", "r2"} <= set(done.final_metrics)
    finally:
        for n in nodes:
            n.stop()
