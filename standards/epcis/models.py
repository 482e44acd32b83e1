"""Typed views of GS1 EPCIS 2.0 documents and events (the fields the hub uses).

Validation is the standard's JSON Schema; these models only give typed access afterwards, so
they accept every extension field (`extra="allow"`) and keep JSON-LD names as in the standard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)


class EpcisModel(BaseModel):
    """Base: extension fields kept, JSON-LD names (`@context`) as aliases."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class QuantityElement(EpcisModel):
    """A class-level identifier with a quantity (and UN/CEFACT unit)."""

    epcClass: str
    quantity: float | None = None
    uom: str | None = None


class IdRef(EpcisModel):
    """`readPoint` / `bizLocation`: an identifier (e.g. SGLN URI)."""

    id: str


class BizTransaction(EpcisModel):
    """A business transaction reference (PO, invoice, despatch advice …)."""

    type: str | None = None
    bizTransaction: str


class Source(EpcisModel):
    """A source of a transfer (owning/possessing party or location)."""

    type: str
    source: str


class Destination(EpcisModel):
    """A destination of a transfer."""

    type: str
    destination: str


class SensorMetadata(EpcisModel):
    """Metadata common to the reports of one sensor element."""

    time: datetime | None = None
    startTime: datetime | None = None
    endTime: datetime | None = None
    deviceID: str | None = None
    deviceMetadata: str | None = None
    rawData: str | None = None
    dataProcessingMethod: str | None = None
    bizRules: str | None = None


class SensorReport(EpcisModel):
    """One sensor observation: measurement type, value or min/max/mean, unit, time."""

    type: str
    value: float | None = None
    minValue: float | None = None
    maxValue: float | None = None
    meanValue: float | None = None
    sDev: float | None = None
    uom: str | None = None
    time: datetime | None = None
    deviceID: str | None = None
    exception: str | None = None
    stringValue: str | None = None
    booleanValue: bool | None = None


class SensorElement(EpcisModel):
    """Sensor metadata plus its reports."""

    sensorMetadata: SensorMetadata | None = None
    sensorReport: list[SensorReport]


class EventBase(EpcisModel):
    """Fields common to every EPCIS event."""

    type: str
    eventID: str | None = None
    eventTime: datetime
    eventTimeZoneOffset: str
    recordTime: datetime | None = None
    action: Literal["ADD", "OBSERVE", "DELETE"] | None = None
    bizStep: str | None = None
    disposition: str | None = None
    readPoint: IdRef | None = None
    bizLocation: IdRef | None = None
    bizTransactionList: list[BizTransaction] = Field(default_factory=list)
    sourceList: list[Source] = Field(default_factory=list)
    destinationList: list[Destination] = Field(default_factory=list)
    sensorElementList: list[SensorElement] = Field(default_factory=list)
    ilmd: dict[str, Any] | None = None

    def epcs(self) -> list[str]:
        """Every instance-level identifier the event mentions."""
        out: list[str] = []
        for name in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
            out.extend(getattr(self, name, None) or [])
        parent = getattr(self, "parentID", None)
        if parent:
            out.append(parent)
        return out

    def quantities(self) -> list[QuantityElement]:
        """Every class-level quantity the event mentions."""
        out: list[QuantityElement] = []
        for name in (
            "quantityList",
            "childQuantityList",
            "inputQuantityList",
            "outputQuantityList",
        ):
            out.extend(getattr(self, name, None) or [])
        return out


class ObjectEvent(EventBase):
    """Observation, creation or deletion of objects."""

    type: Literal["ObjectEvent"] = "ObjectEvent"
    epcList: list[str] = Field(default_factory=list)
    quantityList: list[QuantityElement] = Field(default_factory=list)


class AggregationEvent(EventBase):
    """Objects packed into (or unpacked from) a parent container."""

    type: Literal["AggregationEvent"] = "AggregationEvent"
    parentID: str | None = None
    childEPCs: list[str] = Field(default_factory=list)
    childQuantityList: list[QuantityElement] = Field(default_factory=list)


