"""`qc-inspection/1.0.0`: one automated visual inspection decision, with optional human override."""

from __future__ import annotations

from typing import Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from standards.base import StandardModel, fail_fields
from standards.classification import Level, classified
from standards.common import Fraction, Identifier, Isa95Path, ModelRef, PersonRef, Text, Timestamp

ItemType = Literal["tablet", "vial", "syringe", "package"]
Decision = Literal["accept", "reject", "review"]
DefectClass = Literal[
    "none",
    "crack",
    "chip",
    "discoloration",
    "contamination",
    "foreign_particle",
    "fill_level",
    "seal_defect",
    "label_defect",
    "deformation",
    "other",
]


class HumanOverride(StandardModel):
    """A reviewer's decision replacing the model's (who is personal data)."""

    by: PersonRef = classified(Level.pii)
    decision: Decision
    reason: Text
    at: Timestamp


class QcInspection(StandardModel):
    """QC inspection 1.0.0

    The result of automated visual inspection of one item (tablet, vial, syringe or package):
    defect class, model confidence, decision and the model version that made it; a human
    override records who changed the decision and why.
    """

    inspection_id: UUID
    site_id: Identifier
    line: Isa95Path
    batch_id: Identifier | None = None
    item_id: Identifier
    item_type: ItemType
    inspected_at: Timestamp
    defect_class: DefectClass
    confidence: Fraction = Field(description="model confidence in defect_class, 0..1")
    decision: Decision
    model: ModelRef
    image_uri: str | None = classified(
        Level.confidential, default=None, max_length=2000, description="site-local image location"
    )
    human_override: HumanOverride | None = None

    @model_validator(mode="after")
    def _override_changes(self) -> Self:
        if self.human_override and self.human_override.at < self.inspected_at:
            fail_fields(self, [(("human_override", "at"), "override is before inspected_at")])
        return self

    @property
    def final_decision(self) -> Decision:
        """The override's decision if there is one, else the model's."""
        return self.human_override.decision if self.human_override else self.decision
