"""The consortium on one machine, every party its own process, talking over loopback.

Started here: a fresh PostgreSQL database; a Flower SuperLink (TLS with the dev certificates,
SuperNode authentication); the hub as `fedhub serve` with two uvicorn workers on the
Deployment Engine; three R&D labs of three member organizations, each enrolled with the real
`site-agent` (init → enroll with a token → a hub admin's signed approval) and then running
`site-agent run`, which starts the lab's SuperNode with its own registered key.

Checked over HTTP, as the people involved would: a federated `molecular-property` run
requested by a researcher, signed by QA, trained on the three SuperNodes to `completed`, its
model version in the registry; a screen submitted to the hub and finished; an EPCIS shipment
ingested at one lab, delivered by its agent's outbox and visible in the lot's custody chain.
Every process is stopped (with the helpers Flower detaches) and the database dropped, even on
failure; a failure message carries the tail of every process's log.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from rdkit import Chem
from sqlalchemy.engine import URL
from sqlalchemy.engine.url import make_url

from hub.config import Settings
from hub.db import Database
from hub.federation.deployment import DeploymentEngine, TlsFiles
from hub.identity import service as identity
from hub.identity.schemas import OrganizationCreate, UserCreate
from standards.tasks.molecular_data import lab_indices
from standards.tasks.molecular_features import load_solubility
from tests.deploy.procs import BIN, Server, free_port
from tests.traceability import docs

ROOT = Path(__file__).resolve().parents[2]
PG_ENV = "FEDHUB_TEST_POSTGRES_URL"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("flower-deployment"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl missing"),
    pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
]

PASSWORD = "Correct-Horse-42!"
OPERATOR = "Consortium Operator"
TASK = "molecular-property"


@dataclass(frozen=True)
class Lab:
    org: str
    kind: str
    admin: str
    name: str
    code: str
    enterprise: str
    country: str


LABS = [Lab("Helix Pharma", "pharma", "helix.site", "Helix Discovery Lab", "lab-basel",
            "helix-pharma", "CH"),
        Lab("Alpine Institute", "institute", "alpine.site", "Alpine Screening Lab",
            "lab-grenoble", "alpine-institute", "FR"),
        Lab("Nordic Bio", "pharma", "nordic.site", "Nordic Chemistry Lab", "lab-lund",
            "nordic-bio", "SE")]
USERS = {  # username -> (organization, roles)
    "hub.admin": (OPERATOR, ["hub_admin"]), "qa.lead": (OPERATOR, ["qa"]),
    "rita.researcher": ("Helix Pharma", ["researcher"]),
    **{lab.admin: (lab.org, ["site_admin"]) for lab in LABS}}
SCREEN = {"aspirin": "CC(=O)Oc1ccccc1C(=O)O", "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
          "ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "paracetamol": "CC(=O)Nc1ccc(O)cc1",
          "rhodanine": "O=C1NC(=S)SC1=Cc1ccccc1", "broken": "C1CC(C"}
LOT = "LOT-LB-0042"
LGTIN = f"urn:epc:class:lgtin:9520123.045678.{LOT}"
SSCC = "urn:epc:id:sscc:9520123.0000000042"
LAB_GLN = "urn:epc:id:sgln:9520123.00002.0"
PARTNER_GLN = "urn:epc:id:sgln:4012345.00001.0"


# --- processes -----------------------------------------------------------------------------
def _tree(root: int) -> dict[int, bytes]:
    """pid -> command line of ``root`` and everything it started, including the helpers
    Flower detaches into their own session (``--parent-pid``)."""
    table: dict[int, tuple[int, list[bytes]]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(proc.name)] = (ppid, argv)
    found, grew = {root}, True
    while grew:
        grew = False
        for pid, (ppid, argv) in table.items():
            parent = argv[argv.index(b"--parent-pid") + 1] if b"--parent-pid" in argv[:-1] else b""
            if pid not in found and (ppid in found or parent in {str(p).encode()
                                                                for p in found}):
                found.add(pid)
                grew = True
    return {pid: b" ".join(table[pid][1]) for pid in found if pid in table}


def _still(pid: int, cmdline: bytes) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        now = b" ".join(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))
    except OSError:
        return False
    return "\nState:\tZ" not in status and now == cmdline


class Deployment:
    """The processes of the test: started with a log each, stopped in reverse order."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.servers: list[tuple[str, Server]] = []
        self.logs: dict[str, Path] = {}
        self.timings: list[tuple[str, float]] = []
        self._t0 = time.monotonic()

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Server:
        log = self.tmp / "logs" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        server = Server(argv, log, env, cwd)
        self.servers.append((name, server))
        self.logs[name] = log
        return server

    def mark(self, what: str) -> None:
        self.timings.append((what, time.monotonic() - self._t0))

    def stop(self) -> list[str]:
        """Stop every process (SIGTERM to its group, then SIGKILL) and any process it left
        behind; returns the names of those that had to be killed."""
        killed = []
        for name, server in reversed(self.servers):
            tree = _tree(server.proc.pid)
            try:
                server.stop()
            except Exception:  # already gone, or would not die: the sweep below decides
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(server.proc.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            for pid, cmdline in tree.items():
                while _still(pid, cmdline) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if _still(pid, cmdline):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    killed.append(f"{name}: {cmdline[:80]!r}")
        return killed

    def report(self, lines: int = 60) -> str:
        out = ["", "timings: " + ", ".join(f"{w} {t:.0f}s" for w, t in self.timings)]
        for name, path in self.logs.items():
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # Flower colours its log lines
            tail = "\n".join(text.splitlines()[-lines:])
            out.append(f"----- {name} ({path}) -----\n{tail}")
        return "\n".join(out)


def _env(**extra: str) -> dict[str, str]:
    """A clean environment (no FEDHUB_*/SITE_AGENT_* of the caller), the venv's bin first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDHUB_", "SITE_AGENT_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env.update(extra)
    return env


def _wait(check: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not done after {timeout:.0f} s (last: {last!r})")


# --- PostgreSQL ----------------------------------------------------------------------------
@contextlib.contextmanager
def fresh_database() -> Iterator[URL]:
    """A new database on the shared server, dropped afterwards (only this one)."""
    server = make_url(os.environ[PG_ENV]).set(drivername="postgresql+psycopg")
    name = f"fedhub_loopback_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, data_dir: Path) -> None:
    """The consortium's organizations and people (as `fedhub admin` would create them)."""
    settings = Settings(environment="test", data_dir=data_dir, secret_key="s" * 40,
                        database_url=url)
    db = Database(settings)
    with db.session() as session:
        orgs = {OPERATOR: identity.create_organization(
            session, OrganizationCreate(name=OPERATOR, kind="operator"))}
        for lab in LABS:
            orgs[lab.org] = identity.create_organization(
                session, OrganizationCreate(name=lab.org, kind=lab.kind))
        for username, (org, roles) in USERS.items():
            identity.create_user(session, settings, UserCreate(
                username=username, full_name=username.replace(".", " ").title(),
                email=f"{username}@example.org", organization_id=orgs[org].id, roles=roles,
                password=PASSWORD))
        session.commit()
    db.engine.dispose()


# --- the labs ------------------------------------------------------------------------------
def lab_data(i: int, path: Path) -> int:
    """The lab's own measurements: one scaffold share of the solubility training set."""
    mols, y = load_solubility("train")
    rows = [(Chem.MolToSmiles(mols[k]), float(y[k])) for k in lab_indices(len(LABS))[i]]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["smiles", "logS"])
        writer.writerows(rows)
    return len(rows)


