"""Every standard fedhub ships, with its examples and lifecycle status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from standards.base import ModelStandard, Standard, load_json
from standards.schemas.batch_record import BatchRecord, BatchRecordV09
from standards.schemas.compliance_report import ComplianceReport
from standards.schemas.equipment_test import EquipmentPerformanceTest
from standards.schemas.maintenance import MaintenanceWorkOrder
from standards.schemas.model_evaluation import ModelEvaluationIndicators
from standards.schemas.molecule_submission import MoleculeSubmission
from standards.schemas.qc_inspection import QcInspection
from standards.schemas.sensor_reading import SensorReading, SensorReadingV11
from standards.schemas.training_record import TrainingRecord

MODELS: list[tuple[str, str, type[BaseModel], dict[str, Any]]] = [
    ("sensor-reading", "1.0.0", SensorReading, {}),
    ("sensor-reading", "1.1.0", SensorReadingV11, {}),
    (
        "batch-record",
        "0.9.0",
        BatchRecordV09,
        {"deprecated": True, "superseded_by": "batch-record/1.0.0"},
    ),
    ("batch-record", "1.0.0", BatchRecord, {}),
    ("qc-inspection", "1.0.0", QcInspection, {}),
    ("maintenance-work-order", "1.0.0", MaintenanceWorkOrder, {}),
    ("molecule-submission", "1.0.0", MoleculeSubmission, {}),
    ("compliance-report", "1.0.0", ComplianceReport, {}),
    ("training-record", "1.0.0", TrainingRecord, {}),
    ("model-evaluation-indicators", "1.0.0", ModelEvaluationIndicators, {}),
    ("equipment-performance-test", "1.0.0", EquipmentPerformanceTest, {}),
]


def examples_for(name: str, version: str) -> list[dict[str, Any]]:
    """The valid examples shipped in `standards/examples/NAME-VERSION.json` (a JSON array)."""
    data: list[dict[str, Any]] = load_json("standards.examples", f"{name}-{version}.json")
    return data


def build_standards() -> list[Standard]:
    """Construct every shipped standard."""
    from standards import epcis

    out: list[Standard] = [
        ModelStandard(model, name, version, examples=examples_for(name, version), **extra)
        for name, version, model, extra in MODELS
    ]
    out.append(epcis.build(examples=examples_for("epcis-document", "2.0.0")))
    return out
