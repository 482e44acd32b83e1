"""`sensor-reading` 1.0.0 and 1.1.0: production telemetry from one piece of equipment."""

from __future__ import annotations

from typing import Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from standards.base import StandardModel, fail_fields
from standards.common import Identifier, Isa95Path, Timestamp


class Temperature(StandardModel):
    """Temperature (UCUM `Cel` or `K`)."""

    value: float
    unit: Literal["Cel", "K"]

    @model_validator(mode="after")
    def _above_absolute_zero(self) -> Self:
        if self.value < (-273.15 if self.unit == "Cel" else 0.0):
            fail_fields(self, [(("value",), f"{self.value} {self.unit} is below absolute zero")])
        return self


class RelativeHumidity(StandardModel):
    """Relative humidity in percent (0–100)."""

    value: float = Field(ge=0.0, le=100.0)
    unit: Literal["%"]


class DifferentialPressure(StandardModel):
    """Room/equipment differential pressure (UCUM `Pa`, `hPa`, `kPa`, `mbar`)."""

    value: float
    unit: Literal["Pa", "hPa", "kPa", "mbar"]


class DispensingAccuracy(StandardModel):
    """Dispensed amount as percent of target (100 = exact)."""

    value: float = Field(ge=0.0)
    unit: Literal["%"]


class Vibration(StandardModel):
    """Vibration velocity RMS (UCUM `mm/s` or `m/s`)."""

    value: float = Field(ge=0.0)
    unit: Literal["mm/s", "m/s"]


class Measurements(StandardModel):
    """The measured quantities; each optional, at least one present."""

    temperature: Temperature | None = None
    relative_humidity: RelativeHumidity | None = None
    differential_pressure: DifferentialPressure | None = None
    dispensing_accuracy: DispensingAccuracy | None = None
    vibration: Vibration | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if (
            self.temperature is None
            and self.relative_humidity is None
            and self.differential_pressure is None
            and self.dispensing_accuracy is None
            and self.vibration is None
        ):
            raise ValueError("at least one measurement is required")
        return self


class SensorReading(StandardModel):
    """Sensor reading 1.0.0

    One timestamped set of measurements from one piece of equipment, addressed by its ISA-95
    path. Units are UCUM codes. Fault labels are not part of the schema.
    """

    reading_id: UUID
    site_id: Identifier
    equipment: Isa95Path
    timestamp: Timestamp
    measurements: Measurements

    @model_validator(mode="after")
    def _same_site(self) -> Self:
        if self.equipment.site != self.site_id:
            fail_fields(
                self,
                [(("equipment", "site"), f"differs from site_id {self.site_id!r}")],
            )
        return self


QualityFlag = Literal["good", "uncertain", "bad"]


class _Flagged(StandardModel):
    quality_flag: QualityFlag | None = Field(
        default=None, description="OPC UA-style quality of the value (added in 1.1.0)"
    )


class Temperature11(Temperature, _Flagged):
    """Temperature (UCUM `Cel` or `K`) with an optional quality flag."""


class RelativeHumidity11(RelativeHumidity, _Flagged):
    """Relative humidity in percent with an optional quality flag."""


class DifferentialPressure11(DifferentialPressure, _Flagged):
    """Differential pressure with an optional quality flag."""


class DispensingAccuracy11(DispensingAccuracy, _Flagged):
    """Dispensing accuracy with an optional quality flag."""


class Vibration11(Vibration, _Flagged):
    """Vibration velocity RMS with an optional quality flag."""


class Measurements11(Measurements):
    """The measured quantities (1.1.0); each optional, at least one present."""

    temperature: Temperature11 | None = None
    relative_humidity: RelativeHumidity11 | None = None
    differential_pressure: DifferentialPressure11 | None = None
    dispensing_accuracy: DispensingAccuracy11 | None = None
    vibration: Vibration11 | None = None


class SensorReadingV11(SensorReading):
    """Sensor reading 1.1.0

    As 1.0.0, plus an optional `quality_flag` (good/uncertain/bad) on every measurement.
    """

    measurements: Measurements11
