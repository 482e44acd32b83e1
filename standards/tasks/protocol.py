"""Message conventions between the hub's ServerApp and the sites' ClientApp (no flwr import)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# message types (category.action) beyond plain train/evaluate
HANDSHAKE = "query.handshake"

# record keys inside a Message's RecordDict
ARRAYS = "arrays"
CONFIG = "config"
METRICS = "metrics"
SITE = "site"
STATS = "stats"

# config keys the hub sends
TASK = "task"
CODE_HASH = "code-hash"
SPEC = "spec"
NUM_EXAMPLES = "num-examples"

# error code a site returns when it has not consented to a task (or code version)
CONSENT_REFUSED = 4030
DATA_UNAVAILABLE = 4040


def encode_spec(spec: Mapping[str, Any]) -> str:
    """Model/feature spec as a compact JSON string (fits a ConfigRecord)."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def decode_spec(text: str) -> dict[str, Any]:
    """Inverse of `encode_spec`."""
    spec = json.loads(text)
    if not isinstance(spec, dict):
        raise ValueError("spec must be a JSON object")
    return spec


def consent_reason(reason: str, site_id: str) -> str:
    """Error text of a refusal; the hub shows it as the site's reason."""
    return f"site {site_id} refused: {reason}"
