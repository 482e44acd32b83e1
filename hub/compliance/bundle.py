"""Evidence bundles: a ZIP with the report (JSON + PDF), the period's audit-trail excerpt,
model lineage, minimized training records, the hub's JWKS and a manifest signed by the hub.

``manifest.json`` lists every other file with its SHA-256 and size; ``manifest.jws`` is a
compact JWS (EdDSA, ``hub.keys``) whose payload is exactly the bytes of ``manifest.json``.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from hub.audit import service as audit
from hub.audit import signatures
from hub.compliance.excerpt import build_excerpt
from hub.compliance.models import ComplianceReport
from hub.compliance.pdf import render_pdf
from hub.compliance.periods import Period
from hub.compliance.prefill import as_utc
from hub.compliance.verify import (
    AUDIT_EXCERPT,
    BUNDLE_FORMAT,
    JWKS,
    MANIFEST,
    MANIFEST_JWS,
    MANIFEST_TYP,
    sha256,
)
from hub.config import Settings
from hub.db import utcnow
from hub.identity.models import Organization
from hub.keys import hub_key_store
from hub.sites.models import Site

EVIDENCE_FILES = {"models_in_production": "model-lineage.json",
                  "training_coverage": "training-records.json"}
JWKS_PATH = "/.well-known/jwks.json"


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False,
                      default=str).encode("utf-8") + b"\n"


def submission_facts(session: Session, report: ComplianceReport) -> dict[str, Any]:
    """Identification of a submission as printed and exported."""
    org = session.get(Organization, report.organization_id)
    site = session.get(Site, report.site_id)
    return {
        "id": report.id, "organization_id": report.organization_id,
        "organization_name": org.name if org else None,
        "jurisdiction": org.jurisdiction if org else None,
        "site_id": report.site_id, "site_name": site.name if site else None,
        "period_start": report.period_start.isoformat(),
        "period_end": report.period_end.isoformat(),
        "period_label": Period(report.period_start, report.period_end).label,
        "version": report.version, "supersedes_id": report.supersedes_id,
        "correction_reason": report.correction_reason, "status": report.status,
        "superseded_by_id": report.superseded_by_id, "content_hash": report.content_hash,
        "signed_at": report.signed_at.isoformat() if report.signed_at else None,
        "approved_at": report.approved_at.isoformat() if report.approved_at else None,
    }


def signature_records(session: Session, report: ComplianceReport) -> list[dict[str, Any]]:
    out = []
    for sig in signatures.for_record(session, "compliance_report", report.id):
        check = signatures.verify(session, sig)
        out.append({"id": sig.id, "meaning": sig.meaning, "printed_name": sig.printed_name,
                    "signer_username": sig.signer_username, "signer_id": sig.signer_id,
                    "signed_at": sig.signed_at.isoformat(), "comment": sig.comment,
                    "record_hash": sig.record_hash, "signature_hash": sig.signature_hash,
                    "valid": check.valid, "problems": check.problems})
    return out


@dataclass
class Bundle:
    filename: str
    data: bytes
    manifest: dict[str, Any]


def bundle_name(facts: dict[str, Any]) -> str:
    site = "".join(c if c.isalnum() or c in "-_" else "-" for c in (facts["site_name"] or "site"))
    period = facts["period_label"].replace("/", "_")
    return f"compliance-{site[:40]}-{period}-v{facts['version']}.zip"


def build_bundle(session: Session, settings: Settings, report: ComplianceReport) -> Bundle:
    """Assemble and sign the evidence bundle of one report version."""
    facts = submission_facts(session, report)
    sigs = signature_records(session, report)
    chain = audit.verify_chain(session)
    excerpt = build_excerpt(session, report.organization_id, as_utc(report.period_start),
                            as_utc(report.period_end))
    excerpt["chain_verification"] = {"ok": chain.ok, "entries": chain.entries,
                                     "head_hash": chain.head_hash,
                                     "first_broken_seq": chain.first_broken_seq,
                                     "problem": chain.problem, "checked_at": utcnow().isoformat()}
    document = {"format": "fedhub-compliance-submission/1", "standard": "compliance-report/1.0.0",
                "submission": facts, "report": report.content, "sections": report.sections,
                "signatures": sigs}
    keys = hub_key_store(settings.data_dir)
    files: dict[str, bytes] = {
        "report.json": _json(document),
        "report.pdf": render_pdf(facts, report.content, report.sections, sigs),
        AUDIT_EXCERPT: _json(excerpt),
    }
    for section, name in EVIDENCE_FILES.items():
        files[name] = _json(report.evidence.get(section, []))
    for section, records in sorted(report.evidence.items()):
        if section not in EVIDENCE_FILES:
            files[f"evidence/{section}.json"] = _json(records)
    files[JWKS] = _json(keys.jwks())
    base = settings.public_url.rstrip("/")
    manifest = {
        "format": BUNDLE_FORMAT, "submission_id": report.id,
        "organization_id": report.organization_id, "site_id": report.site_id,
        "period": {"start": facts["period_start"], "end": facts["period_end"]},
        "version": report.version, "status": report.status,
        "content_sha256": report.content_hash, "generated_at": utcnow().isoformat(),
        "issuer": base, "jwks_url": base + JWKS_PATH,
        "audit_chain_ok": chain.ok,
        "files": [{"name": n, "sha256": sha256(b), "size": len(b)} for n, b in files.items()],
    }
    manifest_bytes = _json(manifest)
    jws = keys.sign_jws(manifest_bytes, typ=MANIFEST_TYP, cty="json")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(_info(name), data)
        zf.writestr(_info(MANIFEST), manifest_bytes)
        zf.writestr(_info(MANIFEST_JWS), jws.encode("ascii") + b"\n")
    return Bundle(bundle_name(facts), buf.getvalue(), manifest)


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_zip_time(utcnow().date()))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _zip_time(day: date) -> tuple[int, int, int, int, int, int]:
    return (day.year, day.month, day.day, 0, 0, 0)
