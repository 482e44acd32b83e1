"""Agent side of enrollment: submit the request, poll for approval, open the sealed API key."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from site_agent import __version__, keys, messages
from site_agent.client import HubClient
from site_agent.config import AgentSettings, SiteIdentity, save_identity, write_secret
from site_agent.egress import gate


class EnrollmentError(Exception):
    """Enrollment cannot proceed (rejected, revoked, or refused by the hub)."""


@dataclass
class PollResult:
    status: str
    detail: str
    api_key_saved: bool


def private_key(settings: AgentSettings) -> keys.ec.EllipticCurvePrivateKey:
    return keys.load_private(settings.key_dir / keys.PRIVATE_NAME)


def submit(settings: AgentSettings, identity: SiteIdentity, client: HubClient,
           token: str) -> SiteIdentity:
    """Send the enrollment request (with the public key) using a site admin's token."""
    key = private_key(settings)
    request = {
        "name": identity.name, "kind": identity.kind, "location": identity.location,
        "capabilities": {"datasets": identity.datasets, "tasks": identity.tasks},
        "public_key": keys.public_text(key), "agent_version": __version__,
    }
    resp = client.post("/sites/enroll", gate(messages.ENROLLMENT, request), bearer=token)
    body = client.json_or_raise(resp)
    identity.site_id, identity.status = body["id"], body["status"]
    save_identity(settings, identity)
    return identity


def poll_once(settings: AgentSettings, identity: SiteIdentity, client: HubClient) -> PollResult:
    """Ask the hub for the site's state; store the API key if it is enclosed."""
    if not identity.site_id:
        raise EnrollmentError("not enrolled yet; run `site-agent enroll --hub URL --token …`")
    key = private_key(settings)
    proof = keys.proof(key, identity.site_id, "credentials")
    resp = client.post(f"/sites/{identity.site_id}/credentials", gate(messages.PROOF, proof))
    body = client.json_or_raise(resp)
    saved = False
    if body.get("api_key"):
        secret = keys.open_sealed(key, body["api_key"], identity.site_id).decode()
        write_secret(settings.api_key_path, secret)
        client.api_key, saved = secret, True
    if identity.status != body["status"]:
        identity.status = body["status"]
        save_identity(settings, identity)
    return PollResult(body["status"], body.get("detail", ""), saved)


def wait_for_approval(settings: AgentSettings, identity: SiteIdentity, client: HubClient,
                      timeout: float | None = None,
                      on_wait: Callable[[PollResult], None] | None = None) -> PollResult:
    """Poll until approved (API key stored), rejected/revoked (raises) or ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        result = poll_once(settings, identity, client)
        if result.status == "active":
            if result.api_key_saved or settings.api_key_path.exists():
                return result
            raise EnrollmentError("approved, but the API key was already collected and is not "
                                  f"in {settings.api_key_path}; ask the site admin to rotate "
                                  "the site API key")
        if result.status in {"rejected", "revoked"}:
            raise EnrollmentError(f"enrollment {result.status}: {result.detail}")
        if deadline is not None and time.monotonic() >= deadline:
            return result
        if on_wait:
            on_wait(result)
        time.sleep(settings.enroll_poll_seconds)
