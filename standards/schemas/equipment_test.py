"""`equipment-performance-test/1.0.0`: IQ/OQ/PQ procedures and their executed results."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from standards.base import StandardModel, fail_fields
from standards.classification import Level, classified
from standards.common import Identifier, Isa95Path, PersonRef, ShortText, Text, Timestamp, UcumUnit

Stage = Literal["IQ", "OQ", "PQ"]


class AcceptanceCriterion(StandardModel):
    """What a result must satisfy: numeric limits with a unit, or an expected text outcome."""

    description: Text
    low_limit: float | None = None
    high_limit: float | None = None
    unit: UcumUnit | None = None
    expected: ShortText | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        numeric = self.low_limit is not None or self.high_limit is not None
        if numeric == (self.expected is not None):
            fail_fields(self, [(("expected",), "give numeric limits or an expected outcome")])
        if (
            self.low_limit is not None
            and self.high_limit is not None
            and self.low_limit > self.high_limit
        ):
            fail_fields(self, [(("low_limit",), "low_limit is above high_limit")])
        return self


class ProcedureStep(StandardModel):
    """One procedure step: test id, stage and acceptance criterion."""

    test_id: Identifier
    stage: Stage
    title: ShortText
    acceptance: AcceptanceCriterion


class StepResult(StandardModel):
    """An executed step: measured value or observed outcome, pass/fail, who and when."""

    test_id: Identifier
    measured_value: float | None = None
    observed: ShortText | None = None
    passed: bool
    executed_by: PersonRef = classified(Level.pii)
    executed_at: Timestamp
    comment: Text | None = classified(Level.confidential, default=None)


class EquipmentPerformanceTest(StandardModel):
    """Equipment performance test 1.0.0

    An IQ/OQ/PQ qualification procedure for one piece of equipment (steps with acceptance
    criteria) and, once executed, its results; a numeric result must agree with its limits.
    """

    protocol_id: Identifier
    protocol_version: ShortText
    site_id: Identifier
    equipment: Isa95Path
    stage: Stage
    steps: list[ProcedureStep] = Field(min_length=1)
    results: list[StepResult] = Field(default_factory=list)
    status: Literal["draft", "approved", "executed", "passed", "failed"]

    @model_validator(mode="after")
    def _results_match(self) -> Self:
        steps = {s.test_id: s for s in self.steps}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for i, step in enumerate(self.steps):
            if step.stage != self.stage:
                problems.append((("steps", i, "stage"), f"step stage differs from {self.stage}"))
        for i, res in enumerate(self.results):
            matched = steps.get(res.test_id)
            if matched is None:
                problems.append((("results", i, "test_id"), "test_id matches no step"))
                continue
            crit = matched.acceptance
            if res.measured_value is not None and crit.expected is None:
                lo, hi = crit.low_limit, crit.high_limit
                inside = (lo is None or res.measured_value >= lo) and (
                    hi is None or res.measured_value <= hi
                )
                if inside != res.passed:
                    problems.append(
                        (("results", i, "passed"), "passed disagrees with the acceptance limits")
                    )
        if self.status in ("passed", "failed"):
            done = {r.test_id for r in self.results}
            if done != set(steps):
                problems.append((("results",), "a closed protocol has a result for every step"))
            elif (self.status == "passed") != all(r.passed for r in self.results):
                problems.append((("status",), "status disagrees with the step results"))
        fail_fields(self, problems)
        return self
