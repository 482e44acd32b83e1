"""GS1 identifiers and CBV vocabulary: GTIN/lot from EPC URIs, short CBV names, units, time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

_EPC_URN = re.compile(r"^urn:epc:(id|class|idpat):(sgtin|lgtin):([0-9]+)\.([0-9]+)(?:\.(.*))?$")
_DL_AI = re.compile(r"/(01|10|21)/([^/?#]+)")
_CBV_PREFIXES = (
    "urn:epcglobal:cbv:bizstep:",
    "urn:epcglobal:cbv:disp:",
    "urn:epcglobal:cbv:sdt:",
    "urn:epcglobal:cbv:btt:",
    "https://ref.gs1.org/cbv/",
    "http://ref.gs1.org/cbv/",
    "cbv:",
)
_CBV_PARTS = ("BizStep-", "Disp-", "SDT-", "BTT-")

TEMPERATURE_TO_CELSIUS = {
    "CEL": lambda v: v,
    "FAH": lambda v: (v - 32.0) * 5.0 / 9.0,
    "KEL": lambda v: v - 273.15,
}


@dataclass(frozen=True)
class ProductKey:
    """What an EPC says about the trade item: GTIN-14, lot and serial when encoded."""

    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None


def gs1_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit of a digit string (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def normalize_gtin(value: str) -> str | None:
    """A GTIN-8/12/13/14 as GTIN-14, or None when it is not a valid GTIN."""
    digits = value.strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        return None
    digits = digits.zfill(14)
    return digits if gs1_check_digit(digits[:-1]) == digits[-1] else None


def _gtin_from_parts(company_prefix: str, item_ref: str) -> str | None:
    if not item_ref or len(company_prefix) + len(item_ref) != 13:
        return None
    body = item_ref[0] + company_prefix + item_ref[1:]
    return body + gs1_check_digit(body)


def product_key(epc: str) -> ProductKey:
    """GTIN, lot and serial from an SGTIN/LGTIN URN, an idpat or a GS1 Digital Link URI."""
    m = _EPC_URN.match(epc.strip())
    if m:
        kind, scheme, prefix, item, rest = m.groups()
        gtin = _gtin_from_parts(prefix, item)
        if gtin is None:
            return ProductKey()
        if scheme == "lgtin":
            return ProductKey(gtin, unquote(rest) if rest else None)
        serial = unquote(rest) if rest and rest != "*" and kind == "id" else None
        return ProductKey(gtin, None, serial)
    if epc.startswith(("http://", "https://")):
        found = dict(_DL_AI.findall(urlsplit(epc).path))
        gtin = normalize_gtin(found.get("01", ""))
        if gtin:
            lot = unquote(found["10"]) if "10" in found else None
            serial = unquote(found["21"]) if "21" in found else None
            return ProductKey(gtin, lot, serial)
    return ProductKey()


def cbv_short(value: str | None) -> str | None:
    """``shipping`` for any CBV spelling of it (bare word, URN, Web URI, CURIE)."""
    if value is None:
        return None
    text = value.strip()
    for prefix in _CBV_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    for part in _CBV_PARTS:
        if text.startswith(part):
            return text[len(part):]
    return text


def local_name(term: str) -> str:
    """The local part of a JSON-LD term (``gs1:Temperature`` → ``Temperature``)."""
    for sep in ("#", "/", ":"):
        if sep in term:
            term = term.rsplit(sep, 1)[-1]
    return term


def to_celsius(value: float | None, uom: str | None) -> float | None:
    """A temperature in °C from a UN/CEFACT unit (CEL, FAH, KEL); None for other units."""
    if value is None:
        return None
    convert = TEMPERATURE_TO_CELSIUS.get((uom or "").upper())
    return None if convert is None else round(float(convert(float(value))), 6)


def parse_time(value: str | None) -> datetime | None:
    """An aware UTC datetime from an EPCIS timestamp (a missing offset means UTC)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