class TransactionEvent(EventBase):
    """Objects associated with (or dissociated from) business transactions."""

    type: Literal["TransactionEvent"] = "TransactionEvent"
    parentID: str | None = None
    epcList: list[str] = Field(default_factory=list)
    quantityList: list[QuantityElement] = Field(default_factory=list)


class TransformationEvent(EventBase):
    """Inputs consumed and outputs produced (e.g. packaging a lot)."""

    type: Literal["TransformationEvent"] = "TransformationEvent"
    transformationID: str | None = None
    inputEPCList: list[str] = Field(default_factory=list)
    inputQuantityList: list[QuantityElement] = Field(default_factory=list)
    outputEPCList: list[str] = Field(default_factory=list)
    outputQuantityList: list[QuantityElement] = Field(default_factory=list)


class AssociationEvent(EventBase):
    """Assets associated with a parent (e.g. a sensor with a pallet)."""

    type: Literal["AssociationEvent"] = "AssociationEvent"
    parentID: str | None = None
    childEPCs: list[str] = Field(default_factory=list)
    childQuantityList: list[QuantityElement] = Field(default_factory=list)


class ExtensionEvent(EventBase):
    """An event of a user-defined type (kept with all its fields)."""


def _event_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in EVENT_TYPES else "extension"


Event = Annotated[
    Annotated[ObjectEvent, Tag("ObjectEvent")]
    | Annotated[AggregationEvent, Tag("AggregationEvent")]
    | Annotated[TransactionEvent, Tag("TransactionEvent")]
    | Annotated[TransformationEvent, Tag("TransformationEvent")]
    | Annotated[AssociationEvent, Tag("AssociationEvent")]
    | Annotated[ExtensionEvent, Tag("extension")],
    Discriminator(_event_tag),
]


class EpcisBody(EpcisModel):
    """`epcisBody` of a capture document."""

    eventList: list[Event]


class EPCISDocument(EpcisModel):
    """An EPCIS 2.0 capture document."""

    type: Literal["EPCISDocument"] = "EPCISDocument"
    context: Any = Field(alias="@context")
    id: str | None = None
    schemaVersion: str
    creationDate: datetime
    sender: str | None = None
    receiver: str | None = None
    instanceIdentifier: str | None = None
    epcisBody: EpcisBody

    @property
    def events(self) -> list[EventBase]:
        """The events in the document."""
        return list(self.epcisBody.eventList)


class ResultsBody(EpcisModel):
    """Query results body."""

    eventList: list[Event] = Field(default_factory=list)


class QueryResults(EpcisModel):
    """Query results."""

    queryName: str | None = None
    subscriptionID: str | None = None
    resultsBody: ResultsBody = Field(default_factory=ResultsBody)


class QueryBody(EpcisModel):
    """`epcisBody` of a query document."""

    queryResults: QueryResults


class EPCISQueryDocument(EpcisModel):
    """An EPCIS 2.0 query document."""

    type: Literal["EPCISQueryDocument"] = "EPCISQueryDocument"
    context: Any = Field(alias="@context")
    schemaVersion: str | None = None
    creationDate: datetime | None = None
    epcisBody: QueryBody

    @property
    def events(self) -> list[EventBase]:
        """The events in the query results."""
        return list(self.epcisBody.queryResults.resultsBody.eventList)


def _root_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind in ("EPCISDocument", "EPCISQueryDocument"):
        return str(kind)
    return kind if kind in EVENT_TYPES else "extension"


EpcisRoot = Annotated[
    Annotated[EPCISDocument, Tag("EPCISDocument")]
    | Annotated[EPCISQueryDocument, Tag("EPCISQueryDocument")]
    | Annotated[ObjectEvent, Tag("ObjectEvent")]
    | Annotated[AggregationEvent, Tag("AggregationEvent")]
    | Annotated[TransactionEvent, Tag("TransactionEvent")]
    | Annotated[TransformationEvent, Tag("TransformationEvent")]
    | Annotated[AssociationEvent, Tag("AssociationEvent")]
    | Annotated[ExtensionEvent, Tag("extension")],
    Discriminator(_root_tag),
]
