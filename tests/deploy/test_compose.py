"""Compose files: services, healthchecks, secrets as files, declared volumes, TLS off loopback."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tests.deploy.files import (
    COMPOSE,
    INTERPOLATION,
    PROXY,
    ROOT,
    compose,
    image_name,
    yaml,
    yaml_files,
)

SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)|DATABASE_URL|CREDENTIAL", re.I)
LONG_RUNNING = {"hub.yml": {"postgres", "hub", "proxy", "superlink"},
                "site.yml": {"site-agent", "supernode"}}
ONE_SHOT = {"hub.yml": {"migrate", "flwr"}, "site.yml": set()}


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_parses(path: Any) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs)


@pytest.mark.parametrize("name", ["hub.yml", "site.yml"])
def test_expected_services_with_healthchecks(name: str) -> None:
    services = compose(name)["services"]
    assert set(services) == LONG_RUNNING[name] | ONE_SHOT[name]
    for svc in LONG_RUNNING[name]:
        check = services[svc].get("healthcheck", {})
        assert check.get("test", [""])[0] == "CMD", f"{svc}: exec-form healthcheck expected"
        assert services[svc].get("restart") == "unless-stopped", svc


def _env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    assert isinstance(env, dict), "environment must be a mapping"
    return {k: str(v) for k, v in env.items()}


@pytest.mark.parametrize("name", ["hub.yml", "site.yml"])
def test_no_inline_secrets_in_environment(name: str) -> None:
    for svc_name, svc in compose(name)["services"].items():
        for key, value in _env(svc).items():
            if not SECRETISH.search(key):
                continue
            assert value.startswith("/run/secrets/"), (
                f"{svc_name}: {key} must name a secret file under /run/secrets, got {value!r}")
            if key.startswith(("FEDHUB_", "SITE_AGENT_", "POSTGRES_")):
                assert key.endswith("_FILE"), f"{svc_name}: {key}=<path> would be the value itself"


@pytest.mark.parametrize("name", ["hub.yml", "site.yml"])
def test_every_run_secrets_path_is_a_secret_of_that_service(name: str) -> None:
    spec = compose(name)
    declared = set(spec.get("secrets", {}))
    for svc_name, svc in spec["services"].items():
        granted = set(svc.get("secrets", []))
        assert granted <= declared, f"{svc_name}: undeclared secrets {granted - declared}"
        used = set(re.findall(r"/run/secrets/([A-Za-z0-9_.-]+)", yaml.safe_dump(svc)))
        assert used <= granted, f"{svc_name} reads {used - granted} without being granted them"


@pytest.mark.parametrize("name", ["hub.yml", "site.yml"])
def test_volumes_networks_and_dependencies_are_declared(name: str) -> None:
    spec = compose(name)
    services = spec["services"]
    volumes, networks = set(spec.get("volumes", {})), set(spec.get("networks", {}))
    for svc_name, svc in services.items():
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/", "$")):
                assert source in volumes, f"{svc_name}: volume {source} not declared"
            elif source.startswith("."):
                assert (COMPOSE / source).exists(), f"{svc_name}: {source} does not exist"
        assert set(svc.get("networks", [])) <= networks, svc_name
        assert set(svc.get("depends_on", {})) <= set(services), svc_name
        mode = svc.get("network_mode", "")
        if mode.startswith("service:"):
            assert mode.split(":", 1)[1] in services
            assert "networks" not in svc and "ports" not in svc


def test_secret_files_live_in_git_ignored_places() -> None:
    for name in ("hub.yml", "site.yml"):
        for secret in compose(name)["secrets"].values():
            path = INTERPOLATION.sub(lambda m: m.group(3) or "", secret["file"])
            rel = (COMPOSE / path).resolve().relative_to(ROOT)
            ignored = subprocess.run(["git", "check-ignore", "-q", str(rel)], cwd=ROOT)
            assert ignored.returncode == 0, f"{rel} would not be git-ignored"


def test_plain_http_stays_on_loopback() -> None:
    hub = compose("hub.yml")["services"]
    assert _env(hub["hub"])["FEDHUB_HOST"] == "127.0.0.1"
    assert hub["proxy"]["network_mode"] == "service:hub"
    published = {svc for spec in ("hub.yml", "site.yml")
                 for svc, body in compose(spec)["services"].items() if body.get("ports")}
    assert published == {"hub"}
    container_ports = {p.rsplit(":", 1)[1] for p in hub["hub"]["ports"]}
    assert container_ports == {"8443", "9443"}  # both served by Caddy with TLS
    node = compose("site.yml")["services"]["supernode"]["command"]
    assert any(a.startswith("--host=127.0.0.1") for a in node)
    for path in (COMPOSE / "hub.yml", COMPOSE / "site.yml"):
        assert "--insecure" not in path.read_text()


def test_superlink_runs_with_tls_node_auth_and_no_runtime_installs() -> None:
    args = compose("hub.yml")["services"]["superlink"]["command"]
    flags = {a.split("=", 1)[0] for a in args}
    assert {"--ssl-ca-certfile", "--ssl-certfile", "--ssl-keyfile", "--enable-supernode-auth",
            "--disable-runtime-dependency-installation", "--database"} <= flags
    node = compose("site.yml")["services"]["supernode"]["command"]
    node_flags = dict(a.split("=", 1) for a in node if "=" in a)
    assert node_flags["--root-certificates"].startswith("/run/secrets/")
    assert node_flags["--auth-supernode-private-key"] == "/run/secrets/site_key"
    for key in ("site-id=", "data-path=", "policy-file="):  # what the ClientApp reads
        assert key in node_flags["--node-config"]


def test_proxy_environment_matches_caddy_placeholders() -> None:
    text = "".join(p.read_text() for p in PROXY.rglob("*") if p.is_file())
    placeholders = set(re.findall(r"\{\$([A-Z0-9_]+)", text))
    proxy = compose("hub.yml")["services"]["proxy"]
    configured = set(_env(proxy)) - {"XDG_DATA_HOME", "XDG_CONFIG_HOME"}
    assert configured <= placeholders, f"typo? {configured - placeholders}"
    assert proxy["volumes"] == ["../proxy:/etc/caddy:ro"]


@pytest.mark.parametrize("name,example", [("hub.yml", "hub.env.example"),
                                          ("site.yml", "site.env.example")])
def test_required_variables_are_in_the_example_env(name: str, example: str) -> None:
    text = (COMPOSE / name).read_text()
    required = {m.group(1) for m in INTERPOLATION.finditer(text) if m.group(2) in {"?", ":?"}}
    optional = {m.group(1) for m in INTERPOLATION.finditer(text)} - required
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (COMPOSE / example).read_text(), re.M))
    assert required <= documented, f"{example} misses {required - documented}"
    assert documented <= required | optional, f"{example} sets unused {documented - optional}"
    assert all(v.startswith("https://") for k, v in re.findall(
        r"^([A-Z_]*URL)=(.*)$", (COMPOSE / example).read_text(), re.M))


def test_our_images_build_from_the_repository_with_their_dockerfile() -> None:
    expected = {"fedhub-hub": "deploy/docker/hub.Dockerfile",
                "fedhub-site-agent": "deploy/docker/site-agent.Dockerfile"}
    for name in ("hub.yml", "site.yml"):
        for svc_name, svc in compose(name)["services"].items():
            image = image_name(svc["image"])
            if image not in expected:
                continue
            build = svc["build"]
            assert (COMPOSE / build["context"]).resolve() == ROOT, svc_name
            assert build["dockerfile"] == expected[image], svc_name
            assert (ROOT / build["dockerfile"]).exists()
