"""Control and monitoring messages a site agent sends, as versioned standards.

These schemas describe the agent↔hub protocol (enrollment, heartbeats, alerts, shadow
reports). They are built with the same machinery as ``standards`` (pydantic models with
``x-classification``) so the egress gate treats them exactly like the shared data standards.
The hub validates the same shapes on arrival.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from uuid import UUID

from pydantic import Field

from standards.base import ModelStandard, StandardModel
from standards.common import Identifier, Isa95Path, ShortText, Text, Timestamp
from standards.registry import Registry

Measurement = Literal["temperature", "relative_humidity", "differential_pressure",
                      "dispensing_accuracy", "vibration"]
IDENT = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class Location(StandardModel):
    """ISA-95 location of a site."""

    enterprise: Identifier
    site: Identifier
    area: Identifier | None = None
    work_center: Identifier | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class Capabilities(StandardModel):
    """Standard datasets held and federated tasks the site can join."""

    datasets: list[str] = Field(default_factory=list)
    tasks: list[str] = Field(default_factory=list)


class SiteEnrollment(StandardModel):
    """Site enrollment request 1.0.0

    A plant or lab asks to join the consortium; carries its public key, never a private one.
    """

    name: ShortText
    kind: Literal["plant", "lab"]
    location: Location
    capabilities: Capabilities
    public_key: str = Field(min_length=20, max_length=2000)
    agent_version: str | None = None


class CredentialProof(StandardModel):
    """Proof of key possession 1.0.0

    A signature by the site's private key over a fresh challenge.
    """

    timestamp: str = Field(max_length=40)
    nonce: str = Field(min_length=8, max_length=64)
    signature: str = Field(min_length=16, max_length=400)


class Heartbeat(StandardModel):
    """Site agent heartbeat 1.0.0

    Liveness, agent version and queue depth.
    """

    agent_version: str = Field(min_length=1, max_length=40)
    sent_at: Timestamp | None = None
    outbox_pending: int | None = Field(default=None, ge=0)
    records_stored: int | None = Field(default=None, ge=0)


class KeyRotation(StandardModel):
    """Site key rotation 1.0.0

    The site's new public key.
    """

    public_key: str = Field(min_length=20, max_length=2000)
    reason: str = Field(min_length=3, max_length=2000)


class MonitoringAlert(StandardModel):
    """Monitoring alert 1.0.0

    An anomaly an edge scorer found in production telemetry: what, where, how far from normal.
    """

    alert_id: UUID
    site_id: Identifier
    asset: Isa95Path
    measurement: Measurement
    detector: Literal["zscore", "stuck", "drift", "model"]
    severity: Literal["info", "warning", "critical"]
    score: float
    value: float | None = None
    expected: float | None = None
    unit: str | None = Field(default=None, max_length=32)
    message: Text
    raised_at: Timestamp
    reading_id: UUID
    scorer: ShortText


class ScorerTally(StandardModel):
    """Alerts one scorer raised (or would have raised) in the window."""

    name: ShortText
    alerts: int = Field(ge=0)
    flagged_readings: int = Field(ge=0)


class ShadowReport(StandardModel):
    """Shadow scoring report 1.0.0

    A candidate scorer ran alongside the acting one without acting; how often they agreed.
    """

    report_id: UUID
    site_id: Identifier
    window_start: Timestamp
    window_end: Timestamp
    readings: int = Field(ge=1)
    agreement: float = Field(ge=0.0, le=1.0)
    current: ScorerTally
    shadow: ScorerTally
    only_current: int = Field(ge=0)
    only_shadow: int = Field(ge=0)


class Reason(StandardModel):
    """A reason 1.0.0

    Free-text justification for an audited change.
    """

    reason: str = Field(min_length=3, max_length=2000)


LOCAL_MODELS: list[tuple[str, type[StandardModel]]] = [
    ("site-enrollment", SiteEnrollment),
    ("site-credential-proof", CredentialProof),
    ("site-heartbeat", Heartbeat),
    ("site-key-rotation", KeyRotation),
    ("site-reason", Reason),
    ("monitoring-alert", MonitoringAlert),
    ("shadow-report", ShadowReport),
]

ENROLLMENT = "site-enrollment/1.0.0"
PROOF = "site-credential-proof/1.0.0"
HEARTBEAT = "site-heartbeat/1.0.0"
KEY_ROTATION = "site-key-rotation/1.0.0"
REASON = "site-reason/1.0.0"
ALERT = "monitoring-alert/1.0.0"
SHADOW_REPORT = "shadow-report/1.0.0"
WORK_ORDER = "maintenance-work-order/1.0.0"
SENSOR_READING = "sensor-reading/1.0.0"


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The agent's own message standards."""
    return Registry(ModelStandard(model, name, "1.0.0") for name, model in LOCAL_MODELS)
