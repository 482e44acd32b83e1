"""Dockerfile lint: pinned bases, non-root runtime, no secrets, torch (CPU) before the project."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from tests.deploy.files import DOCKER, DOCKERFILES, ROOT, Dockerfile

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
SECRET_NAMES = re.compile(r"\.env\b|\.key\b|\.pem\b|secret|password|token|id_rsa|\.p12\b", re.I)


@pytest.fixture(params=sorted(DOCKERFILES), ids=str)
def dockerfile(request: pytest.FixtureRequest) -> Dockerfile:
    return Dockerfile.read(DOCKERFILES[request.param])


def _expand(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), text)


def test_every_base_image_is_pinned(dockerfile: Dockerfile) -> None:
    args = dockerfile.global_args()
    stages: set[str] = set()
    for line in dockerfile.all("FROM"):
        image, _, alias = _expand(line, args).partition(" AS ")
        if image in stages:
            continue
        tag = image.partition(":")[2]
        assert tag and tag != "latest", f"{image} is not pinned"
        assert re.match(r"\d+\.\d+\.\d+", tag), f"{image}: pin a full version"
        stages.add(alias.strip())


def test_runtime_stage_runs_as_a_non_root_user(dockerfile: Dockerfile) -> None:
    users = [rest for word, rest in dockerfile.final_stage() if word == "USER"]
    assert users, "the final stage sets no USER (it would run as root)"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"} and (not user.isdigit() or int(user) >= 1000)
    assert "useradd" in " ".join(r for w, r in dockerfile.final_stage() if w == "RUN")


def test_no_add_and_no_secrets_copied_or_set(dockerfile: Dockerfile) -> None:
    assert not dockerfile.all("ADD"), "use COPY; ADD fetches URLs and unpacks archives"
    for copy in dockerfile.all("COPY"):
        sources = [w for w in copy.split() if not w.startswith("--")][:-1]
        for source in sources:
            assert not SECRET_NAMES.search(source), source
            if not copy.startswith("--from="):
                assert (ROOT / source).exists(), f"COPY source {source} missing"
    for env in dockerfile.all("ENV") + dockerfile.all("ARG"):
        for key in re.findall(r"(\w+)=", env):
            if re.search(r"SECRET|PASSWORD|TOKEN|DATABASE_URL", key) and not key.endswith("_FILE"):
                pytest.fail(f"{key} baked into the image")


def test_torch_cpu_is_installed_before_the_project(dockerfile: Dockerfile) -> None:
    args = dockerfile.global_args()
    runs = [_expand(r, args) for w, r in dockerfile.instructions if w == "RUN"]
    torch = next(i for i, r in enumerate(runs) if "torch==" in r)
    project = next(i for i, r in enumerate(runs) if re.search(r"pip install \.(\s|$)", r))
    assert torch < project
    assert f"--index-url {TORCH_CPU_INDEX}" in runs[torch].replace('"', "")
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = next(d.split("==")[1] for d in pins if d.startswith("torch=="))
    assert f"torch=={pinned}" in runs[torch].replace('"', ""), "image torch differs from pyproject"


def test_healthcheck_and_console_script_entrypoint(dockerfile: Dockerfile) -> None:
    assert dockerfile.all("HEALTHCHECK"), "no HEALTHCHECK"
    entry = dockerfile.exec_form("ENTRYPOINT", dockerfile.final_stage())
    assert entry[0] in {"fedhub", "site-agent"}
    if entry[0] == "fedhub":
        (hc,) = dockerfile.all("HEALTHCHECK")
        assert "fedhub-healthcheck" in hc  # GET /health on the hub's port


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes (directories too)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.replace("**/", ""))
               for p in prefixes):
            ignored = not negate
    return ignored


def _patterns(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def test_dockerignore_files_are_identical_and_keep_secrets_out() -> None:
    files = [ROOT / ".dockerignore", *(DOCKER / f"{p.name}.dockerignore"
                                       for p in DOCKERFILES.values())]
    texts = {f.read_text() for f in files}
    assert len(texts) == 1, "the three .dockerignore files differ"
    patterns = _patterns(files[0])
    for dockerfile in DOCKERFILES.values():
        for copy in Dockerfile.read(dockerfile).all("COPY"):
            if copy.startswith("--from="):
                continue
            for source in [w for w in copy.split() if not w.startswith("--")][:-1]:
                assert not _ignored(source.rstrip("/"), patterns), f"{source} is ignored"
                if (ROOT / source).is_dir():
                    assert not _ignored(f"{source}/module.py", patterns), f"{source}/ ignored"
    for leak in (".env", "hub/.env", ".data/hub/secret_key", ".venv/bin/python", ".git/config",
                 "deploy/compose/secrets/hub.key", "deploy/certs/dev/ca.key", "hub/site.db",
                 "site_agent/keys/x.pem"):
        assert _ignored(leak, patterns), f"{leak} would enter the build context"
