"""Pre-filling a report: the hub's own section providers and the run over every provider."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from hub.audit import service as audit
from hub.audit import signatures
from hub.audit.models import AuditEntry, ESignature
from hub.compliance.providers import (
    SECTIONS,
    SectionContext,
    SectionResult,
    providers_for,
    register_section_provider,
)
from hub.db import utcnow
from hub.errors import HubError
from hub.identity.models import User
from hub.monitoring.models import Alert, AlertStatus, WorkOrder, WorkOrderStatus

log = logging.getLogger("fedhub.compliance")
LATE_AFTER = timedelta(hours=24)  # an alert recorded later than this is not contemporaneous
_NOT_IDENT = re.compile(r"[^A-Za-z0-9._:-]")


def identifier(text: str, fallback: str = "unknown") -> str:
    """Coerce free text to the standards' identifier pattern."""
    cleaned = _NOT_IDENT.sub("-", text or "").lstrip("._:-")[:128]
    return cleaned or fallback


def _check(principle: str, check: str, records: int, findings: int,
           evidence_ref: str | None = None) -> dict[str, Any]:
    result = "not_applicable" if records == 0 else ("pass" if findings == 0 else "fail")
    row: dict[str, Any] = {"principle": principle, "check": check, "result": result,
                           "records_checked": records, "findings": min(findings, records)}
    if evidence_ref:
        row["evidence_ref"] = evidence_ref
    return row


def _count(ctx: SectionContext, *where: Any) -> int:
    stmt = sa.select(sa.func.count()).select_from(AuditEntry).where(
        col(AuditEntry.actor_org_id) == ctx.organization_id, col(AuditEntry.ts) >= ctx.since,
        col(AuditEntry.ts) < ctx.until, *where)
    return int(ctx.session.execute(stmt).scalar_one())


def audit_trail_checks(ctx: SectionContext) -> SectionResult:
    """ALCOA+ checks computed from the audit trail, e-signatures and alert timeliness."""
    session = ctx.session
    chain = audit.verify_chain(session)
    entries = _count(ctx)
    anonymous = _count(ctx, sa.or_(col(AuditEntry.actor_id) == "",
                                    col(AuditEntry.actor_name) == ""))
    modified = col(AuditEntry.action).in_(("update", "delete"))
    changes = _count(ctx, modified)
    no_reason = _count(ctx, modified, sa.or_(col(AuditEntry.reason).is_(None),
                                             col(AuditEntry.reason) == ""))
    sigs = session.exec(select(ESignature).join(User, col(User.id) == col(ESignature.signer_id))
                        .where(User.organization_id == ctx.organization_id,
                               col(ESignature.signed_at) >= ctx.since,
                               col(ESignature.signed_at) < ctx.until)).all()
    broken = 0
    for sig in sigs:
        try:
            broken += not signatures.verify(session, sig).valid
        except HubError:
            broken += 1
    alerts = session.exec(select(Alert.raised_at, Alert.received_at).where(
        Alert.site_id == ctx.site_id, col(Alert.raised_at) >= ctx.since,
        col(Alert.raised_at) < ctx.until)).all()
    late = sum(1 for raised, received in alerts if received - raised > LATE_AFTER)
    checks = [
        _check("enduring", "Audit trail hash chain recomputed end to end", chain.entries,
               0 if chain.ok else 1, "audit-excerpt"),
        _check("attributable", "Audited changes in the period name who made them", entries,
               anonymous),
        _check("accurate", "Modifications and deletions in the period carry a reason", changes,
               no_reason),
        _check("attributable", "Electronic signatures of the period verify against the "
               "unchanged signed records", len(sigs), broken),
        _check("contemporaneous", "Site alerts recorded at the hub within 24 h of detection",
               len(alerts), late),
    ]
    note = None if chain.ok else (f"audit chain broken at entry {chain.first_broken_seq}: "
                                  f"{chain.problem}")
    return SectionResult(checks, "audit trail, e-signatures and monitoring alerts", note=note)


