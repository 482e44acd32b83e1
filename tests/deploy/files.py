"""Readers for the deployment files: compose, Kubernetes manifests, Dockerfiles, the runbook."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # (no stubs installed)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
PROXY = DEPLOY / "proxy"
DOCKER = DEPLOY / "docker"
RUNBOOK = ROOT / "docs" / "runbook.md"
DOCKERFILES = {"hub": DOCKER / "hub.Dockerfile", "site-agent": DOCKER / "site-agent.Dockerfile"}
# The entrypoint each of our images starts when a service does not override it.
IMAGE_ENTRYPOINT = {"fedhub-hub": "fedhub", "fedhub-site-agent": "site-agent"}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yml", ".yaml"})


def text_files() -> list[Path]:
    """Every deployment file that git would commit (generated keys are ignored), the runbook."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "deploy"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    files = [ROOT / p for p in listed if (ROOT / p).is_file() and "__pycache__" not in p]
    return sorted([*files, RUNBOOK, ROOT / ".dockerignore"])


@cache
def compose(name: str) -> dict[str, Any]:
    data = yaml.safe_load((COMPOSE / name).read_text())
    assert isinstance(data, dict)
    return data


def k8s_docs() -> list[dict[str, Any]]:
    """Every Kubernetes object under deploy/k8s (kustomizations excluded)."""
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def k8s_objects(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s_docs() if d["kind"] == kind}


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """(workload name, pod spec) for every Deployment, StatefulSet and Job."""
    for doc in k8s_docs():
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def image_name(image: str) -> str:
    """``fedhub-hub`` for ``${HUB_IMAGE:-fedhub-hub:0.1.0}`` or ``fedhub-hub``."""
    match = INTERPOLATION.fullmatch(image)
    if match and match.group(3):
        image = match.group(3)
    return image.rsplit("/", 1)[-1].split(":", 1)[0]


