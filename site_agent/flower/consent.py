"""Site consent policy: which federated tasks (name + code hash) this site takes part in."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POLICY_ENV = "FEDHUB_SITE_POLICY_FILE"


@dataclass(frozen=True)
class Consent:
    """Outcome of a consent check."""

    allowed: bool
    reason: str


@dataclass(frozen=True)
class SitePolicy:
    """Allow-list of (task, code hash) pairs; a code hash of "*" accepts any code version."""

    site_id: str
    allow: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def check(self, task: str, requested_hash: str, local_hash: str) -> Consent:
        """Consent for a run of `task` whose hub-side code hash is `requested_hash`."""
        if requested_hash != local_hash:
            return Consent(
                False, f"code hash {requested_hash} differs from this site's {local_hash}"
            )
        for name, code in self.allow:
            if name == task and code in ("*", requested_hash):
                return Consent(True, "allowed by site policy")
        return Consent(False, f"task {task} with code {requested_hash} is not in the allow-list")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SitePolicy:
        """From {"site-id": …, "allow": [{"task": …, "code-hash": …}, …]}."""
        allow = tuple((str(a["task"]), str(a.get("code-hash", "*"))) for a in d.get("allow", []))
        return cls(str(d["site-id"]), allow)

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the policy file."""
        return {
            "site-id": self.site_id,
            "allow": [{"task": t, "code-hash": h} for t, h in self.allow],
        }


def load_policy(node_config: Mapping[str, Any]) -> SitePolicy | None:
    """The site's policy from node_config (`policy-file` or inline `allow-tasks`) or env.

    A policy file may hold one policy or, for the Simulation Engine, {"partitions": {"<id>":
    policy}} keyed by partition id. Returns None when no policy is configured.
    """
    site_id = str(node_config.get("site-id", ""))
    if "allow-tasks" in node_config:  # "task@hash,task@hash" (hash optional: any version)
        pairs = []
        for item in str(node_config["allow-tasks"]).split(","):
            name, _, code = item.strip().partition("@")
            if name:
                pairs.append((name, code or "*"))
        return SitePolicy(site_id or "site", tuple(pairs))
    path = node_config.get("policy-file") or os.environ.get(POLICY_ENV)
    if not path:
        return None
    data = json.loads(Path(str(path)).read_text())
    if "partitions" in data:
        entry = data["partitions"].get(str(node_config.get("partition-id")))
        return None if entry is None else SitePolicy.from_dict(entry)
    return SitePolicy.from_dict(data)


def check_consent(
    node_config: Mapping[str, Any], task: str, requested_hash: str, local_hash: str
) -> tuple[str, Consent]:
    """(site id, consent) for this node; simulated sites without a policy consent by default."""
    policy = load_policy(node_config)
    simulated = "partition-id" in node_config
    site_id = (
        policy.site_id
        if policy
        else str(node_config.get("site-id") or f"site-{node_config.get('partition-id', '?')}")
    )
    if policy is None:
        if simulated:
            if requested_hash != local_hash:
                return site_id, Consent(False, "code hash differs from this site's task code")
            return site_id, Consent(True, "simulated site without a policy")
        return site_id, Consent(False, "no consent policy configured at this site")
    return site_id, policy.check(task, requested_hash, local_hash)
