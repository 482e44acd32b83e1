"""Every program, subcommand and flag the deployment files and the runbook use exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import click
import pytest
import typer

from tests.deploy.files import (
    DOCKERFILES,
    Dockerfile,
    Invocation,
    compose_invocations,
    k8s_invocations,
    runbook_invocations,
)

BIN = Path(sys.executable).parent
CONSOLE_SCRIPTS = ["fedhub", "site-agent", "flower-superlink", "flower-supernode", "flwr"]
PROBE = "/usr/local/bin/fedhub-healthcheck"
# Programs that come with third-party images, not with ours.
IMAGE_TOOLS = {"caddy", "pg_isready", "postgres", "wget"}


def invocations() -> list[Invocation]:
    found = compose_invocations() + k8s_invocations()
    for path in DOCKERFILES.values():
        found += Dockerfile.read(path).invocations()
    return found + runbook_invocations({"fedhub", "site-agent", "flwr"})


def of(program: str) -> list[Invocation]:
    return [inv for inv in invocations() if inv.program == program]


@pytest.mark.parametrize("script", CONSOLE_SCRIPTS)
def test_console_scripts_resolve(script: str) -> None:
    path = BIN / script
    assert path.is_file() and os.access(path, os.X_OK), f"{script} not in {BIN}"


def test_every_program_started_is_ours_or_the_images() -> None:
    for inv in invocations():
        assert inv.program in {*CONSOLE_SCRIPTS, "python", *IMAGE_TOOLS}, inv
        if inv.program == "python":
            assert inv.argv[1] == PROBE, inv
    for path in DOCKERFILES.values():
        copies = Dockerfile.read(path).all("COPY")
        assert any(c.endswith(f"deploy/docker/healthcheck.py {PROBE}") for c in copies), path


def _resolve(group: click.Command, argv: list[str], where: str) -> tuple[click.Command, list[str]]:
    """The (sub)command ``argv`` names and the arguments left for it."""
    command, rest = group, list(argv)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        assert sub is not None, f"{where}: no command {rest[0]!r} (have {sorted(command.commands)})"
        command, rest = sub, rest[1:]
    assert not isinstance(command, click.Group), f"{where}: {argv} names a group, not a command"
    return command, rest


def _check_options(command: click.Command, rest: list[str], where: str) -> None:
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    for arg in rest:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            assert flag in known, f"{where}: {command.name} has no option {flag}"


def _check_cli(app: typer.Typer, program: str) -> int:
    root = typer.main.get_command(app)
    found = of(program)
    for inv in found:
        command, rest = _resolve(root, inv.argv[1:], inv.where)
        _check_options(command, rest, inv.where)
    return len(found)


def test_fedhub_subcommands_and_options_exist() -> None:
    from hub import cli

    cli._register_commands()
    assert _check_cli(cli.app, "fedhub") >= 10  # serve, db upgrade, audit verify, admin …


def test_site_agent_subcommands_and_options_exist() -> None:
    try:
        from site_agent import cli
    except ImportError as exc:  # the site agent CLI is being written alongside
        pytest.xfail(f"site_agent.cli does not import yet: {exc}")
    assert _check_cli(cli.app, "site-agent") >= 5  # run, status, enroll, init, rotate-key


def test_a_misnamed_subcommand_or_option_is_caught() -> None:
    from hub import cli

    root = typer.main.get_command(cli.app)
    with pytest.raises(AssertionError, match="no command 'upgrad'"):
        _resolve(root, ["db", "upgrad"], "test")
    command, rest = _resolve(root, ["serve", "--no-migrate", "--wokers", "2"], "test")
    with pytest.raises(AssertionError, match="no option --wokers"):
        _check_options(command, rest, "test")


@cache
def _help(*argv: str) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run([str(BIN / argv[0]), *argv[1:], "--help"], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)


@pytest.mark.parametrize("program", ["flower-superlink", "flower-supernode"])
def test_flower_flags_exist(program: str) -> None:
    found = of(program)
    assert found, f"no {program} in the deployment files"
    text = _help(program)
    for inv in found:
        for arg in inv.argv[1:]:
            if arg.startswith("--"):
                flag = arg.split("=", 1)[0]
                assert re.search(re.escape(flag) + r"\b", text), f"{inv.where}: {flag}"


def test_flwr_commands_exist() -> None:
    found = of("flwr")
    assert {tuple(inv.argv[1:3]) for inv in found} >= {("supernode", "register"),
                                                       ("supernode", "list")}
    for inv in found:
        words = [a for a in inv.argv[1:3] if not a.startswith("-")]
        text = _help("flwr", *words)
        for arg in inv.argv[3:]:
            if arg.startswith("--"):
                assert arg.split("=", 1)[0] in text, f"{inv.where}: {arg}"