def site_agent(args: list[str], env: dict[str, str], cwd: Path,
               timeout: float = 180) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(BIN / "site-agent"), *args], env=env, cwd=cwd, text=True,
                          capture_output=True, timeout=timeout, check=False)
    assert done.returncode == 0, (f"site-agent {' '.join(args)} exited {done.returncode}:\n"
                                  f"{done.stdout}\n{done.stderr}")
    return done


def shipment() -> dict[str, Any]:
    """Reference samples leave the Basel lab for a partner: commissioned, packed, shipped."""
    quantity = [{"epcClass": LGTIN, "quantity": 40, "uom": "EA"}]
    return docs.document(
        docs.event("ObjectEvent", 0, "urn:uuid:2f0e4b1e-0000-4000-8000-000000000001",
                   action="ADD", bizStep="commissioning", disposition="active",
                   readPoint={"id": LAB_GLN}, bizLocation={"id": LAB_GLN},
                   quantityList=quantity, ilmd={"cbvmda:lotNumber": LOT}),
        docs.event("AggregationEvent", 1, "urn:uuid:2f0e4b1e-0000-4000-8000-000000000002",
                   action="ADD", bizStep="packing", disposition="in_progress", parentID=SSCC,
                   childQuantityList=quantity, readPoint={"id": LAB_GLN},
                   bizLocation={"id": LAB_GLN}),
        docs.event("ObjectEvent", 2, "urn:uuid:2f0e4b1e-0000-4000-8000-000000000003",
                   action="OBSERVE", bizStep="shipping", disposition="in_transit",
                   epcList=[SSCC], readPoint={"id": LAB_GLN}, bizLocation={"id": LAB_GLN},
                   destinationList=[{"type": "location", "destination": PARTNER_GLN}],
                   sensorElementList=docs.temperatures(2, [4.5, 5.0])))