def as_argv(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


@dataclass
class Invocation:
    """One program started by a deployment file, with its arguments."""

    where: str
    argv: list[str]

    @property
    def program(self) -> str:
        return self.argv[0]


def _container_invocation(where: str, image: str, entry: list[str], args: list[str],
                          dockerfile_default: list[str] | None = None) -> Invocation | None:
    if entry:
        return Invocation(where, entry + args)
    default = IMAGE_ENTRYPOINT.get(image_name(image))
    if default is None:  # a third-party image: options go to its own entrypoint
        if args and args[0].startswith("-"):
            return Invocation(where, [image_name(image), *args])
        return Invocation(where, args) if args else None
    return Invocation(where, [default, *(args or dockerfile_default or [])])


def compose_invocations() -> list[Invocation]:
    """Programs started by compose services (entrypoint + command) and their healthchecks."""
    found: list[Invocation] = []
    for name in ("hub.yml", "site.yml"):
        for svc_name, svc in compose(name)["services"].items():
            where = f"{name}:{svc_name}"
            inv = _container_invocation(where, svc.get("image", ""), as_argv(svc.get("entrypoint")),
                                        as_argv(svc.get("command")))
            if inv:
                found.append(inv)
            test = svc.get("healthcheck", {}).get("test")
            if test and test[0] in {"CMD", "CMD-SHELL"}:
                found.append(Invocation(f"{where}:healthcheck", as_argv(test[1:])))
    return found


def k8s_invocations() -> list[Invocation]:
    found: list[Invocation] = []
    for workload, spec in pod_specs():
        for c in spec["containers"]:
            where = f"k8s:{workload}/{c['name']}"
            inv = _container_invocation(where, c["image"], c.get("command", []), c.get("args", []))
            if inv:
                found.append(inv)
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                cmd = c.get(probe, {}).get("exec", {}).get("command")
                if cmd:
                    found.append(Invocation(f"{where}:{probe}", list(cmd)))
    return found


@dataclass
class Dockerfile:
    """A Dockerfile as (instruction, arguments) pairs with stages."""

    path: Path
    instructions: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Dockerfile:
        out = cls(path)
        logical = ""
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not logical and (not line or line.startswith("#")):
                continue
            if line.startswith("#"):
                continue
            if line.endswith("\\"):
                logical += line[:-1] + " "
                continue
            logical += line
            word, _, rest = logical.partition(" ")
            out.instructions.append((word.upper(), rest.strip()))
            logical = ""
        return out

    def all(self, word: str) -> list[str]:
        return [rest for w, rest in self.instructions if w == word]

    def global_args(self) -> dict[str, str]:
        """ARG defaults declared before the first FROM."""
        args: dict[str, str] = {}
        for w, rest in self.instructions:
            if w == "FROM":
                break
            if w == "ARG" and "=" in rest:
                key, _, value = rest.partition("=")
                args[key] = value
        return args

    def final_stage(self) -> list[tuple[str, str]]:
        starts = [i for i, (w, _) in enumerate(self.instructions) if w == "FROM"]
        return self.instructions[starts[-1]:]

    def exec_form(self, word: str, stage: list[tuple[str, str]] | None = None) -> list[str]:
        values = [rest for w, rest in (stage or self.instructions) if w == word]
        assert values, f"{self.path.name} has no {word}"
        parsed = yaml.safe_load(values[-1])  # JSON exec form
        assert isinstance(parsed, list), f"{word} must use the exec form"
        return [str(v) for v in parsed]

    def invocations(self) -> list[Invocation]:
        entry = self.exec_form("ENTRYPOINT")
        found = [Invocation(f"{self.path.name}:ENTRYPOINT", entry + self.exec_form("CMD"))]
        for hc in self.all("HEALTHCHECK"):
            cmd = hc.split(" CMD ", 1)[1]
            found.append(Invocation(f"{self.path.name}:HEALTHCHECK", list(yaml.safe_load(cmd))))
        return found


def _command_lines(text: str) -> list[str]:
    """Lines of the fenced code blocks, with backslash continuations joined."""
    lines: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_block = not in_block
        elif in_block and lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + line.strip()
        elif in_block:
            lines.append(line)
    return lines


def _tokens(text: str) -> list[str]:
    try:
        words = shlex.split(text)
    except ValueError:  # an unbalanced quote further along the line
        words = text.split()
    out: list[str] = []
    for word in words:
        if word in {"|", "&&", ";", ")", "||", ">", ">>", "2>&1", "\\"} or word.startswith("#"):
            break
        out.append(word)
    return out


def runbook_invocations(programs: set[str]) -> list[Invocation]:
    """``fedhub …`` / ``site-agent …`` commands in the runbook's code blocks.

    A program counts where a command starts: at the start of a line, after a shell operator,
    after ``--`` or ``docker compose exec|run [options] SERVICE`` (whose image runs it).
    """
    names = "|".join(map(re.escape, sorted(programs)))
    start = (r"(?:^\s*|[;&|(]\s*|\s--\s+|\bexec\s+(?:-\S+\s+(?:[A-Za-z]\S*=\S+\s+)?)*\S+\s+"
             r"|\brun\s+(?:\S+\s+)*?)")
    pattern = re.compile(start + r"(" + names + r")(?=\s)")
    images = "|".join(map(re.escape, IMAGE_ENTRYPOINT))
    by_image = re.compile(r"\b(" + images + r"):\S+\s+(?=[a-z])")
    found: list[Invocation] = []
    for line in _command_lines(RUNBOOK.read_text()):
        where = f"runbook: {line.strip()[:70]}"
        for match in pattern.finditer(line):
            found.append(Invocation(where, _tokens(line[match.start(1):])))
        for match in by_image.finditer(line):  # docker run … IMAGE ARGS
            program = IMAGE_ENTRYPOINT[match.group(1)]
            if program in programs:
                found.append(Invocation(where, [program, *_tokens(line[match.end():])]))
    return found
