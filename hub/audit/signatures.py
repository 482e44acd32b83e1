"""Electronic signatures bound to the hash of the signed record (21 CFR 11.50/11.70/11.200)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.audit.chain import canonical_json, sha256_hex
from hub.audit.models import ESignature
from hub.config import Settings
from hub.db import new_id, utcnow
from hub.errors import InvalidCredentials, NotFound, SignatureRejected, ValidationFailed


class Meaning(StrEnum):
    authored = "authored"
    reviewed = "reviewed"
    approved = "approved"
    responsible = "responsible"


# entity type -> loader returning the record's signable content (what the signature covers)
Loader = Callable[[Session, str], dict[str, Any] | None]
_SIGNABLE: dict[str, Loader] = {}
_SIGNERS: dict[str, tuple[str, ...]] = {}


def register_signable(entity_type: str, loader: Loader, roles: tuple[str, ...] = ()) -> None:
    """Declare a signable record type: ``loader`` returns its signed content; ``roles`` may
    sign it through the generic ``POST /signatures`` endpoint (domain flows sign directly)."""
    _SIGNABLE[entity_type] = loader
    _SIGNERS[entity_type] = roles


def signer_roles(entity_type: str) -> tuple[str, ...]:
    return _SIGNERS.get(entity_type, ())


def record_hash(content: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(content))


def _load(session: Session, entity_type: str, entity_id: str) -> dict[str, Any]:
    loader = _SIGNABLE.get(entity_type)
    if loader is None:
        raise ValidationFailed(f"Records of type {entity_type!r} cannot be signed",
                               errors=[{"pointer": "/entity_type", "message": "not signable"}])
    content = loader(session, entity_id)
    if content is None:
        raise NotFound(f"{entity_type} {entity_id} not found")
    return content


def _signature_hash(sig: ESignature) -> str:
    return sha256_hex(canonical_json({
        "id": sig.id, "entity_type": sig.entity_type, "entity_id": sig.entity_id,
        "record_hash": sig.record_hash, "meaning": sig.meaning, "signer_id": sig.signer_id,
        "printed_name": sig.printed_name, "signed_at": sig.signed_at.isoformat(),
        "comment": sig.comment,
    }))


def sign(
    session: Session,
    settings: Settings,
    *,
    signer_id: str,
    password: str,
    meaning: Meaning,
    entity_type: str,
    entity_id: str,
    comment: str | None = None,
) -> ESignature:
    """Re-check the signer's password, then sign the record's current content."""
    from hub.identity import service as identity
    from hub.identity.models import User

    user = session.get(User, signer_id)
    if user is None or not user.is_active:
        raise SignatureRejected("Signer account is not active")
    try:
        identity.check_password(session, settings, user, password)
    except InvalidCredentials as exc:
        rejected = SignatureRejected(
            "Password check failed; the record was not signed",
            errors=[{"pointer": "/password", "message": "incorrect password"}],
        )
        rejected.after_rollback = exc.after_rollback
        raise rejected from exc
    content = _load(session, entity_type, entity_id)
    sig = ESignature(
        id=new_id(), entity_type=entity_type, entity_id=entity_id,
        record_hash=record_hash(content), meaning=meaning.value, signer_id=user.id,
        signer_username=user.username, printed_name=user.full_name, signed_at=utcnow(),
        comment=comment, signature_hash="",
    )
    sig.signature_hash = _signature_hash(sig)
    session.add(sig)
    audit.append(session, entity_type=entity_type, entity_id=entity_id, action="sign",
                 new={"signature_id": sig.id, "meaning": sig.meaning,
                      "record_hash": sig.record_hash, "printed_name": sig.printed_name},
                 reason_text=comment or f"electronic signature ({meaning.value})",
                 actor=audit.Actor(id=user.id, name=user.username, org_id=user.organization_id))
    session.flush()
    return sig


@dataclass
class SignatureCheck:
    signature_id: str
    valid: bool
    problems: list[str]


def verify(session: Session, sig: ESignature) -> SignatureCheck:
    """A signature is valid while its own hash holds and the record still hashes the same."""
    problems = []
    if _signature_hash(sig) != sig.signature_hash:
        problems.append("signature manifestation was altered")
    try:
        current = record_hash(_load(session, sig.entity_type, sig.entity_id))
        if current != sig.record_hash:
            problems.append("the signed record has changed since it was signed")
    except NotFound:
        problems.append("the signed record no longer exists")
    return SignatureCheck(sig.id, not problems, problems)


def for_record(session: Session, entity_type: str, entity_id: str) -> Sequence[ESignature]:
    return session.exec(
        select(ESignature).where(ESignature.entity_type == entity_type,
                                 ESignature.entity_id == entity_id)
        .order_by(col(ESignature.signed_at))
    ).all()


def get(session: Session, sig_id: str) -> ESignature:
    sig = session.get(ESignature, sig_id)
    if sig is None:
        raise NotFound(f"Signature {sig_id} not found")
    return sig
