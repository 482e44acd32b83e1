"""The printable certificate: a real PDF carrying the facts and the verification QR code."""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import UTC, datetime

import qrcode

from training_portal.credentials import (
    AchievementInfo,
    AttemptEvidence,
    Holder,
    IssuerProfile,
    build_credential,
)
from training_portal.pdf import UNICODE_FONT_PATHS, certificate_text, render_certificate_pdf

VERIFY_URL = "https://hub.example.org/training/verify/urn:uuid:9a1d6c7e-5b43-4e0f-8d21-6f3a2b1c0e99"


def credential(name: str = "Amara Okafor") -> dict:
    return build_credential(
        credential_id="urn:uuid:9a1d6c7e-5b43-4e0f-8d21-6f3a2b1c0e99",
        issuer=IssuerProfile(id="https://hub.example.org", name="fedhub training portal"),
        holder=Holder(name=name),
        achievement=AchievementInfo(
            id="https://hub.example.org/training/achievements/inspection",
            name="Intelligent inspection system operation",
            description="Operates automated visual inspection and handles its rejects.",
            criteria="Pass the assessment with at least 80 %."),
        evidence=AttemptEvidence(attempt_id="a1", score=0.9, pass_mark=0.8,
                                 course_id="inspection-operation", course_version="1.0.0"),
        valid_from=datetime(2026, 3, 1, tzinfo=UTC), valid_until=datetime(2028, 3, 1, tzinfo=UTC))


def shown_strings(pdf: bytes) -> list[str]:
    """Text drawn with Tj in an uncompressed content stream (parentheses unescaped)."""
    text = pdf.decode("latin-1")
    return [s.replace("\\(", "(").replace("\\)", ")")
            for s in re.findall(r"\(((?:[^()\\]|\\.)*)\) Tj", text)]


def drawn_squares(pdf: bytes) -> list[tuple[float, float, float]]:
    """Every ``x y w h re`` with w == h in the content stream, as (x, y, size)."""
    out = []
    for x, y, w, h in re.findall(r"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re",
                                 pdf.decode("latin-1")):
        if abs(float(w) - float(h)) < 1e-6:
            out.append((float(x), float(y), float(w)))
    return out


def test_pdf_is_a_pdf_and_prints_the_facts() -> None:
    vc = credential()
    pdf = render_certificate_pdf(vc, VERIFY_URL, compress=False)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    shown = shown_strings(pdf)
    for fact in ("Amara Okafor", "Intelligent inspection system operation",
                 "fedhub training portal", "01 March 2026", "01 March 2028",
                 "urn:uuid:9a1d6c7e-5b43-4e0f-8d21-6f3a2b1c0e99", VERIFY_URL,
                 "inspection-operation 1.0.0"):
        assert fact in shown, fact
    compressed = render_certificate_pdf(vc, VERIFY_URL)
    assert compressed.startswith(b"%PDF-") and len(compressed) < len(pdf)
    assert b"Amara Okafor" not in compressed.split(b"stream", 1)[1]  # content is deflated


def test_qr_code_drawn_is_the_verification_url() -> None:
    pdf = render_certificate_pdf(credential(), VERIFY_URL, compress=False)
    squares = drawn_squares(pdf)
    module = Counter(round(s, 4) for _, _, s in squares).most_common(1)[0][0]
    cells = [(x, y) for x, y, s in squares if round(s, 4) == module]
    left = min(x for x, _ in cells)
    top = max(y for _, y in cells) + module
    drawn = {(round((top - y) / module) - 1, round((x - left) / module)) for x, y in cells}

    # the reference pattern comes straight from the qrcode library, independent of pdf.py
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(VERIFY_URL)
    qr.make(fit=True)
    expected = {(r, c) for r, row in enumerate(qr.get_matrix())
                for c, dark in enumerate(row) if dark}
    assert drawn == expected
    other = render_certificate_pdf(credential(), VERIFY_URL + "x", compress=False)
    assert drawn_squares(other) != squares


def test_names_outside_latin1_get_a_font_that_has_them() -> None:
    cases = [("王伟", b"STSong-Light")]
    if any(os.path.exists(p) for p in UNICODE_FONT_PATHS):
        cases.append(("Ольга Иванова", b"FontFile2"))  # an embedded TrueType font
    for name, font in cases:
        pdf = render_certificate_pdf(credential(name), VERIFY_URL, compress=False)
        assert pdf.startswith(b"%PDF-") and font in pdf
        assert certificate_text(credential(name)).holder_name == name
