"""Agent settings (``SITE_AGENT_*``) and the site identity written by ``site-agent init``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

IDENTITY_FILE = "agent.json"


class AgentSettings(BaseSettings):
    """Configuration of one site agent process."""

    model_config = SettingsConfigDict(env_prefix="SITE_AGENT_", env_file=".env", extra="ignore")

    home: Path = Path(".data/site")
    hub_url: str | None = None
    api_key_file: Path | None = None
    store_path: Path | None = None
    request_timeout: float = Field(default=10.0, gt=0)
    backoff_base: float = Field(default=1.0, gt=0, description="first retry delay (s)")
    backoff_max: float = Field(default=300.0, gt=0, description="longest retry delay (s)")
    delivery_batch: int = Field(default=50, ge=1, le=1000)
    heartbeat_seconds: float = Field(default=30.0, gt=0)
    loop_seconds: float = Field(default=1.0, gt=0)
    enroll_poll_seconds: float = Field(default=5.0, gt=0)
    share_readings: bool = Field(default=False, description="send shareable readings to the hub")
    readings_batch: int = Field(default=500, ge=1, le=5000)
    share_traceability: bool = Field(
        default=False, description="send stored EPCIS documents to the hub's traceability")
    scorer: str = "statistical"
    shadow_scorer: str | None = None
    shadow_report_every: int = Field(default=500, ge=1, description="readings per shadow report")
    services: list[str] = Field(default_factory=list,
                                description="extra services for `run`, as module:factory")

    @property
    def key_dir(self) -> Path:
        return self.home / "keys"

    @property
    def api_key_path(self) -> Path:
        return self.api_key_file or self.home / "api_key"

    @property
    def store_file(self) -> Path:
        return self.store_path or self.home / "site.db"

    @property
    def identity_file(self) -> Path:
        return self.home / IDENTITY_FILE


class SiteIdentity(BaseModel):
    """What ``init`` records about the site; ``enroll`` adds the hub's site id."""

    name: str
    kind: Literal["plant", "lab"]
    location: dict[str, str]
    datasets: list[str] = Field(default_factory=list)
    tasks: list[str] = Field(default_factory=list)
    hub_url: str | None = None
    site_id: str | None = None
    status: str = "not enrolled"

    @property
    def site_code(self) -> str:
        """The ISA-95 site identifier readings carry as ``site_id``."""
        return self.location["site"]


def load_identity(settings: AgentSettings) -> SiteIdentity:
    path = settings.identity_file
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; run `site-agent init` first")
    return SiteIdentity.model_validate_json(path.read_text())


def save_identity(settings: AgentSettings, identity: SiteIdentity) -> None:
    path = settings.identity_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(identity.model_dump(), indent=2) + "\n")
    os.replace(tmp, path)


def write_secret(path: Path, value: str) -> None:
    """Write a secret file readable by the agent's user only (atomic replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    os.replace(tmp, path)


def read_secret(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None
