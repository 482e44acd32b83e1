"""Cold-chain traceability: EPCIS documents stored at the site go to the hub's capture API.

With ``SITE_AGENT_SHARE_TRACEABILITY=true``, ``site-agent run`` queues every stored
``epcis-document`` record (from ``site-agent ingest FILE --schema epcis-document/2.0.0`` or a
watched directory) in the outbox for ``POST /traceability/capture``, in the same local
transaction that advances its cursor, so each document is queued once and delivered with the
outbox's retries. The egress gate sends the shareable projection only: ILMD, business
transactions and the EPCIS header are `confidential` and stay at the site. The hub stores
events idempotently by ``eventID``, so a re-delivered document stores nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from site_agent.egress import EgressRefused
from site_agent.outbox import Outbox
from site_agent.store import LocalStore, digest

log = logging.getLogger("site_agent.traceability")

FAMILY = "epcis-document"
CAPTURE = "/traceability/capture"
CURSOR = "traceability.cursor"


@dataclass
class ForwardReport:
    queued: int = 0
    refused: int = 0


def forward(store: LocalStore, outbox: Outbox, limit: int = 100) -> ForwardReport:
    """Queue EPCIS documents stored since the last call; a document the gate refuses is
    logged (by record id, never its content) and skipped."""
    report = ForwardReport()
    cursor = int(store.get_meta(CURSOR, 0))
    rows = store.records_after(FAMILY, cursor, limit)
    if not rows:
        return report
    with store.transaction():
        for record_id, schema_id, document in rows:
            try:
                outbox.enqueue(CAPTURE, schema_id, document, key=f"epcis-{digest(document)}")
                report.queued += 1
            except EgressRefused as exc:
                log.warning("EPCIS record %d not shared: %s", record_id, exc)
                report.refused += 1
        store.set_meta(CURSOR, rows[-1][0])
    return report