_ALERT_STATUS = {AlertStatus.open: "open", AlertStatus.acknowledged: "investigating",
                 AlertStatus.resolved: "closed"}
_WO_STATUS = {WorkOrderStatus.proposed: "open", WorkOrderStatus.acknowledged: "in_progress",
              WorkOrderStatus.resolved: "closed"}


def _capa(wo: WorkOrder, period_end: date) -> dict[str, Any]:
    status = _WO_STATUS.get(WorkOrderStatus(wo.status), "open")
    due = date.fromisoformat(wo.due_date)
    if status != "closed" and due < period_end:
        status = "overdue"
    return {"capa_id": identifier(wo.work_order_id), "action": wo.recommended_action[:4000],
            "due_date": due.isoformat(), "status": status}


def monitoring_deviations(ctx: SectionContext) -> SectionResult:
    """Critical alerts and alerts that led to a work order, with the work orders as CAPA."""
    session = ctx.session
    alerts = session.exec(select(Alert).where(
        Alert.site_id == ctx.site_id, col(Alert.raised_at) >= ctx.since,
        col(Alert.raised_at) < ctx.until).order_by(col(Alert.raised_at))).all()
    orders = session.exec(select(WorkOrder).where(WorkOrder.site_id == ctx.site_id,
                                                  col(WorkOrder.created_at) < ctx.until)).all()
    by_alert: dict[str, list[WorkOrder]] = {}
    for wo in orders:
        for source in wo.source_alert_ids:
            by_alert.setdefault(str(source), []).append(wo)
    items = []
    for a in alerts:
        linked = by_alert.get(a.source_alert_id, [])
        if a.severity != "critical" and not linked:
            continue
        item: dict[str, Any] = {
            "deviation_id": identifier(f"ALERT-{a.source_alert_id}"),
            "opened_at": a.raised_at.isoformat(),
            "severity": "major" if a.severity == "critical" else "minor",
            "category": f"equipment monitoring: {a.detector}"[:200],
            "description": f"{a.asset_path} {a.measurement}: {a.message}"[:4000],
            "batch_ids": [],
            "status": _ALERT_STATUS.get(AlertStatus(a.status), "open"),
            "capa": [_capa(wo, ctx.period_end) for wo in linked],
        }
        if linked:
            item["root_cause"] = f"predicted failure mode: {linked[0].predicted_failure_mode}"
        items.append(item)
    return SectionResult(items, "monitoring alerts and maintenance work orders",
                         note=f"{len(alerts)} alert(s) in the period; critical ones and those "
                              "with a work order are listed.")


def traceability_excursions(ctx: SectionContext) -> SectionResult:
    """Cold-chain excursions of the organization's lots overlapping the period."""
    from hub.traceability.excursions import excursions_between
    from hub.traceability.models import TraceAlert

    found = excursions_between(ctx.session, [ctx.organization_id], ctx.since,
                               ctx.until - timedelta(microseconds=1))
    alerts = {(a.gtin, a.lot, a.window_start): a for a in ctx.session.exec(
        select(TraceAlert).where(TraceAlert.org_id == ctx.organization_id))}
    items = []
    for e in found:
        alert = alerts.get((e.gtin or "", e.lot or "", e.start))
        item: dict[str, Any] = {
            "lot": identifier(e.lot or e.gtin or "", "unknown-lot"),
            "event_ids": [eid[:200] for eid in e.event_ids][:1000],
            "started_at": e.start.isoformat(), "ended_at": e.end.isoformat(),
            "max_temperature_cel": e.max_celsius if e.direction != "low" else e.min_celsius,
            "allowed_min_cel": e.allowed.min_celsius, "allowed_max_cel": e.allowed.max_celsius,
            "handling": "under_review",
        }
        if alert is not None and alert.acknowledge_comment:
            item["justification"] = alert.acknowledge_comment[:4000]
        items.append(item)
    return SectionResult(items, "traceability events (whole organization)",
                         note="Excursions come from the organization's lots, not only this "
                              "site's; set how each was handled.")


