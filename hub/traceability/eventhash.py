"""The EPCIS event hash: a deterministic id for events captured without an eventID."""

from __future__ import annotations

import hashlib
from datetime import UTC
from typing import Any

from hub.traceability.identifiers import parse_time

EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")

# canonical property order of the EPCIS event hash (CBV 2.0 section 8.9)
_QTY = ("epcClass", "quantity", "uom")
_PROP_ORDER: list[tuple[str, tuple[str, ...] | None]] = [
    ("eventTime", None), ("eventTimeZoneOffset", None), ("epcList", None), ("parentID", None),
    ("inputEPCList", None), ("childEPCs", None), ("quantityList", _QTY),
    ("childQuantityList", _QTY), ("inputQuantityList", _QTY), ("outputEPCList", None),
    ("outputQuantityList", _QTY), ("action", None), ("transformationID", None),
    ("bizStep", None), ("disposition", None), ("persistentDisposition", ("set", "unset")),
    ("readPoint", ("id",)), ("bizLocation", ("id",)),
    ("bizTransactionList", ("type", "bizTransaction")), ("sourceList", ("type", "source")),
    ("destinationList", ("type", "destination")),
]
_SENSOR_METADATA = ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData",
                    "dataProcessingMethod", "bizRules")
_SENSOR_REPORT = ("type", "exception", "deviceID", "deviceMetadata", "rawData",
                  "dataProcessingMethod", "time", "microorganism", "chemicalSubstance", "value",
                  "component", "stringValue", "booleanValue", "hexBinaryValue", "uriValue",
                  "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue", "uom",
                  "coordinateReferenceSystem")
_NOT_HASHED = {"type", "eventID", "id", "recordTime", "errorDeclaration", "certificationInfo",
               "@context", "sensorElementList", "ilmd"}
_TIME_KEYS = {"eventTime", "time", "startTime", "endTime"}


def _canonical_time(value: str) -> str:
    parsed = parse_time(value)
    assert parsed is not None
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _canonical_scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).strip()
    if key in _TIME_KEYS:
        try:
            return _canonical_time(text)
        except ValueError:
            return text
    return text


def _generic(key: str, value: Any) -> str:
    """Key/value text of any JSON value, children sorted (ilmd, extensions)."""
    if isinstance(value, dict):
        return key + "".join(sorted(_generic(k, v) for k, v in value.items()))
    if isinstance(value, list):
        return key + "".join(sorted(_generic(key, v) if not isinstance(v, dict | list)
                                    else _generic("", v) for v in value))
    return f"{key}={_canonical_scalar(key, value)}"


def _ordered(key: str, value: Any, order: tuple[str, ...] | None) -> str:
    if isinstance(value, list):
        if order is None:
            child = "epc" if key in EPC_LISTS or key == "" else key
            items = [f"{child}={_canonical_scalar(child, v)}" for v in value]
        else:
            items = [_ordered("", v, order) for v in value]
        return key + "".join(sorted(items)) if items else ""
    if isinstance(value, dict):
        keys = order or tuple(sorted(value))
        inner = "".join(_ordered(k, value[k], None) for k in keys if k in value)
        return key + inner
    return f"{key}={_canonical_scalar(key, value)}" if key else _canonical_scalar(key, value)


def _sensor_text(elements: list[Any]) -> str:
    parts = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        text = "sensorElement"
        meta = element.get("sensorMetadata") or {}
        if meta:
            text += "sensorMetadata" + "".join(
                f"{k}={_canonical_scalar(k, meta[k])}" for k in _SENSOR_METADATA if k in meta)
        reports = [
            "sensorReport" + "".join(f"{k}={_canonical_scalar(k, r[k])}"
                                     for k in _SENSOR_REPORT if k in r)
            for r in element.get("sensorReport") or [] if isinstance(r, dict)
        ]
        parts.append(text + "".join(sorted(reports)))
    return "sensorElementList" + "".join(sorted(parts)) if parts else ""


def event_hash(event: dict[str, Any]) -> str:
    """A deterministic ``ni:///sha-256;…`` id from the event's canonical pre-hash string.

    Follows the EPCIS event hash scheme (CBV 2.0 §8.9): properties in canonical order,
    timestamps in UTC with milliseconds, lists sorted, extensions and ILMD sorted at the end.
    Identifier URIs are hashed as given (no GS1 Digital Link conversion).
    """
    parts = [f"eventType={event.get('type', '')}"]
    for key, order in _PROP_ORDER:
        if key in event and event[key] not in (None, [], {}):
            parts.append(_ordered(key, event[key], order))
    if event.get("sensorElementList"):
        parts.append(_sensor_text(event["sensorElementList"]))
    if event.get("ilmd"):
        parts.append("ilmd" + _generic("", event["ilmd"]))
    known = {k for k, _ in _PROP_ORDER} | _NOT_HASHED
    parts.extend(sorted(_generic(k, v) for k, v in event.items() if k not in known))
    digest = hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"
