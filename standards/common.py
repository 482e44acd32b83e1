"""Building blocks shared by the schemas: identifiers, ISA-95 paths, people, UCUM quantities."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from standards.base import StandardModel
from standards.classification import Level, class_level

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
    Field(description="identifier: letters, digits and . _ : - (max 128)"),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Timestamp = Annotated[AwareDatetime, Field(description="RFC 3339 date-time with a UTC offset")]
UcumUnit = Annotated[
    str,
    StringConstraints(pattern=r"^[!-~]{1,32}$"),
    Field(description="UCUM unit code (case-sensitive), e.g. Cel, %, Pa, mm/s, kg, mg/L"),
]
SemVer = Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class Isa95Path(StandardModel):
    """ISA-95 equipment hierarchy: enterprise / site / area / unit (work center) / equipment."""

    enterprise: Identifier
    site: Identifier
    area: Identifier
    unit: Identifier
    equipment: Identifier

    def path(self) -> str:
        """`enterprise/site/area/unit/equipment`."""
        return "/".join((self.enterprise, self.site, self.area, self.unit, self.equipment))


class PersonRef(StandardModel):
    """A person as recorded at the site (personal data: never leaves the site)."""

    model_config = ConfigDict(json_schema_extra=class_level(Level.pii))

    person_id: Identifier
    name: ShortText | None = None
    role: ShortText | None = None


class Quantity(StandardModel):
    """A value with its UCUM unit."""

    value: float
    unit: UcumUnit


class ModelRef(StandardModel):
    """A model from the hub's model registry."""

    name: Identifier
    version: ShortText
