"""Products an organization maintains: allowed temperature range per GTIN or per lot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.db import utcnow
from hub.errors import NotFound, ValidationFailed
from hub.identity.principal import Principal
from hub.traceability.access import require_manager
from hub.traceability.identifiers import normalize_gtin
from hub.traceability.models import TraceProduct

DEFAULT_MIN_CELSIUS = 2.0
DEFAULT_MAX_CELSIUS = 8.0


@dataclass(frozen=True)
class AllowedRange:
    """The range an excursion is judged against and where it came from."""

    min_celsius: float
    max_celsius: float
    source: str  # "lot" | "product" | "default"
    org_id: str | None = None  # the organization whose product table gave it


DEFAULT_RANGE = AllowedRange(DEFAULT_MIN_CELSIUS, DEFAULT_MAX_CELSIUS, "default")


def gtin_or_error(value: str) -> str:
    gtin = normalize_gtin(value)
    if gtin is None:
        raise ValidationFailed(f"{value!r} is not a valid GTIN", errors=[
            {"pointer": "/gtin", "message": "8, 12, 13 or 14 digits with a valid check digit",
             "type": "gtin"}])
    return gtin


def put_product(session: Session, who: Principal, gtin: str, *, min_celsius: float,
                max_celsius: float, name: str | None = None, lot: str = "",
                reason: str | None = None) -> tuple[TraceProduct, bool]:
    """Create or change a product's (or lot's) range; changes need a reason. Returns (row, new)."""
    require_manager(who)
    key = gtin_or_error(gtin)
    if min_celsius >= max_celsius:
        raise ValidationFailed("min_celsius must be below max_celsius", errors=[
            {"pointer": "/min_celsius", "message": "must be below max_celsius"}])
    row = session.exec(select(TraceProduct).where(
        TraceProduct.org_id == who.org_id, TraceProduct.gtin == key,
        TraceProduct.lot == lot)).first()
    if row is None:
        row = TraceProduct(org_id=who.org_id, gtin=key, lot=lot, name=name,
                           min_celsius=min_celsius, max_celsius=max_celsius)
        session.add(row)
        session.flush()
        return row, True
    with audit.reason(session, reason or ""):
        row.min_celsius, row.max_celsius = min_celsius, max_celsius
        if name is not None:
            row.name = name
        if session.is_modified(row):
            row.updated_at = utcnow()
        session.add(row)
    return row, False


def list_products(session: Session, who: Principal) -> Sequence[TraceProduct]:
    return session.exec(select(TraceProduct).where(TraceProduct.org_id == who.org_id)
                        .order_by(col(TraceProduct.gtin), col(TraceProduct.lot))).all()


def get_product(session: Session, who: Principal, gtin: str, lot: str = "") -> TraceProduct:
    row = session.exec(select(TraceProduct).where(
        TraceProduct.org_id == who.org_id, TraceProduct.gtin == gtin_or_error(gtin),
        TraceProduct.lot == lot)).first()
    if row is None:
        raise NotFound(f"No product {gtin}{' lot ' + lot if lot else ''} in your product table")
    return row


def resolve_range(session: Session, orgs: list[str], gtin: str | None,
                  lot: str | None) -> AllowedRange:
    """Lot entry before product entry; earlier organizations in ``orgs`` first; else 2–8 °C."""
    if not gtin or not orgs:
        return DEFAULT_RANGE
    rows = session.exec(select(TraceProduct).where(
        col(TraceProduct.org_id).in_(orgs), TraceProduct.gtin == gtin,
        col(TraceProduct.lot).in_([lot or "", ""]))).all()
    if not rows:
        return DEFAULT_RANGE
    rank = {org: i for i, org in enumerate(orgs)}
    best = min(rows, key=lambda r: (r.lot == "", rank[r.org_id], r.created_at))
    return AllowedRange(best.min_celsius, best.max_celsius, "lot" if best.lot else "product",
                        best.org_id)
