"""The authenticated caller of a request: a person or a machine (site agent)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.audit.service import Actor


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "machine"
    id: str
    name: str
    org_id: str
    roles: frozenset[str]
    site_id: str | None = None

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_hub_admin(self) -> bool:
        return "hub_admin" in self.roles

    def actor(self) -> Actor:
        prefix = "" if self.is_user else "apikey:"
        return Actor(id=prefix + self.id, name=self.name, org_id=self.org_id)
