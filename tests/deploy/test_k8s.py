"""Kubernetes manifests: references resolve, pods are locked down, no Secret values committed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.files import K8S, PROXY, ROOT, k8s_docs, k8s_objects, pod_specs, yaml

WORKLOADS = {"fedhub-hub", "fedhub-superlink", "fedhub-postgres", "fedhub-migrate"}


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def test_kustomizations_list_every_manifest_and_nothing_else() -> None:
    for directory in (K8S, K8S / "migrate"):
        kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
        listed = set(kust["resources"])
        present = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
        assert listed == present, directory
        assert kust["namespace"] == "fedhub"
        assert [i["name"] for i in kust["images"]] == ["fedhub-hub"]


def test_expected_objects() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in k8s_docs()}
    assert {("Deployment", "fedhub-hub"), ("Service", "fedhub-hub"), ("Ingress", "fedhub-hub"),
            ("Job", "fedhub-migrate"), ("StatefulSet", "fedhub-postgres"),
            ("Deployment", "fedhub-superlink"), ("Service", "fedhub-superlink"),
            ("Service", "fedhub-fleet"), ("ConfigMap", "fedhub-config")} <= kinds
    assert {name for name, _ in pod_specs()} == WORKLOADS


def test_no_secret_objects_are_committed() -> None:
    assert not [d for d in k8s_docs() if d["kind"] == "Secret"]
    env = [(e["name"], e.get("value")) for _, spec in pod_specs() for c in _containers(spec)
           for e in c.get("env", [])]
    env += list(k8s_objects("ConfigMap")["fedhub-config"]["data"].items())
    for name, value in env:
        if re.search(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|_KEY\b", name) and value is not None:
            assert str(value).startswith("/run/secrets/"), (name, value)
            assert name.endswith(("_FILE", "_KEY")), name


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_pods_run_non_root_with_read_only_root_and_limits(workload: str) -> None:
    spec = dict(pod_specs())[workload]
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec.get("automountServiceAccountToken") is False
    for c in _containers(spec):
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
        assert set(sc["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}, c["name"]
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]), c["name"]
        assert {"cpu", "memory"} <= set(c["resources"]["limits"]), c["name"]
        if c.get("image", "").startswith("fedhub-"):
            assert pod["runAsUser"] == 10001  # the images' user, which owns their data dirs


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_mounts_volumes_and_secret_paths_resolve(workload: str) -> None:
    spec = dict(pod_specs())[workload]
    volumes = {v["name"]: v for v in spec["volumes"]}
    configmaps = k8s_objects("ConfigMap")
    claims = set(k8s_objects("PersistentVolumeClaim"))
    templates = {t["metadata"]["name"] for d in k8s_docs()
                 for t in d.get("spec", {}).get("volumeClaimTemplates", [])}
    for volume in volumes.values():
        if "configMap" in volume:
            data = configmaps[volume["configMap"]["name"]]["data"]
            for item in volume["configMap"].get("items", []):
                assert item["key"] in data, item
        if "persistentVolumeClaim" in volume:
            assert volume["persistentVolumeClaim"]["claimName"] in claims
    for c in _containers(spec):
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        for name in mounts.values():
            assert name in volumes or name in templates, f"{c['name']}: volume {name}"
        for ref in c.get("envFrom", []):
            assert ref["configMapRef"]["name"] in configmaps
        text = yaml.safe_dump({k: c.get(k) for k in ("command", "args", "env")})
        text += yaml.safe_dump(c.get("envFrom") and configmaps["fedhub-config"]["data"])
        for path in re.findall(r"(/run/secrets/[\w./-]+)", text):
            mount = next((m for m in mounts if path.startswith(m + "/")), None)
            assert mount, f"{workload}/{c['name']}: {path} is not under a mounted volume"
            volume = volumes[mounts[mount]]
            assert "secret" in volume, f"{path} is mounted from {volume}"
            items = volume["secret"].get("items")
            if items:
                assert path[len(mount) + 1:] in {i["path"] for i in items}, path


def test_hub_deployment_probes_health_and_ready() -> None:
    hub = dict(pod_specs())["fedhub-hub"]
    container = next(c for c in hub["containers"] if c["name"] == "hub")
    probes = {k: " ".join(container[k]["exec"]["command"])
              for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"].endswith("/health")
    assert probes["readinessProbe"].endswith("/ready")
    assert container["args"] == ["serve", "--no-migrate"]
    deployment = k8s_objects("Deployment")["fedhub-hub"]["spec"]
    assert deployment["replicas"] >= 2
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    env = k8s_objects("ConfigMap")["fedhub-config"]["data"]
    assert env["FEDHUB_HOST"] == "127.0.0.1"  # only the TLS sidecar talks to it


def test_services_and_ingress_point_at_real_ports() -> None:
    pods = {name: spec for name, spec in pod_specs()}
    labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
              for d in k8s_docs() if d["kind"] in {"Deployment", "StatefulSet", "Job"}}
    services = k8s_objects("Service")
    for name, svc in services.items():
        selector = svc["spec"]["selector"]
        matching = [w for w, lab in labels.items() if selector.items() <= lab.items()]
        assert len(matching) == 1, f"service {name} selects {matching}"
        ports = {p["name"] for c in pods[matching[0]]["containers"] for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{name}: {port}"
    ingress = k8s_objects("Ingress")["fedhub-hub"]
    assert ingress["spec"]["tls"][0]["secretName"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service_ports = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
    assert backend["port"]["name"] in service_ports
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/backend-protocol"] == "HTTPS"


def test_superlink_flags_and_fleet_gateway() -> None:
    spec = dict(pod_specs())["fedhub-superlink"]
    superlink = next(c for c in spec["containers"] if c["name"] == "superlink")
    flags = {a.split("=", 1)[0] for a in superlink["args"]}
    assert {"--enable-supernode-auth", "--disable-runtime-dependency-installation",
            "--ssl-ca-certfile", "--ssl-certfile", "--ssl-keyfile", "--database"} <= flags
    services = k8s_objects("Service")
    assert k8s_objects("Deployment")["fedhub-superlink"]["spec"]["strategy"]["type"] == "Recreate"
    assert services["fedhub-superlink"]["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert services["fedhub-fleet"]["spec"]["ports"][0]["targetPort"] == "fleet"


def test_proxy_configmap_is_a_verbatim_copy_of_deploy_proxy() -> None:
    data = k8s_objects("ConfigMap")["fedhub-proxy"]["data"]
    assert data["Caddyfile"] == (PROXY / "Caddyfile").read_text()
    for name in ("hub.caddy", "fleet.caddy"):
        assert data[name] == (PROXY / "sites" / name).read_text(), name


def test_flower_cli_configs_point_at_mounted_ca() -> None:
    import tomllib

    compose_cfg = tomllib.loads((ROOT / "deploy/flower/config.toml").read_text())
    k8s_cfg = tomllib.loads(k8s_objects("ConfigMap")["fedhub-flwr"]["data"]["config.toml"])
    for cfg, address in ((compose_cfg, "superlink:9092"), (k8s_cfg, "fedhub-superlink:9092")):
        conn = cfg["superlink"][cfg["superlink"]["default"]]
        assert conn["address"] == address
        assert conn["root-certificates"].startswith("/run/secrets/")
        assert "insecure" not in conn