# --- the test ------------------------------------------------------------------------------
def test_consortium_runs_as_separate_processes_on_loopback(tmp_path: Path) -> None:
    dep = Deployment(tmp_path)
    failure: BaseException | None = None
    leftovers: list[str] = []
    try:
        with fresh_database() as url:
            try:
                _scenario(dep, tmp_path, url.render_as_string(hide_password=False))
            except Exception as exc:
                failure = exc
            finally:
                leftovers = dep.stop()
    except Exception as exc:  # the database could not be made or dropped
        failure = failure or exc
    if failure is not None:
        raise AssertionError(f"{failure}\n{dep.report()}") from failure
    assert not leftovers, f"processes that ignored SIGTERM: {leftovers}\n{dep.report()}"
    print(dep.report(lines=0))


def _scenario(dep: Deployment, tmp: Path, url: str) -> None:
    certs = tmp / "certs"
    subprocess.run(["bash", str(ROOT / "deploy" / "certs" / "make-dev-certs.sh"), str(certs)],
                   check=True, capture_output=True, timeout=60)
    ca = certs / "ca.crt"

    # SuperLink: its own process, as in deploy/compose/hub.yml
    superlink = f"127.0.0.1:{free_port()}"
    link = DeploymentEngine(tmp / "superlink", superlink=superlink, supernode_auth=True,
                            tls=TlsFiles(ca, certs / "superlink.crt", certs / "superlink.key"))
    (tmp / "superlink").mkdir(exist_ok=True)
    link_proc = dep.start("superlink", link.superlink_command(),
                          _env(FLWR_HOME=str(tmp / "superlink" / "flwr")), tmp / "superlink")

    # the hub: `fedhub serve`, two workers, PostgreSQL, the Deployment Engine on that SuperLink
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    hub_home = tmp / "hub"
    hub_home.mkdir()
    hub = dep.start("hub", [str(BIN / "fedhub"), "serve", "--workers", "2"], _env(
        FEDHUB_ENVIRONMENT="development", FEDHUB_DATA_DIR=str(hub_home / "data"),
        FEDHUB_DATABASE_URL=url, FEDHUB_SECRET_KEY="loopback-" + "k" * 40,
        FEDHUB_HOST="127.0.0.1", FEDHUB_PORT=str(port), FEDHUB_PUBLIC_URL=hub_url,
        FEDHUB_FEDERATION_ENGINE="deployment", FEDHUB_SUPERLINK_ADDRESS=superlink,
        FEDHUB_SUPERLINK_CA_FILE=str(ca), FEDHUB_QUALIFICATION_GATES="{}"), hub_home)
    link_proc.wait_until(lambda: _listening(superlink), 90, "SuperLink")
    dep.mark("superlink up")
    hub.wait_until(lambda: _ready(hub_url), 180, "hub")
    dep.mark("hub ready")
    seed(url, hub_home / "seed")

    with httpx.Client(base_url=hub_url, timeout=120) as http:
        auth = {user: _login(http, user) for user in USERS}

        # three labs enroll in parallel, each with its own process and key pair
        with ThreadPoolExecutor(len(LABS)) as pool:
            site_ids = list(pool.map(lambda lab: _enroll(lab, tmp, hub_url, auth), LABS))
        dep.mark("labs enrolled")
        keys = {s: _keys(http, auth["hub.admin"], s) for s in site_ids}
        assert all(k["status"] == "active" for k in keys.values()), keys

        for i, (lab, site_id) in enumerate(zip(LABS, site_ids, strict=True)):
            home = tmp / lab.code
            rows = lab_data(i, home / "measurements.csv")
            assert rows > 100
            (home / "policy.json").write_text(json.dumps(
                {"site-id": site_id, "allow": [{"task": TASK, "code-hash": "*"}]}))
            dep.start(lab.code, [str(BIN / "site-agent"), "run"], _env(
                SITE_AGENT_HOME=str(home), SITE_AGENT_LOOP_SECONDS="0.5",
                SITE_AGENT_HEARTBEAT_SECONDS="5", SITE_AGENT_SHARE_TRACEABILITY="true",
                SITE_AGENT_SERVICES='["site_agent.supernode:service"]',
                SITE_AGENT_SUPERNODE_SUPERLINK=superlink,
                SITE_AGENT_SUPERNODE_ROOT_CERTIFICATES=str(ca),
                SITE_AGENT_SUPERNODE_DATA_PATH=str(home / "measurements.csv"),
                SITE_AGENT_SUPERNODE_LABEL="logS",
                SITE_AGENT_SUPERNODE_POLICY_FILE=str(home / "policy.json"),
                SITE_AGENT_SUPERNODE_PORT=str(free_port())), home)
            dep.logs[f"{lab.code}-supernode"] = home / "supernode.log"

        # the SuperLink sees the three labs' SuperNodes, authenticated with their own keys
        probe = DeploymentEngine(tmp / "probe", superlink=superlink, manage_superlink=False,
                                 tls=TlsFiles(ca))
        _wait(lambda: _online(probe) == len(LABS), 180, "three SuperNodes online", every=2)
        dep.mark("supernodes online")

        # a researcher requests the run, QA signs it, the hub runs it on the Deployment Engine
        resp = http.post("/federation/runs", headers=auth["rita.researcher"], json={
            "task": TASK, "rounds": 2, "min_sites": 3, "round_timeout_s": 240,
            "train": {"epochs": 1}})
        assert resp.status_code == 201, resp.text
        run = resp.json()
        assert run["engine"] == "deployment" and sorted(run["site_ids"]) == sorted(site_ids)
        signed = http.post(f"/federation/runs/{run['id']}/approve", headers=auth["qa.lead"],
                           json={"password": PASSWORD, "comment": "loopback protocol"})
        assert signed.status_code == 200 and signed.json()["status"] == "queued", signed.text

        # meanwhile: a screen at the hub, and a shipment recorded at the Basel lab
        screen = http.post("/screens", headers=auth["rita.researcher"], json={
            "name": "loopback", "smiles": list(SCREEN.values()), "ids": list(SCREEN)})
        assert screen.status_code == 202, screen.text
        basel = tmp / LABS[0].code
        (basel / "shipment.json").write_text(json.dumps(shipment()))
        site_agent(["ingest", "shipment.json", "--schema", "epcis-document/2.0.0"],
                   _env(SITE_AGENT_HOME=str(basel)), basel)

        _check_screen(http, auth["rita.researcher"], screen.json()["id"])
        dep.mark("screen finished")
        _check_custody(http, auth[LABS[0].admin])
        status = json.loads(site_agent(["status", "--json"], _env(SITE_AGENT_HOME=str(basel)),
                                       basel).stdout)
        assert status["outbox"]["failed"] == 0 and status["outbox"]["delivered"] >= 1, status
        dep.mark("shipment in custody")

        done = _wait(lambda: _finished(http, auth["qa.lead"], run["id"]), 900, "federated run",
                     every=2)
        dep.mark("run finished")
        assert done["status"] == "completed", done["status_reason"]
        _check_run(http, auth["qa.lead"], done, [lab.name for lab in LABS])
        # two hub workers poll the queue: the run reached the SuperLink exactly once
        assert len(probe._flwr("ls", "fedhub", timeout=60).get("runs", [])) == 1


