"""Hub settings, read from the environment (``FEDHUB_*``) and an optional ``.env`` file."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _local_secret(path: Path) -> str:
    """A random secret kept in the data dir (development only), created on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


DEFAULT_QUALIFICATION_GATES: dict[str, str | list[str]] = {
    "screen.submit": "molecular-screening-model-application",
    "qc_alert.acknowledge": "intelligent-inspection-system-operation",
    "alert.acknowledge": "production-line-data-analysis",
    "excursion.resolve": "logistics-information-management",
}
DEFAULT_QUALIFICATION_ROLES: dict[str, tuple[str, ...]] = {
    "researcher": ("molecular-screening-model-application",),
    "site_admin": ("production-line-data-analysis", "intelligent-inspection-system-operation"),
    "qa": ("intelligent-inspection-system-operation",),
}

# ``FEDHUB_<NAME>_FILE`` names a file holding ``FEDHUB_<NAME>`` (Docker/Kubernetes secrets).
SECRET_FILE_FIELDS = {"secret_key_file": "secret_key", "database_url_file": "database_url"}


class Settings(BaseSettings):
    """Configuration of one hub process."""

    model_config = SettingsConfigDict(env_prefix="FEDHUB_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path(".data/hub")
    database_url: str = ""
    secret_key: str = Field(default="", repr=False)
    public_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1

    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    password_history: int = Field(default=5, ge=1)
    password_min_length: int = Field(default=12, ge=8)
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # requests one worker works on at once (the rest wait in line, holding nothing; 0 = no
    # limit): keep it below the worker's 30 database connections (hub.admission)
    max_concurrent_requests: int = Field(default=24, ge=0)
    admission_wait_seconds: float = Field(default=10.0, gt=0, le=300)
    # login rate limit: failed attempts per sliding window, per client IP and per username
    # (in-process: each worker keeps its own windows; 0 turns a limit off)
    login_rate_window_seconds: int = Field(default=60, ge=1, le=24 * 3600)
    login_rate_per_ip: int = Field(default=30, ge=0)
    login_rate_per_user: int = Field(default=10, ge=0)
    secret_key_file: Path | None = None
    database_url_file: Path | None = None
    # training: action -> qualification(s) it needs (JSON; '{}' turns the gates off), role ->
    # qualifications its holders need (training coverage), days of notice before expiry
    qualification_gates: dict[str, str | list[str]] = Field(
        default_factory=lambda: dict(DEFAULT_QUALIFICATION_GATES))
    qualification_requirements: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_QUALIFICATION_ROLES.items()})
    training_reminder_days: int = Field(default=30, ge=1, le=365)
    # federated runs: the Simulation Engine in this process, or the Deployment Engine on the
    # SuperLink at `superlink_address` (its Control API; TLS verified with `superlink_ca_file`)
    federation_engine: Literal["simulation", "deployment"] = "simulation"
    superlink_address: str = ""
    superlink_ca_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """Read ``*_FILE`` secrets; setting both a value and its file is an error."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for file_field, target in SECRET_FILE_FIELDS.items():
            path = data.get(file_field)
            if not path:
                continue
            var = f"FEDHUB_{file_field.upper()}"
            if data.get(target):
                raise ValueError(f"set FEDHUB_{target.upper()} or {var}, not both")
            try:
                value = Path(path).read_text().strip()
            except OSError as exc:
                raise ValueError(f"{var}: cannot read {path}: {exc.strerror}") from exc
            if not value:
                raise ValueError(f"{var}: {path} is empty")
            data[target] = value
        return data

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'fedhub.db').as_posix()}"
        if self.secret_key and len(self.secret_key) < 32:
            raise ValueError("FEDHUB_SECRET_KEY must be at least 32 characters")
        if not self.secret_key:
            if self.environment == "production":
                raise ValueError("FEDHUB_SECRET_KEY must be set (32+ random characters) in "
                                 "production; development keeps a generated one in the data dir")
            self.secret_key = _local_secret(self.data_dir / "secret_key")
        if self.federation_engine == "deployment":
            if not self.superlink_address:
                raise ValueError("FEDHUB_FEDERATION_ENGINE=deployment needs "
                                 "FEDHUB_SUPERLINK_ADDRESS (host:port of the SuperLink)")
            if self.superlink_ca_file is None and self.environment == "production":
                raise ValueError("FEDHUB_SUPERLINK_CA_FILE must be set in production (the CA "
                                 "that issued the SuperLink certificate)")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached)."""
    return Settings()
