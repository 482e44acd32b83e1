"""`maintenance-work-order/1.0.0`: a predictive-maintenance work order for one asset."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Self

from pydantic import Field, model_validator

from standards.base import StandardModel, fail_fields
from standards.classification import Level, classified
from standards.common import Fraction, Identifier, Isa95Path, ModelRef, PersonRef, Text, Timestamp

FailureMode = Literal[
    "bearing_wear",
    "imbalance",
    "misalignment",
    "seal_leak",
    "filter_clogging",
    "motor_overheating",
    "sensor_drift",
    "sensor_stuck",
    "calibration_drift",
    "hvac_degradation",
    "other",
]


class MaintenanceWorkOrder(StandardModel):
    """Maintenance work order 1.0.0

    Proposed maintenance for an asset (ISA-95 path): the predicted failure mode, priority,
    recommended action and due date, with the ids of the alerts that triggered it.
    """

    work_order_id: Identifier
    site_id: Identifier
    asset: Isa95Path
    predicted_failure_mode: FailureMode
    failure_mode_detail: Text | None = None
    probability: Fraction | None = None
    priority: Literal["low", "medium", "high", "critical"]
    recommended_action: Text
    due_date: dt.date
    source_alert_ids: list[Identifier] = Field(min_length=1)
    created_at: Timestamp
    model: ModelRef | None = None
    status: Literal["proposed", "approved", "scheduled", "done", "cancelled"] = "proposed"
    assigned_to: PersonRef | None = classified(Level.pii, default=None)

    @model_validator(mode="after")
    def _dates(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.due_date < self.created_at.date():
            problems.append((("due_date",), "due_date is before created_at"))
        for i, alert in enumerate(self.source_alert_ids):
            if alert in self.source_alert_ids[:i]:
                problems.append((("source_alert_ids", i), "duplicate alert id"))
        fail_fields(self, problems)
        return self
