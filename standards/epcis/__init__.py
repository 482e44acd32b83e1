"""GS1 EPCIS 2.0 (`epcis-document/2.0.0`): the published JSON Schema plus typed models."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from standards.base import load_json
from standards.classification import UNDECLARED_KEY, Level
from standards.epcis.models import (
    AggregationEvent,
    AssociationEvent,
    EPCISDocument,
    EPCISQueryDocument,
    EpcisRoot,
    EventBase,
    ExtensionEvent,
    ObjectEvent,
    QuantityElement,
    SensorElement,
    SensorReport,
    TransactionEvent,
    TransformationEvent,
)
from standards.schema_standard import JsonSchemaStandard

SCHEMA_FILE = "EPCIS-JSON-Schema.json"

# Where the hub's sharing rules differ from the default (`consortium`); undeclared extension
# fields are `confidential` by the classification defaults.
_CONTEXT_MAP = {UNDECLARED_KEY: Level.public.value}  # JSON-LD prefix → namespace URI entries
OVERLAY: dict[str, Level | dict[str, str]] = {
    "/definitions/@context/anyOf/1": _CONTEXT_MAP,
    "/definitions/@context/anyOf/2/items/anyOf/1": _CONTEXT_MAP,
    "/definitions/sensorElement": Level.consortium,
    "/definitions/ilmd": Level.confidential,
    "/definitions/bizTransaction": Level.confidential,
    "/definitions/epcisHeader": Level.confidential,
}

_root: TypeAdapter[Any] = TypeAdapter(EpcisRoot)


def parse(data: Any) -> EPCISDocument | EPCISQueryDocument | EventBase:
    """Typed view of a schema-valid EPCIS document or event."""
    value: EPCISDocument | EPCISQueryDocument | EventBase = _root.validate_python(data)
    return value


def published_schema() -> dict[str, Any]:
    """The standard's JSON Schema exactly as published by GS1."""
    schema: dict[str, Any] = load_json("standards.epcis", SCHEMA_FILE)
    return schema


def build(**kwargs: Any) -> JsonSchemaStandard:
    """The `epcis-document/2.0.0` standard (kwargs: e.g. `examples`)."""
    return JsonSchemaStandard(
        "epcis-document",
        "2.0.0",
        published_schema(),
        overlay=OVERLAY,
        parse=parse,
        title="GS1 EPCIS 2.0 document",
        description=(
            "EPCIS 2.0 capture/query documents and events (Object, Aggregation, Transaction, "
            "Transformation, Association) incl. sensor data, validated with the standard's own "
            "JSON Schema (Draft 7)."
        ),
        **kwargs,
    )


__all__ = [
    "OVERLAY",
    "AggregationEvent",
    "AssociationEvent",
    "EPCISDocument",
    "EPCISQueryDocument",
    "EventBase",
    "ExtensionEvent",
    "ObjectEvent",
    "QuantityElement",
    "SensorElement",
    "SensorReport",
    "TransactionEvent",
    "TransformationEvent",
    "build",
    "parse",
    "published_schema",
]
