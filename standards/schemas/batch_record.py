"""`batch-record` 1.0.0 (ISA-88 subset) and the deprecated 0.9.0 draft."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from standards.base import StandardModel, fail_fields
from standards.classification import Level, class_level, classified
from standards.common import (
    Identifier,
    Isa95Path,
    PersonRef,
    ShortText,
    Text,
    Timestamp,
    UcumUnit,
)


class ProductRef(StandardModel):
    """The product made: material code and name."""

    code: Identifier
    name: ShortText


class RecipeRef(StandardModel):
    """Reference to the master recipe (id and version) the batch was executed from."""

    recipe_id: Identifier
    version: ShortText


class Ingredient(StandardModel):
    """One formulation line: material, role, quantity per batch."""

    material_code: Identifier
    name: ShortText
    role: Literal["api", "excipient", "solvent", "coating", "other"]
    quantity: float = Field(gt=0)
    unit: UcumUnit


class Formulation(StandardModel):
    """The recipe formulation (trade secret: classified `recipe`, never leaves the site)."""

    model_config = ConfigDict(json_schema_extra=class_level(Level.recipe))

    ingredients: list[Ingredient] = Field(min_length=1)
    batch_size: float = Field(gt=0)
    batch_size_unit: UcumUnit


class ProcessParameter(StandardModel):
    """A critical process parameter: setpoint, actual value and acceptance limits."""

    name: Identifier
    setpoint: float
    actual: float
    unit: UcumUnit
    low_limit: float
    high_limit: float

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if self.low_limit > self.high_limit:
            fail_fields(self, [(("low_limit",), "low_limit is above high_limit")])
        if not self.low_limit <= self.setpoint <= self.high_limit:
            fail_fields(self, [(("setpoint",), "setpoint lies outside [low_limit, high_limit]")])
        return self

    @property
    def within_limits(self) -> bool:
        """True when the actual value lies inside the acceptance limits."""
        return self.low_limit <= self.actual <= self.high_limit


class Phase(StandardModel):
    """An ISA-88 procedural element executed on one unit, with its CPPs and operators."""

    phase_id: Identifier
    name: ShortText
    level: Literal["unit_procedure", "operation", "phase"] = "phase"
    equipment: Isa95Path
    started_at: Timestamp
    ended_at: Timestamp | None = None
    parameters: list[ProcessParameter] = Field(default_factory=list)
    operators: list[PersonRef] = classified(Level.pii, default_factory=list)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.ended_at is not None and self.ended_at < self.started_at:
            fail_fields(self, [(("ended_at",), "ended_at is before started_at")])
        return self


class BatchYield(StandardModel):
    """Theoretical and actual output; percent = actual / theoretical × 100."""

    theoretical: float = Field(gt=0)
    actual: float = Field(ge=0)
    unit: UcumUnit

    @property
    def percent(self) -> float:
        """Yield in percent."""
        return 100.0 * self.actual / self.theoretical


class BatchRecord(StandardModel):
    """Batch record 1.0.0

    An executed batch (ISA-88 subset): product, lot, master recipe reference, phases with
    critical process parameters, and yield. The formulation is classified `recipe` and operator
    identities `pii`; both stay at the site.
    """

    batch_id: Identifier
    lot_number: Identifier
    site_id: Identifier
    product: ProductRef
    master_recipe: RecipeRef = classified(Level.confidential)
    formulation: Formulation | None = classified(Level.recipe, default=None)
    status: Literal["in_progress", "complete", "aborted"]
    started_at: Timestamp
    completed_at: Timestamp | None = None
    phases: list[Phase] = Field(min_length=1)
    yield_: BatchYield | None = Field(default=None, alias="yield")
    released_by: PersonRef | None = classified(Level.pii, default=None)
    notes: Text | None = classified(Level.confidential, default=None)

    @model_validator(mode="after")
    def _consistency(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.status == "complete" and self.completed_at is None:
            problems.append((("completed_at",), "a complete batch has completed_at"))
        if self.status == "complete" and self.yield_ is None:
            problems.append((("yield",), "a complete batch has a yield"))
        if self.completed_at is not None and self.completed_at < self.started_at:
            problems.append((("completed_at",), "completed_at is before started_at"))
        seen: set[str] = set()
        for i, phase in enumerate(self.phases):
            if phase.phase_id in seen:
                problems.append((("phases", i, "phase_id"), "duplicate phase_id"))
            seen.add(phase.phase_id)
        fail_fields(self, problems)
        return self


class LegacyParameter(StandardModel):
    """0.9.0 process parameter: one measured value, no setpoint or limits."""

    name: Identifier
    value: float
    unit: UcumUnit


class LegacyPhase(StandardModel):
    """0.9.0 phase: name, times and parameter values."""

    name: ShortText
    started_at: Timestamp
    ended_at: Timestamp | None = None
    parameters: list[LegacyParameter] = Field(default_factory=list)


class BatchRecordV09(StandardModel):
    """Batch record 0.9.0 (deprecated)

    The pre-release draft: flat operator list, parameters without setpoints or limits, yield
    as a percentage. Superseded by batch-record/1.0.0.
    """

    batch_id: Identifier
    lot_number: Identifier
    site_id: Identifier
    product_code: Identifier
    recipe_id: Identifier = classified(Level.confidential)
    ingredients: list[Ingredient] = classified(Level.recipe, default_factory=list)
    phases: list[LegacyPhase] = Field(min_length=1)
    operator_ids: list[Identifier] = classified(Level.pii, default_factory=list)
    yield_percent: float | None = Field(default=None, ge=0, le=200)
