"""Human-readable PDF of a compliance submission (reportlab): sections, signatures, hashes."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from hub.compliance.providers import SECTION_TITLES, SECTIONS

FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
              "/usr/share/fonts/dejavu/DejaVuSans.ttf")
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "alcoa_checks": (("principle", "Principle"), ("check", "Check"), ("result", "Result"),
                     ("records_checked", "Records"), ("findings", "Findings")),
    "deviations": (("deviation_id", "Deviation"), ("opened_at", "Opened"),
                   ("severity", "Severity"), ("status", "Status"), ("description", "Description"),
                   ("capa", "CAPA")),
    "equipment_qualification": (("protocol_id", "Protocol"), ("equipment", "Equipment"),
                                ("stage", "Stage"), ("executed_at", "Executed"),
                                ("steps_passed", "Passed"), ("steps_total", "Steps"),
                                ("result", "Result")),
    "models_in_production": (("model", "Model"), ("task", "Task"),
                             ("validation_status", "Validation"), ("validated_at", "Validated"),
                             ("indicators", "Indicators")),
    "training_coverage": (("qualification", "Qualification"), ("required", "Required"),
                          ("qualified", "Qualified")),
    "traceability_excursions": (("lot", "Lot"), ("started_at", "From"), ("ended_at", "To"),
                                ("max_temperature_cel", "Extreme °C"),
                                ("allowed_min_cel", "Min °C"), ("allowed_max_cel", "Max °C"),
                                ("handling", "Handling")),
}


ENUM_WORDS = frozenset({"not_applicable", "in_progress", "under_review", "not_validated",
                        "conditionally_validated"})


def _font() -> str:
    for path in FONT_PATHS:
        if os.path.exists(path):
            if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont("DejaVuSans", path))
            return "DejaVuSans"
    return "Helvetica"


def cell_text(value: Any) -> str:
    """A section value as short text (tables in the PDF and on pages)."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        if "name" in value and "version" in value:
            return f"{value['name']} {value['version']}"
        return ", ".join(f"{k}: {cell_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        if value and isinstance(value[0], dict) and "capa_id" in value[0]:
            return "; ".join(f"{c['capa_id']} ({c.get('status')}, due {c.get('due_date')})"
                             for c in value)
        if value and isinstance(value[0], dict) and "metric" in value[0]:
            return "; ".join(f"{i['metric']} {i.get('measured')} "
                             f"({'pass' if i.get('passed') else 'fail'})" for i in value)
        return ", ".join(cell_text(v) for v in value) or "—"
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    if text in ENUM_WORDS:
        return text.replace("_", " ")
    return text[:19].replace("T", " ") if len(text) >= 19 and text[10:11] == "T" else text


def render_pdf(submission: dict[str, Any], report: dict[str, Any],
               sections: dict[str, Any], signatures: Sequence[dict[str, Any]]) -> bytes:
    """The submission as an A4 document: identification, signatures, every section."""
    font = _font()
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=font, fontSize=9,
                          leading=11)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9)
    h1 = ParagraphStyle("h1", parent=styles["Heading1"], fontName=font, fontSize=16)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], fontName=font, fontSize=12)

    def p(text: Any, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    def table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
        t = Table([[p(c, small) for c in row] for row in rows], colWidths=widths,
                  repeatRows=1)
        t.setStyle(TableStyle([
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6edf3")),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8a96a3")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        return t

    story: list[Flowable] = [
        p(f"Compliance report — {submission.get('site_name') or submission['site_id']}", h1),
        table([["Field", "Value"],
               ["Organization", f"{submission.get('organization_name')} "
                                f"({submission.get('jurisdiction')})"],
               ["Site", f"{submission.get('site_name')} ({submission['site_id']})"],
               ["Period", f"{submission['period_label']} "
                          f"({submission['period_start']} to {submission['period_end']}, "
                          "end exclusive)"],
               ["Version", f"{submission['version']}"
                + (f" — corrects {submission['supersedes_id']}: "
                   f"{submission.get('correction_reason')}" if submission.get('supersedes_id')
                   else "")],
               ["Status", submission["status"]],
               ["Submission id", submission["id"]],
               ["Content SHA-256", submission.get("content_hash") or "—"],
               ["Data integrity score", cell_text(report.get("data_integrity_score"))]],
              [45 * mm, 125 * mm]),
        Spacer(1, 4 * mm), p("Electronic signatures", h2),
    ]
    sig_rows: list[list[Any]] = [["Signed by", "Meaning", "Date and time (UTC)", "Comment"]]
    for s in signatures:
        sig_rows.append([f"{s['printed_name']} ({s['signer_username']})", s["meaning"],
                         cell_text(s["signed_at"]), s.get("comment") or ""])
    story.append(table(sig_rows, [50 * mm, 25 * mm, 40 * mm, 55 * mm]) if signatures
                 else p("Not signed."))
    for name in SECTIONS:
        items = report.get(name) or []
        state = sections.get(name) or {}
        story += [Spacer(1, 4 * mm), p(SECTION_TITLES[name], h2)]
        origin = state.get("source") or "entered by the site"
        story.append(p(f"Source: {origin}. Reviewed: {'yes' if state.get('reviewed') else 'no'}."
                       + (f" Note: {state['site_note']}" if state.get("site_note") else ""),
                       small))
        if not items:
            story.append(p("Nothing to report for this period."))
            continue
        cols = COLUMNS[name]
        rows = [[title for _, title in cols]]
        rows += [[cell_text(item.get(key)) for key, _ in cols] for item in items]
        story.append(table(rows))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm,
                            title=f"Compliance report {submission['period_label']}",
                            author="fedhub", subject=submission["id"])
    doc.build(story)
    return buf.getvalue()
