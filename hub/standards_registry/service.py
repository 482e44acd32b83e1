"""The hub side of the standards registry: lookup, enforcement and deprecation notices."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from hub.errors import NotFound, ValidationFailed
from standards import registry
from standards.base import Standard
from standards.report import ValidationReport

MAX_ERRORS = 1000


def lookup(name: str, version: str) -> Standard:
    """A registered standard or 404 naming it."""
    try:
        return registry.get(name, version)
    except LookupError:
        raise NotFound(f"No standard {name}/{version} in the registry",
                       errors=[{"pointer": "/name", "message": "unknown standard"}]) from None


def accepted(schema_id: str, family: str, pointer: str = "/schema") -> Standard:
    """The standard an ingest endpoint was asked to accept, or 422 naming ``pointer``."""
    try:
        std = registry.get_by_id(schema_id)
    except (LookupError, ValueError):
        raise ValidationFailed(f"Unknown standard {schema_id!r}", errors=[
            {"pointer": pointer, "message": f"expected {family}/MAJOR.MINOR.PATCH from the "
                                            "registry"}]) from None
    if std.name != family:
        raise ValidationFailed(f"This endpoint accepts {family}, not {std.name}", errors=[
            {"pointer": pointer, "message": f"expected {family}/*"}])
    return std


def report_errors(reports: list[ValidationReport], indexed: bool) -> list[dict[str, Any]]:
    """Every violation as ``{pointer, message, type}`` (prefixed by record index for batches)."""
    out = []
    for i, report in enumerate(reports):
        for v in report.errors:
            out.append({"pointer": (f"/{i}" if indexed else "") + v.pointer,
                        "message": v.message, "type": v.type})
    return out[:MAX_ERRORS]


def conform(std: Standard, payload: Any) -> Any:
    """Validate one instance; 422 listing every violation, nothing stored."""
    report = std.validate(payload)
    if not report.ok:
        errors = report_errors([report], indexed=False)
        raise ValidationFailed(f"The payload does not conform to {std.id}: "
                               f"{len(report.errors)} violation(s); nothing was stored",
                               errors=errors)
    return report.value


def deprecation_headers(std: Standard, response: Response) -> None:
    """RFC 9745 ``Deprecation`` (+ successor ``Link``) on answers about a deprecated version."""
    info = std.info()
    if info.deprecated:
        response.headers["Deprecation"] = "true"
        if info.superseded_by:
            name, version = registry.parse_id(info.superseded_by)
            response.headers["Link"] = f'</standards/{name}/{version}>; rel="successor-version"'
