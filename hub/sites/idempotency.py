"""Exactly-once handling of site messages: seen ``Idempotency-Key`` values and their replies.

A site agent retries a message until it gets an answer, always with the same key. The hub
stores the key with the response in the same transaction as the message's effect; a retry
gets the stored response back (``Idempotent-Replayed: true``) and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete

from hub.errors import HubError, ValidationFailed
from hub.sites.models import IdempotencyRecord

KEY_RE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


class IdempotencyKeyReused(HubError):
    status, code, title = 422, "idempotency-key-reused", "Idempotency key reused"


@dataclass
class Idempotency:
    session: Session
    site_id: str
    key: str | None
    method: str
    path: str
    request_hash: str

    def _check_key(self) -> str:
        if not self.key or not KEY_RE.match(self.key):
            raise ValidationFailed(
                "Site messages need an Idempotency-Key header (8-128 of A-Z a-z 0-9 . _ : -)",
                errors=[{"pointer": "/headers/Idempotency-Key", "message": "missing or invalid"}])
        return self.key

    def _replay(self, rec: IdempotencyRecord) -> JSONResponse:
        if rec.request_hash != self.request_hash or rec.path != self.path:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request",
                errors=[{"pointer": "/headers/Idempotency-Key", "message": "reused"}])
        return JSONResponse(rec.response, status_code=rec.status_code,
                            headers={"Idempotent-Replayed": "true"})

    def run(self, status_code: int, work: Callable[[], Any]) -> JSONResponse:
        """Do ``work`` once per key; replay the stored response on every retry."""
        key = self._check_key()
        prior = self.session.get(IdempotencyRecord, (self.site_id, key))
        if prior is not None:
            return self._replay(prior)
        try:
            with self.session.begin_nested():
                body = jsonable_encoder(work())
                self.session.add(IdempotencyRecord(
                    site_id=self.site_id, key=key, method=self.method, path=self.path,
                    request_hash=self.request_hash, status_code=status_code, response=body))
                self.session.flush()
        except IntegrityError:  # a concurrent delivery of the same message won the race
            prior = self.session.get(IdempotencyRecord, (self.site_id, key))
            if prior is None:
                raise
            return self._replay(prior)
        return JSONResponse(body, status_code=status_code)


def purge(session: Session, older_than: datetime) -> int:
    """Forget keys older than ``older_than`` (agents give up retrying long before)."""
    result = session.execute(delete(IdempotencyRecord)
                             .where(col(IdempotencyRecord.created_at) < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
