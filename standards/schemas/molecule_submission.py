"""`molecule-submission/1.0.0`: structures (SMILES or SDF) with optional assay measurements."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from standards.base import StandardModel, fail_fields
from standards.classification import Level, classified
from standards.common import Identifier, PersonRef, ShortText, Timestamp, UcumUnit

Smiles = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9@+\-\[\]\(\)=#$%/\\.:*~]{1,2000}$"),
    Field(description="SMILES string (syntax characters only; chemistry checked by screening)"),
]
SdfBlock = Annotated[
    str,
    StringConstraints(min_length=10, max_length=200_000),
    Field(description="MDL molfile/SDF record (V2000 or V3000), ending in `M  END`"),
]
Qualifier = Literal["=", "<", ">", "<=", ">=", "~"]


class Structure(StandardModel):
    """One compound: exactly one of `smiles` or `sdf`."""

    compound_id: Identifier
    smiles: Smiles | None = None
    sdf: SdfBlock | None = None
    name: ShortText | None = None

    @model_validator(mode="after")
    def _one_representation(self) -> Self:
        if (self.smiles is None) == (self.sdf is None):
            fail_fields(self, [(("smiles",), "give exactly one of smiles or sdf")])
        if self.sdf is not None and "M  END" not in self.sdf:
            fail_fields(self, [(("sdf",), "SDF block has no 'M  END' line")])
        return self


class AssayMeasurement(StandardModel):
    """A measured assay result for one compound, e.g. `IC50 < 10 nM`."""

    compound_id: Identifier
    assay_id: Identifier
    qualifier: Qualifier = "="
    value: float
    unit: UcumUnit
    measured_at: Timestamp | None = None


class MoleculeSubmission(StandardModel):
    """Molecule submission 1.0.0

    A set of structures from an R&D lab (SMILES or SDF), optionally with assay measurements.
    Structures and results are confidential: they leave the lab only when the lab submits a
    screen on purpose (projection at `confidential`), never in consortium-level sharing.
    """

    submission_id: Identifier
    lab_id: Identifier
    submitted_at: Timestamp
    submitted_by: PersonRef | None = classified(Level.pii, default=None)
    project: ShortText | None = classified(Level.confidential, default=None)
    structures: list[Structure] = classified(Level.confidential, min_length=1)
    measurements: list[AssayMeasurement] = classified(Level.confidential, default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        ids: set[str] = set()
        for i, s in enumerate(self.structures):
            if s.compound_id in ids:
                problems.append((("structures", i, "compound_id"), "duplicate compound_id"))
            ids.add(s.compound_id)
        for i, m in enumerate(self.measurements):
            if m.compound_id not in ids:
                problems.append(
                    (("measurements", i, "compound_id"), "compound_id matches no structure")
                )
        fail_fields(self, problems)
        return self