def _listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _login(http: httpx.Client, username: str) -> dict[str, str]:
    resp = http.post("/auth/token", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _enroll(lab: Lab, tmp: Path, hub_url: str, auth: dict[str, dict[str, str]]) -> str:
    """init → enroll with the site admin's token → the hub admin's signed approval → key."""
    home = tmp / lab.code
    home.mkdir()
    env = _env(SITE_AGENT_HOME=str(home), SITE_AGENT_ENROLL_POLL_SECONDS="0.5")
    site_agent(["init", "--name", lab.name, "--kind", "lab", "--enterprise", lab.enterprise,
                "--site", lab.code, "--country", lab.country,
                "--dataset", "molecule-submission/1.0.0", "--task", TASK, "--hub", hub_url],
               env, home)
    with httpx.Client(base_url=hub_url, timeout=120) as http:
        token = http.post("/sites/enrollment-tokens", headers=auth[lab.admin], json={})
        assert token.status_code == 201, token.text
        site_agent(["enroll", "--token", token.json()["token"], "--no-wait"], env, home)
        site_id = str(json.loads((home / "agent.json").read_text())["site_id"])
        approved = http.post(f"/sites/{site_id}/approve", headers=auth["hub.admin"],
                             json={"password": PASSWORD, "comment": "fingerprint checked"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "active"
    site_agent(["enroll", "--timeout", "120"], env, home)
    assert (home / "api_key").exists()
    return site_id


def _keys(http: httpx.Client, auth: dict[str, str], site_id: str) -> dict[str, Any]:
    resp = http.get(f"/sites/{site_id}/keys", headers=auth)
    assert resp.status_code == 200, resp.text
    (key,) = resp.json()
    return dict(key)


def _online(probe: DeploymentEngine) -> int:
    try:
        nodes = probe._flwr("supernode", "list", "fedhub", timeout=60).get("nodes", [])
    except (RuntimeError, subprocess.TimeoutExpired):
        return -1
    return sum(1 for n in nodes if n.get("status") == "online")


def _finished(http: httpx.Client, auth: dict[str, str], run_id: str) -> dict[str, Any] | None:
    body = http.get(f"/federation/runs/{run_id}", headers=auth).json()
    return None if body["status"] in ("pending_approval", "queued", "running") else dict(body)


def _check_screen(http: httpx.Client, auth: dict[str, str], screen_id: str) -> None:
    def finished() -> dict[str, Any] | None:
        body = http.get(f"/screens/{screen_id}", headers=auth).json()
        return None if body["status"] in ("queued", "running") else dict(body)

    done = _wait(finished, 300, "screen")
    assert done["status"] == "completed", done
    items = http.get(f"/screens/{screen_id}/results", headers=auth,
                     params={"per_page": 50}).json()["items"]
    assert sorted(r["input_id"] for r in items) == sorted(k for k in SCREEN if k != "broken")
    errors = http.get(f"/screens/{screen_id}/errors", headers=auth)
    assert errors.status_code == 200, errors.text
    assert "broken" in errors.text


def _check_custody(http: httpx.Client, auth: dict[str, str]) -> None:
    def custody() -> dict[str, Any] | None:
        resp = http.get(f"/traceability/lots/{LOT}/custody", headers=auth)
        return dict(resp.json()) if resp.status_code == 200 and resp.json()["legs"] else None

    chain = _wait(custody, 120, f"custody chain of {LOT}")
    assert [e["biz_step"] for e in chain["events"]] == ["commissioning", "packing", "shipping"]
    (leg,) = chain["legs"]
    assert (leg["status"], leg["from_location"], leg["to_location"]) == (
        "in_transit", LAB_GLN, PARTNER_GLN)
    assert leg["shipped_by"] == LABS[0].org
    assert (leg["min_celsius"], leg["max_celsius"]) == (4.5, 5.0)


def _check_run(http: httpx.Client, auth: dict[str, str], run: dict[str, Any],
               labs: list[str]) -> None:
    prog = http.get(f"/federation/runs/{run['id']}/progress", headers=auth).json()
    assert sorted(prog["joined"]) == sorted(labs), prog
    assert [r["round"] for r in prog["rounds"]] == [1, 2]
    for rnd in prog["rounds"]:
        assert sorted(s["site_label"] for s in rnd["sites"]) == sorted(labs), rnd
    model = http.get(f"/registry/models/{run['model_version_id']}", headers=auth)
    assert model.status_code == 200, model.text
    body = model.json()
    assert (body["task"], body["status"], body["run_id"]) == (TASK, "candidate", run["id"])
    assert {"rmse", "r2"} <= set(body["final_metrics"])
    artifact = http.get(f"/registry/models/{run['model_version_id']}/artifact", headers=auth)
    assert artifact.status_code == 200 and artifact.content
