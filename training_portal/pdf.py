"""Printable qualification certificate (PDF) with a QR code pointing at the verification page.

The QR code is drawn as vector squares, one per dark module, so it stays sharp at any zoom and
the drawn pattern can be checked against the matrix of the verification URL.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import qrcode
from reportlab.lib.colors import HexColor, white
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

QR_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
QR_QUIET_ZONE = 4  # modules of white margin the QR specification asks for
UNICODE_FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
)
INK = HexColor("#1f2a44")
ACCENT = HexColor("#2e6f95")
PAGE_W, PAGE_H = landscape(A4)


@dataclass(frozen=True)
class CertificateText:
    """The human-readable facts printed on a certificate."""

    holder_name: str
    qualification: str
    description: str
    issuer_name: str
    valid_from: str
    valid_until: str
    certificate_id: str
    course: str


def _date(stamp: Any) -> str:
    if not isinstance(stamp, str):
        return "—"
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).strftime("%d %B %Y")
    except ValueError:
        return stamp


def certificate_text(credential: Mapping[str, Any]) -> CertificateText:
    """Pull the printable facts out of an ``OpenBadgeCredential``."""
    subject = credential.get("credentialSubject") or {}
    achievement = subject.get("achievement") or {}
    issuer = credential.get("issuer")
    issuer_name = (issuer.get("name") or issuer.get("id")) if isinstance(issuer, dict) else issuer
    name = next((i.get("identityHash") for i in subject.get("identifier", [])
                 if i.get("identityType") == "name" and not i.get("hashed")), None)
    evidence = (credential.get("evidence") or [{}])[0]
    course = " ".join(str(p) for p in (evidence.get("courseId"), evidence.get("courseVersion"))
                      if p)
    return CertificateText(
        holder_name=str(name or subject.get("id") or "—"),
        qualification=str(achievement.get("name", "—")),
        description=str(achievement.get("description", "")),
        issuer_name=str(issuer_name or "—"),
        valid_from=_date(credential.get("validFrom")),
        valid_until=_date(credential.get("validUntil")),
        certificate_id=str(credential.get("id", "—")),
        course=course,
    )


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code modules for ``data`` (no quiet zone), row by row, True = dark."""
    qr = qrcode.QRCode(error_correction=QR_ERROR_CORRECTION, border=0)
    qr.add_data(data)
    qr.make(fit=True)
    return [[bool(cell) for cell in row] for row in qr.get_matrix()]


def _unicode_font() -> str | None:
    for path in UNICODE_FONT_PATHS:
        if os.path.exists(path):
            if "FedhubSans" not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont("FedhubSans", path))
            return "FedhubSans"
    return None


def _font_for(text: str, base: str) -> str:
    """Helvetica for Latin-1 text; an embedded Unicode font or a CJK CID font otherwise."""
    try:
        text.encode("cp1252")
        return base
    except UnicodeEncodeError:
        pass
    if any("\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text):
        if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        return "STSong-Light"
    return _unicode_font() or base


def _fit(c: Canvas, text: str, base: str, size: float, width: float) -> tuple[str, float]:
    font = _font_for(text, base)
    while size > 7 and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 0.5
    return font, size


def _centred(c: Canvas, text: str, y: float, base: str, size: float, width: float) -> None:
    font, size = _fit(c, text, base, size, width)
    c.setFont(font, size)
    c.drawCentredString(PAGE_W / 2, y, text)


def draw_qr(c: Canvas, data: str, x: float, y: float, size: float) -> float:
    """Draw the QR code with its lower-left corner (quiet zone included) at (x, y)."""
    matrix = qr_matrix(data)
    n = len(matrix)
    module = size / (n + 2 * QR_QUIET_ZONE)
    c.setFillColor(white)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColor(INK)
    path = c.beginPath()
    top = y + size - QR_QUIET_ZONE * module
    left = x + QR_QUIET_ZONE * module
    for r, row in enumerate(matrix):
        for col, dark in enumerate(row):
            if dark:
                path.rect(left + col * module, top - (r + 1) * module, module, module)
    c.drawPath(path, stroke=0, fill=1)
    return module


def render_certificate_pdf(
    credential: Mapping[str, Any], verify_url: str, *, compress: bool = True
) -> bytes:
    """A one-page A4 landscape certificate; the QR code opens ``verify_url``."""
    facts = certificate_text(credential)
    buf = io.BytesIO()
    page_w, page_h = PAGE_W, PAGE_H
    c = Canvas(buf, pagesize=(page_w, page_h), pageCompression=1 if compress else 0)
    c.setTitle(f"{facts.qualification} — {facts.holder_name}")
    c.setAuthor(facts.issuer_name)
    c.setSubject(f"Qualification certificate {facts.certificate_id}")
    c.setCreator("fedhub training portal")

    c.setStrokeColor(ACCENT)
    c.setLineWidth(3)
    c.rect(24, 24, page_w - 48, page_h - 48, stroke=1, fill=0)
    c.setLineWidth(0.8)
    c.rect(32, 32, page_w - 64, page_h - 64, stroke=1, fill=0)

    width = page_w - 160
    c.setFillColor(ACCENT)
    _centred(c, "QUALIFICATION CERTIFICATE", page_h - 100, "Helvetica-Bold", 26, width)
    c.setFillColor(INK)
    _centred(c, "This certifies that", page_h - 150, "Helvetica", 14, width)
    _centred(c, facts.holder_name, page_h - 195, "Helvetica-Bold", 30, width)
    _centred(c, "has demonstrated the competence required for the qualification",
             page_h - 235, "Helvetica", 14, width)
    _centred(c, facts.qualification, page_h - 275, "Helvetica-Bold", 22, width)
    if facts.description:
        _centred(c, facts.description, page_h - 302, "Helvetica-Oblique", 11, width)

    qr_size = 130.0
    qr_x, qr_y = page_w - 60 - qr_size, 58.0
    draw_qr(c, verify_url, qr_x, qr_y, qr_size)
    c.setFillColor(INK)
    c.setFont("Helvetica", 8)
    c.drawCentredString(qr_x + qr_size / 2, qr_y - 10, "Scan to verify")

    left, line = 70.0, 16.0
    rows = [
        ("Issued by", facts.issuer_name),
        ("Valid from", facts.valid_from),
        ("Valid until", facts.valid_until),
        ("Course", facts.course or "—"),
        ("Certificate ID", facts.certificate_id),
        ("Verify at", verify_url),
    ]
    y = 58 + line * (len(rows) - 1)
    for label, value in rows:
        c.setFont("Helvetica-Bold", 10)
        c.drawString(left, y, f"{label}:")
        font, size = _fit(c, value, "Helvetica", 10, qr_x - left - 110)
        c.setFont(font, size)
        c.drawString(left + 90, y, value)
        y -= line
    c.showPage()
    c.save()
    return buf.getvalue()
