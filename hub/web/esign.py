"""Electronic signatures from page forms (the ``esign_dialog`` macro posts here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form
from sqlmodel import Session

from hub.audit import signatures
from hub.audit.models import ESignature
from hub.audit.signatures import Meaning
from hub.config import Settings
from hub.errors import PermissionDenied, ValidationFailed
from hub.web.auth import WebUser

MEANINGS = [m.value for m in Meaning]


@dataclass(frozen=True)
class ESignInput:
    """What the signature dialog sends: password re-entry, meaning, optional comment."""

    password: str
    meaning: str
    comment: str | None


def esign_input(
    password: Annotated[str, Form(max_length=256)] = "",
    meaning: Annotated[str, Form(max_length=32)] = Meaning.approved.value,
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> ESignInput:
    return ESignInput(password=password, meaning=meaning, comment=comment.strip() or None)


ESignForm = Annotated[ESignInput, Depends(esign_input)]


def sign_record(session: Session, settings: Settings, who: WebUser, form: ESignInput, *,
                entity_type: str, entity_id: str,
                roles: tuple[str, ...] | None = None) -> ESignature:
    """Sign a record for the logged-in person (roles default to the registered signers)."""
    allowed = roles if roles is not None else signatures.signer_roles(entity_type)
    if not allowed or not who.has(*allowed):
        raise PermissionDenied(f"You may not sign {entity_type} records")
    if form.meaning not in MEANINGS:
        raise ValidationFailed("Choose the meaning of the signature",
                               errors=[{"pointer": "/meaning", "message": "unknown meaning"}])
    if not form.password:
        raise ValidationFailed("Re-enter your password to sign",
                               errors=[{"pointer": "/password", "message": "required"}])
    return signatures.sign(session, settings, signer_id=who.user.id, password=form.password,
                           meaning=Meaning(form.meaning), entity_type=entity_type,
                           entity_id=entity_id, comment=form.comment)


@dataclass(frozen=True)
class SignatureRow:
    signature: ESignature
    valid: bool
    problems: list[str]


def signature_rows(session: Session, entity_type: str, entity_id: str) -> list[SignatureRow]:
    """Signatures on a record, oldest first, each re-verified against the record now."""
    rows = []
    for sig in signatures.for_record(session, entity_type, entity_id):
        check = signatures.verify(session, sig)
        rows.append(SignatureRow(sig, check.valid, check.problems))
    return rows
