"""Section providers: how domains contribute pre-filled content to compliance reports.

A provider is a function ``fn(ctx: SectionContext) -> SectionResult`` registered under the
name of a ``compliance-report/1.0.0`` section (``SECTIONS``). The hub registers its own
(audit trail, monitoring, traceability); domains the hub must not import — the training
portal — register theirs when they load::

    from hub.compliance.providers import SectionContext, SectionResult, register_section_provider

    def training_section(ctx: SectionContext) -> SectionResult:
        report = training_coverage(ctx.session, ctx.organization_id, ctx.site_id,
                                   as_of=ctx.until,
                                   requirements=ctx.settings.qualification_requirements)
        return SectionResult(items=[...], evidence=report.records, source="training portal")

    register_section_provider("training_coverage", training_section)

Several providers may feed one section (their items are concatenated); registering the same
function again replaces it. A provider that raises leaves its section empty with a note; the
site admin completes it by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlmodel import Session

from hub.config import Settings

SECTIONS: tuple[str, ...] = (
    "alcoa_checks",
    "deviations",
    "equipment_qualification",
    "models_in_production",
    "training_coverage",
    "traceability_excursions",
)
SECTION_TITLES: dict[str, str] = {
    "alcoa_checks": "Data integrity (ALCOA+) checks",
    "deviations": "Deviations and CAPA",
    "equipment_qualification": "Equipment qualification (IQ/OQ/PQ)",
    "models_in_production": "Models in production",
    "training_coverage": "Training coverage",
    "traceability_excursions": "Traceability excursions",
}


@dataclass(frozen=True)
class SectionContext:
    """What a provider is asked about: one site of one organization over one period."""

    session: Session
    settings: Settings
    organization_id: str
    site_id: str
    period_start: date
    period_end: date  # exclusive

    @property
    def since(self) -> datetime:
        """Start of the period (00:00 UTC, inclusive)."""
        return datetime.combine(self.period_start, time(0), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """End of the period (00:00 UTC of the end date, exclusive)."""
        return datetime.combine(self.period_end, time(0), tzinfo=UTC)


@dataclass
class SectionResult:
    """Items for the section (JSON-able dicts of the section's ``compliance-report`` type),
    evidence records for the bundle (e.g. training records, model lineage), their origin."""

    items: list[dict[str, Any]]
    source: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None


SectionProvider = Callable[[SectionContext], SectionResult]
_PROVIDERS: dict[str, dict[str, SectionProvider]] = {}


def _key(fn: SectionProvider) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def register_section_provider(name: str, fn: SectionProvider) -> None:
    """Let ``fn`` pre-fill the report section ``name`` (one of ``SECTIONS``)."""
    if name not in SECTIONS:
        raise ValueError(f"unknown compliance report section {name!r}; one of {SECTIONS}")
    _PROVIDERS.setdefault(name, {})[_key(fn)] = fn


def unregister_section_provider(name: str, fn: SectionProvider) -> None:
    """Remove a provider (tests, reconfiguration)."""
    _PROVIDERS.get(name, {}).pop(_key(fn), None)


def providers_for(name: str) -> list[SectionProvider]:
    """The providers of one section, in registration order."""
    return list(_PROVIDERS.get(name, {}).values())


def registered() -> dict[str, list[str]]:
    """Section -> provider names (for diagnostics and docs)."""
    return {name: list(_PROVIDERS.get(name, {})) for name in SECTIONS}
