"""Side effects of site key changes: registering SuperNode public keys with a SuperLink.

The hub records every site key in its own database. Where the federation runs a Flower
SuperLink with ``--enable-supernode-auth``, a registrar also adds the key there (and removes it
when the key is retired or the site revoked). Registrars are pluggable: the default only
records; :class:`FlwrCliRegistrar` drives ``flwr supernode register/unregister``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

from hub.errors import HubError
from hub.sites.models import Site, SiteKey


class RegistrarFailed(HubError):
    status, code, title = 502, "supernode-registration-failed", "SuperNode registration failed"


class SuperNodeRegistrar(ABC):
    """Adds and removes site public keys at the federation's SuperLink."""

    @abstractmethod
    def register(self, site: Site, key: SiteKey) -> str | None:
        """Register ``key``; returns the SuperLink node id if there is one."""

    @abstractmethod
    def unregister(self, site: Site, key: SiteKey) -> None:
        """Remove ``key`` (a no-op when it was never registered)."""


class RecordOnlyRegistrar(SuperNodeRegistrar):
    """Keeps keys in the hub database only (no SuperLink configured)."""

    def register(self, site: Site, key: SiteKey) -> str | None:
        return None

    def unregister(self, site: Site, key: SiteKey) -> None:
        return None


class FlwrCliRegistrar(SuperNodeRegistrar):
    """Registers keys with ``flwr supernode register <pubkey> <connection> --name <site>``."""

    def __init__(self, connection: str, flwr: str = "flwr", timeout: float = 60.0) -> None:
        self.connection, self.flwr, self.timeout = connection, flwr, timeout

    def _run(self, args: list[str]) -> dict[str, object]:
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [self.flwr, *args, "--format", "json"], capture_output=True, text=True,
                timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RegistrarFailed(f"flwr could not be run: {exc}") from exc
        lines = [ln for ln in done.stdout.splitlines() if ln.strip().startswith("{")]
        result: dict[str, object] = json.loads(lines[-1]) if lines else {}
        if done.returncode != 0 or not result.get("success", False):
            raise RegistrarFailed(f"flwr {args[1]} failed: "
                                  f"{(done.stderr or done.stdout).strip()[-500:]}")
        return result

    def register(self, site: Site, key: SiteKey) -> str | None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "site.pub"
            path.write_text(key.public_key + "\n")
            result = self._run(["supernode", "register", str(path), self.connection,
                                "--name", site.name])
        node = result.get("node-id")
        return str(node) if node is not None else None

    def unregister(self, site: Site, key: SiteKey) -> None:
        if key.supernode_id:
            self._run(["supernode", "unregister", key.supernode_id, self.connection])


_registrar: SuperNodeRegistrar = RecordOnlyRegistrar()


def set_registrar(registrar: SuperNodeRegistrar) -> None:
    """Install the registrar used from now on (the federation service calls this)."""
    global _registrar
    _registrar = registrar


def registrar() -> SuperNodeRegistrar:
    return _registrar
