"""The ``site-agent`` command line: init, enroll, ingest, status, sync, run, simulate."""

from __future__ import annotations

import json
import shutil
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from site_agent import __version__, enrollment, keys, messages
from site_agent.client import HubClient, HubError, HubUnreachable
from site_agent.config import (
    AgentSettings,
    SiteIdentity,
    load_identity,
    save_identity,
)
from site_agent.egress import EgressRefused, gate
from site_agent.ingest import ingest as ingest_path
from site_agent.runner import Runner, heartbeat, hub_client, open_outbox
from site_agent.store import LocalStore

app = typer.Typer(help="fedhub site agent: keeps raw data at the site, talks to the hub.",
                  no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _settings() -> AgentSettings:
    try:
        return AgentSettings()
    except ValueError as exc:
        raise fail(f"invalid settings: {exc}", 2) from exc


def _identity(settings: AgentSettings) -> SiteIdentity:
    try:
        return load_identity(settings)
    except FileNotFoundError as exc:
        raise fail(str(exc), 2) from exc


def _client(settings: AgentSettings, identity: SiteIdentity) -> HubClient:
    client = hub_client(settings, identity)
    if client is None:
        raise fail("no hub URL: pass --hub or set SITE_AGENT_HUB_URL", 2)
    return client


@app.command()
def init(
    name: Annotated[str, typer.Option(help="display name, e.g. 'Basel Fill-Finish'")],
    kind: Annotated[str, typer.Option(help="plant or lab")],
    enterprise: Annotated[str, typer.Option(help="ISA-95 enterprise id, e.g. helix-pharma")],
    site: Annotated[str, typer.Option(help="ISA-95 site id readings carry, e.g. plant-basel")],
    area: Annotated[str | None, typer.Option(help="ISA-95 area id")] = None,
    work_center: Annotated[str | None, typer.Option(help="ISA-95 work center id")] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166-1 alpha-2")] = None,
    dataset: Annotated[list[str] | None, typer.Option(help="standard held (repeatable)")] = None,
    task: Annotated[list[str] | None, typer.Option(help="federated task (repeatable)")] = None,
    hub: Annotated[str | None, typer.Option(help="hub URL")] = None,
) -> None:
    """Create the local config dir, the site key pair and the local database."""
    settings = _settings()
    if kind not in {"plant", "lab"}:
        raise fail("--kind must be plant or lab", 2)
    if settings.identity_file.exists():
        raise fail(f"{settings.home} is already initialised (site {_identity(settings).name})")
    location = {k: v for k, v in {"enterprise": enterprise, "site": site, "area": area,
                                  "work_center": work_center, "country": country}.items() if v}
    identity = SiteIdentity(name=name, kind=kind, location=location,
                            datasets=dataset or [], tasks=task or [], hub_url=hub)
    try:  # the enrollment message must pass the gate later; check it now
        gate(messages.ENROLLMENT, {"name": name, "kind": kind, "location": location,
                                   "capabilities": {"datasets": identity.datasets,
                                                    "tasks": identity.tasks},
                                   "public_key": "ecdsa-sha2-nistp384 AAAA-placeholder"})
    except EgressRefused as exc:
        raise fail(f"invalid site description: {', '.join(exc.pointers)}", 2) from exc
    priv, pub = keys.generate(settings.key_dir, comment=f"fedhub-site:{site}")
    LocalStore(settings.store_file).close()
    save_identity(settings, identity)
    key = keys.load_private(priv)
    console.print(f"initialised {settings.home}: site {name!r} ({kind}), key "
                  f"{keys.fingerprint(key)}")
    console.print(f"public key (for Flower SuperNode auth): {pub}")
    console.print(f"private key stays here: {priv} (mode 0600)")


@app.command()
def enroll(
    hub: Annotated[str | None, typer.Option(help="hub URL")] = None,
    token: Annotated[str | None, typer.Option(envvar="SITE_AGENT_ENROLL_TOKEN",
                                              help="enrollment token from your site admin")] = None,
    token_file: Annotated[Path | None, typer.Option(help="file holding the token")] = None,
    wait: Annotated[bool, typer.Option(help="poll until approved")] = True,
    timeout: Annotated[float | None, typer.Option(help="give up waiting after S seconds")] = None,
) -> None:
    """Submit the enrollment request and wait for a hub admin's signed approval."""
    settings = _settings()
    identity = _identity(settings)
    if hub:
        identity.hub_url = hub
        save_identity(settings, identity)
    with _client(settings, identity) as client:
        try:
            if identity.site_id is None:
                secret = token or (token_file.read_text().strip() if token_file else None)
                if not secret:
                    raise fail("an enrollment token is needed (--token or --token-file)", 2)
                identity = enrollment.submit(settings, identity, client, secret)
                console.print(f"enrollment submitted: site id {identity.site_id} "
                              f"({identity.status})")
            if not wait:
                result = enrollment.poll_once(settings, identity, client)
            else:
                result = enrollment.wait_for_approval(
                    settings, identity, client, timeout,
                    on_wait=lambda r: console.print(f"waiting: {r.detail}"))
        except (HubError, HubUnreachable, enrollment.EnrollmentError) as exc:
            raise fail(str(exc)) from exc
    console.print(f"status: {result.status} — {result.detail}")
    if settings.api_key_path.exists():
        console.print(f"API key stored in {settings.api_key_path} (mode 0600)")


@app.command("ingest")
def ingest_cmd(
    path: Annotated[Path, typer.Argument(exists=True, help="file or directory")],
    schema: Annotated[str, typer.Option(help="standard id, e.g. sensor-reading/1.0.0")],
) -> None:
    """Validate records and store the valid ones in the site's local database (nothing is sent)."""
    settings = _settings()
    _identity(settings)
    store = LocalStore(settings.store_file)
    try:
        report = ingest_path(store, path, schema)
    except (LookupError, ValueError) as exc:
        raise fail(str(exc), 2) from exc
    finally:
        store.close()
    for problem in report.problems:
        err.print(escape(str(problem)))
    console.print(f"{report.files} file(s), {report.read} record(s): {report.valid} valid, "
                  f"{report.invalid} invalid; {report.stored} stored, "
                  f"{report.duplicates} already stored")
    if report.invalid:
        raise typer.Exit(1)


@app.command()
def status(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Local state (records, outbox) and, when reachable, the hub's view of this site."""
    settings = _settings()
    identity = _identity(settings)
    store = LocalStore(settings.store_file)
    outbox = open_outbox(settings, store)
    info: dict[str, Any] = {
        "site": identity.name, "kind": identity.kind, "site_id": identity.site_id,
        "enrollment": identity.status, "agent_version": __version__,
        "key_fingerprint": keys.fingerprint(enrollment.private_key(settings)),
        "records": store.record_counts(), "alerts_raised": store.alert_count(),
        "outbox": outbox.counts(), "failures": outbox.failures(5),
        "hub": identity.hub_url or settings.hub_url, "hub_view": None,
    }
    client = hub_client(settings, identity)
    if client is not None and identity.site_id:
        try:
            if client.api_key:
                info["hub_view"] = client.json_or_raise(client.get("/sites/me"))
            else:
                result = enrollment.poll_once(settings, identity, client)
                info["hub_view"] = {"status": result.status, "detail": result.detail}
        except (HubError, HubUnreachable) as exc:
            info["hub_view"] = {"error": str(exc)}
        finally:
            client.close()
    store.close()
    if json_out:
        console.print_json(json.dumps(info, default=str))
        return
    for key, value in info.items():
        console.print(f"{key:>16}: {escape(str(value))}")


@app.command()
def sync() -> None:
    """Deliver every queued message once (retries ignore the backoff schedule)."""
    settings = _settings()
    identity = _identity(settings)
    store = LocalStore(settings.store_file)
    try:
        with _client(settings, identity) as client:
            if not client.api_key:
                raise fail("no API key yet: finish `site-agent enroll` first", 2)
            report = open_outbox(settings, store).deliver(
                client, settings.delivery_batch, include_deferred=True)
            if report.busy:
                console.print("another agent process is delivering; nothing done")
            refused = None
            try:
                heartbeat(settings, identity, client, open_outbox(settings, store), store)
            except HubUnreachable as exc:
                err.print(f"heartbeat: {escape(str(exc))}")
            except HubError as exc:
                refused = exc
    finally:
        store.close()
    for line in report.errors:
        err.print(escape(line))
    console.print(f"delivered {report.delivered}, failed {report.failed}, "
                  f"deferred {report.deferred}, pending {report.pending}")
    if refused is not None:
        raise fail(f"the hub refused this site: {refused}")
    if report.deferred:
        raise typer.Exit(1)


@app.command()
def run(
    watch: Annotated[Path | None, typer.Option(help="ingest new files dropped here")] = None,
    watch_schema: Annotated[str, typer.Option(help="standard of watched files")] =
        messages.SENSOR_READING,
    ticks: Annotated[int | None, typer.Option(help="stop after N loops (testing)")] = None,
) -> None:
    """Run monitoring, outbox delivery and heartbeats until stopped (SIGTERM/Ctrl-C)."""
    settings = _settings()
    runner = Runner(settings, _identity(settings), watch, watch_schema)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop_event.set())
    console.print(f"site agent {__version__} running for {runner.identity.name} "
                  f"(hub {runner.client.base_url if runner.client else 'none'})")
    try:
        runner.run(max_ticks=ticks)
    except KeyboardInterrupt:
        runner.stop_event.set()
    console.print("stopped")


@app.command()
def rotate_key(reason: Annotated[str, typer.Option()] = "scheduled key rotation") -> None:
    """Generate a new site key pair, register it with the hub, then switch to it."""
    settings = _settings()
    identity = _identity(settings)
    staging = settings.home / "keys.new"
    if staging.exists():
        for f in staging.iterdir():
            f.unlink()
    priv, _pub = keys.generate(staging)
    new = keys.load_private(priv)
    with _client(settings, identity) as client:
        body = {"public_key": keys.public_text(new), "reason": reason}
        try:
            client.json_or_raise(client.post(f"/sites/{identity.site_id}/keys",
                                              gate(messages.KEY_ROTATION, body)))
        except (HubError, HubUnreachable) as exc:
            raise fail(f"hub refused the new key; still using the old one: {exc}") from exc
    old = settings.home / "keys.old"
    if old.exists():
        shutil.rmtree(old)
    settings.key_dir.rename(old)
    staging.rename(settings.key_dir)
    console.print(f"now using key {keys.fingerprint(new)}; previous key kept in {old}")


def _mount_extras() -> None:
    from site_agent.simulate import simulate
    from standards.cli import app as standards_app

    app.command()(simulate)
    app.add_typer(standards_app, name="standards")


_mount_extras()


def main() -> None:
    try:
        app()
    except EgressRefused as exc:
        err.print(f"[bold red]egress refused:[/] {escape(str(exc))}")
        sys.exit(3)


if __name__ == "__main__":
    main()