register_section_provider("alcoa_checks", audit_trail_checks)
register_section_provider("deviations", monitoring_deviations)
register_section_provider("traceability_excursions", traceability_excursions)

# -- personal data minimization for training records ---------------------------------------
TRAINING_FIELDS = ("qualification", "course", "site_id", "issued_at", "valid_until", "status")


def pseudonym(secret: str, org_id: str, value: str, prefix: str = "p") -> str:
    """A stable pseudonymous id (HMAC with the hub secret); only the hub can re-identify."""
    mac = hmac.new(secret.encode(), f"compliance|{org_id}|{value}".encode(), hashlib.sha256)
    return f"{prefix}-{mac.hexdigest()[:20]}"


def minimize_training_record(record: dict[str, Any], secret: str,
                             org_id: str) -> dict[str, Any]:
    """Role, qualification and validity under a pseudonymous person id: no name, no e-mail,
    no score, no certificate id (which would lead to the holder's name)."""
    person = record.get("person") or {}
    out: dict[str, Any] = {k: record[k] for k in TRAINING_FIELDS if record.get(k) is not None}
    out["record_id"] = pseudonym(secret, org_id, str(record.get("record_id", "")), "r")
    out["person"] = {"person_id": pseudonym(secret, org_id, str(person.get("person_id", "")))}
    if person.get("role"):
        out["person"]["role"] = str(person["role"])[:200]
    if isinstance(out.get("course"), dict):
        out["course"] = {k: v for k, v in out["course"].items() if k in ("course_id", "version")}
    return out


def _minimize(name: str, evidence: list[dict[str, Any]], ctx: SectionContext) -> list[Any]:
    if name != "training_coverage":
        return evidence
    return [minimize_training_record(r, ctx.settings.secret_key, ctx.organization_id)
            for r in evidence]


def run_providers(ctx: SectionContext) -> tuple[dict[str, list[Any]], dict[str, Any],
                                                  dict[str, list[Any]]]:
    """Ask every provider: (items per section, section states, evidence per section)."""
    items: dict[str, list[Any]] = {}
    states: dict[str, Any] = {}
    evidence: dict[str, list[Any]] = {}
    now = utcnow().isoformat()
    for name in SECTIONS:
        found: list[Any] = []
        sources: list[str] = []
        notes: list[str] = []
        records: list[Any] = []
        for fn in providers_for(name):
            try:
                with ctx.session.begin_nested():
                    result = fn(ctx)
            except Exception as exc:  # a failing provider leaves its part to the site admin
                log.exception("compliance provider %s failed", getattr(fn, "__name__", fn))
                notes.append(f"{getattr(fn, '__name__', 'provider')} failed: {exc}"[:500])
                continue
            found.extend(result.items)
            sources.append(result.source)
            records.extend(_minimize(name, result.evidence, ctx))
            if result.note:
                notes.append(result.note)
        items[name] = found
        if records:
            evidence[name] = records
        states[name] = {"prefilled": bool(sources), "source": "; ".join(sources) or None,
                        "note": " ".join(notes) or None, "reviewed": False,
                        "prefilled_at": now, "prefilled_items": len(found)}
        if not sources:
            states[name]["note"] = states[name]["note"] or ("No hub records feed this section; "
                                                            "complete it by hand")
    return items, states, evidence


def integrity_score(checks: list[dict[str, Any]]) -> float | None:
    """Share of applicable ALCOA+ checks that passed."""
    applicable = [c for c in checks if c.get("result") in ("pass", "fail")]
    if not applicable:
        return None
    return round(sum(c["result"] == "pass" for c in applicable) / len(applicable), 4)


def as_utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)
