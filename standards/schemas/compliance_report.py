"""`compliance-report/1.0.0`: a site's GMP data-integrity and quality summary for one period."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Self

from pydantic import Field, model_validator

from standards.base import StandardModel, fail_fields
from standards.classification import Level, classified
from standards.common import Fraction, Identifier, ModelRef, PersonRef, ShortText, Text, Timestamp
from standards.schemas.model_evaluation import Direction, Split

AlcoaPrinciple = Literal[
    "attributable",
    "legible",
    "contemporaneous",
    "original",
    "accurate",
    "complete",
    "consistent",
    "enduring",
    "available",
]
CheckResult = Literal["pass", "fail", "not_applicable"]


class AlcoaCheck(StandardModel):
    """One ALCOA+ data-integrity check and its outcome for the period."""

    principle: AlcoaPrinciple
    check: ShortText
    result: CheckResult
    records_checked: int = Field(ge=0)
    findings: int = Field(ge=0)
    evidence_ref: Identifier | None = None


class Capa(StandardModel):
    """Corrective and preventive action for a deviation."""

    capa_id: Identifier
    action: Text
    owner: PersonRef | None = classified(Level.pii, default=None)
    due_date: dt.date
    status: Literal["open", "in_progress", "effective", "closed", "overdue"]


class Deviation(StandardModel):
    """A GMP deviation, its classification, root cause and CAPA."""

    deviation_id: Identifier
    opened_at: Timestamp
    severity: Literal["minor", "major", "critical"]
    category: ShortText
    description: Text = classified(Level.confidential)
    root_cause: Text | None = classified(Level.confidential, default=None)
    batch_ids: list[Identifier] = Field(default_factory=list)
    status: Literal["open", "investigating", "closed"]
    capa: list[Capa] = Field(default_factory=list)


class EquipmentQualification(StandardModel):
    """Summary of an IQ/OQ/PQ protocol executed in the period."""

    protocol_id: Identifier
    equipment: ShortText = Field(description="ISA-95 path enterprise/site/area/unit/equipment")
    stage: Literal["IQ", "OQ", "PQ"]
    executed_at: Timestamp
    steps_total: int = Field(ge=1)
    steps_passed: int = Field(ge=0)
    result: Literal["passed", "failed"]


class IndicatorResult(StandardModel):
    """A model evaluation indicator with the measured value."""

    metric: Identifier
    direction: Direction
    threshold: float
    split: Split = "test"
    measured: float | None = None
    passed: bool


class ModelInProduction(StandardModel):
    """A model in production use at the site, its validation status and indicators."""

    model: ModelRef
    task: Identifier
    validation_status: Literal["validated", "conditionally_validated", "not_validated", "retired"]
    validated_at: Timestamp | None = None
    indicators: list[IndicatorResult] = Field(default_factory=list)


class TrainingCoverage(StandardModel):
    """How many people who need a qualification hold a valid one."""

    qualification: Identifier
    required: int = Field(ge=0)
    qualified: int = Field(ge=0)

    @property
    def coverage(self) -> float:
        """Fraction qualified (1.0 when nobody needs it)."""
        return self.qualified / self.required if self.required else 1.0


class TraceabilityExcursion(StandardModel):
    """A cold-chain excursion seen in traceability events, and how it was handled."""

    lot: Identifier
    event_ids: list[ShortText] = Field(default_factory=list)
    started_at: Timestamp
    ended_at: Timestamp | None = None
    max_temperature_cel: float | None = None
    allowed_min_cel: float | None = None
    allowed_max_cel: float | None = None
    handling: Literal["released", "quarantined", "destroyed", "under_review"]
    justification: Text | None = classified(Level.confidential, default=None)


class CompliancePeriod(StandardModel):
    """Start (inclusive) and end (exclusive) dates of the report period."""

    start: dt.date
    end: dt.date


class ComplianceReport(StandardModel):
    """Compliance report 1.0.0

    Per site and period: ALCOA+ data-integrity checks, deviations with CAPA, equipment
    qualification (IQ/OQ/PQ) results, models in production with validation status and
    evaluation indicators, training coverage, and traceability excursions with their handling.
    """

    report_id: Identifier
    site_id: Identifier
    organization_id: Identifier
    period: CompliancePeriod
    generated_at: Timestamp
    alcoa_checks: list[AlcoaCheck] = Field(default_factory=list)
    deviations: list[Deviation] = Field(default_factory=list)
    equipment_qualification: list[EquipmentQualification] = Field(default_factory=list)
    models_in_production: list[ModelInProduction] = Field(default_factory=list)
    training_coverage: list[TrainingCoverage] = Field(default_factory=list)
    traceability_excursions: list[TraceabilityExcursion] = Field(default_factory=list)
    data_integrity_score: Fraction | None = None
    prepared_by: PersonRef | None = classified(Level.pii, default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.period.end <= self.period.start:
            problems.append((("period", "end"), "period end is not after its start"))
        for i, q in enumerate(self.equipment_qualification):
            if q.steps_passed > q.steps_total:
                problems.append(
                    (("equipment_qualification", i, "steps_passed"), "exceeds steps_total")
                )
            elif (q.result == "passed") != (q.steps_passed == q.steps_total):
                problems.append(
                    (("equipment_qualification", i, "result"), "result disagrees with steps")
                )
        for i, t in enumerate(self.training_coverage):
            if t.qualified > t.required:
                problems.append((("training_coverage", i, "qualified"), "exceeds required"))
        for i, c in enumerate(self.alcoa_checks):
            if c.findings > c.records_checked:
                problems.append((("alcoa_checks", i, "findings"), "exceeds records_checked"))
        fail_fields(self, problems)
        return self
