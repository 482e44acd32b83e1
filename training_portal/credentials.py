"""Qualification certificates as Open Badges 3.0 credentials (W3C VC 2.0), secured as JWT-VC.

Envelope (VC-JOSE-COSE, "Securing JSON-LD Verifiable Credentials with JOSE", the form Open
Badges 3.0 §8.2 uses): the JWS payload IS the credential JSON; there is no ``vc`` wrapper
claim. The protected header carries ``alg=EdDSA``, the signing key's ``kid`` (RFC 7638
thumbprint, resolvable in the hub's JWKS), ``typ=vc+jwt`` and ``cty=vc``. The registered JWT
claims ``iss``, ``sub``, ``jti``, ``nbf`` and ``exp`` sit next to the credential's members and
mirror ``issuer.id``, ``credentialSubject.id``, ``id``, ``validFrom`` and ``validUntil``;
verification rejects a token where they disagree.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from hub.keys import (
    KeyStore,
    KeyStoreError,
    b64url_decode,
    find_jwk,
    unverified_header,
    verify_jws,
)
from training_portal.status_list import (
    VC_V2_CONTEXT,
    StatusList,
    StatusListError,
    format_timestamp,
)

OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CREDENTIAL_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
JWT_TYP = "vc+jwt"
JWT_CTY = "vc"

# A caller-supplied way to obtain the status list credential (a JWT-VC string) at a URL.
StatusListFetcher = Callable[[str], str]


class IssuerProfile(BaseModel):
    """The issuing hub (an Open Badges ``Profile``)."""

    id: str
    name: str
    url: str | None = None
    email: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``issuer`` member."""
        out: dict[str, Any] = {"id": self.id, "type": ["Profile"], "name": self.name}
        if self.url:
            out["url"] = self.url
        if self.email:
            out["email"] = self.email
        return out


class Holder(BaseModel):
    """The qualified person: a name, an optional URI (``credentialSubject.id``), an email."""

    name: str = Field(min_length=1)
    id: str | None = None
    email: str | None = None
    salt: str = Field(default_factory=lambda: secrets.token_hex(8))  # for the email hash


class AchievementInfo(BaseModel):
    """The qualification a course certifies."""

    id: str
    name: str
    description: str
    criteria: str
    version: str | None = None


class AttemptEvidence(BaseModel):
    """The passing assessment attempt behind a certificate."""

    attempt_id: str
    score: float = Field(ge=0, le=1)
    pass_mark: float = Field(ge=0, le=1)
    course_id: str
    course_version: str


def add_months(dt: datetime, months: int) -> datetime:
    """``dt`` plus whole calendar months (day clamped to the month's end)."""
    years, month0 = divmod(dt.month - 1 + months, 12)
    year, month = dt.year + years, month0 + 1
    return dt.replace(year=year, month=month, day=min(dt.day, calendar.monthrange(year, month)[1]))


def parse_timestamp(text: str) -> datetime:
    """An aware datetime from an XML Schema ``dateTimeStamp`` (offset required)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return dt


def _identifiers(holder: Holder) -> list[dict[str, Any]]:
    ids: list[dict[str, Any]] = [{"type": "IdentityObject", "identityType": "name",
                                  "hashed": False, "identityHash": holder.name}]
    if holder.email:
        digest = hashlib.sha256((holder.email.strip().lower() + holder.salt).encode()).hexdigest()
        email_id: dict[str, Any] = {"type": "IdentityObject", "identityType": "emailAddress",
                                    "hashed": True, "identityHash": f"sha256${digest}"}
        if holder.salt:
            email_id["salt"] = holder.salt
        ids.append(email_id)
    return ids


def build_credential(
    *, credential_id: str, issuer: IssuerProfile, holder: Holder, achievement: AchievementInfo,
    evidence: AttemptEvidence, valid_from: datetime, valid_until: datetime,
    status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The unsecured ``OpenBadgeCredential`` for a passed assessment."""
    if valid_until <= valid_from:
        raise ValueError("validUntil must be after validFrom")
    subject: dict[str, Any] = {"type": ["AchievementSubject"]}
    if holder.id:
        subject["id"] = holder.id
    subject["identifier"] = _identifiers(holder)
    ach: dict[str, Any] = {
        "id": achievement.id, "type": ["Achievement"], "achievementType": "Certification",
        "name": achievement.name, "description": achievement.description,
        "criteria": {"narrative": achievement.criteria},
    }
    if achievement.version:
        ach["version"] = achievement.version
    subject["achievement"] = ach
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": list(CREDENTIAL_TYPES),
        "name": f"{achievement.name} — qualification certificate",
        "issuer": issuer.to_json(),
        "validFrom": format_timestamp(valid_from),
        "validUntil": format_timestamp(valid_until),
        "credentialSubject": subject,
        "evidence": [{
            "id": f"urn:uuid:{evidence.attempt_id}" if ":" not in evidence.attempt_id
            else evidence.attempt_id,
            "type": ["Evidence"],
            "name": "Assessment attempt",
            "genre": "Assessment",
            "narrative": (f"Scored {evidence.score:.0%} against a pass mark of "
                          f"{evidence.pass_mark:.0%} on course {evidence.course_id} "
                          f"version {evidence.course_version}."),
            "score": evidence.score, "passMark": evidence.pass_mark,
            "courseId": evidence.course_id, "courseVersion": evidence.course_version,
        }],
    }
    if status is not None:
        credential["credentialStatus"] = dict(status)
    return credential


def _issuer_id(credential: Mapping[str, Any]) -> Any:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def jwt_claims(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The registered JWT claims that mirror a credential's members."""
    claims: dict[str, Any] = {"iss": _issuer_id(credential), "jti": credential["id"],
                              "nbf": int(parse_timestamp(credential["validFrom"]).timestamp())}
    if "validUntil" in credential:
        claims["exp"] = int(parse_timestamp(credential["validUntil"]).timestamp())
    subject = credential.get("credentialSubject")
    if isinstance(subject, dict) and subject.get("id"):
        claims["sub"] = subject["id"]
    return claims


def sign_vc(credential: Mapping[str, Any], keys: KeyStore) -> str:
    """Secure a credential as a JWT-VC signed with the store's active key."""
    payload = {**credential, **jwt_claims(credential)}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return keys.sign_jws(body, typ=JWT_TYP, cty=JWT_CTY)


def decode_unverified(token: str) -> dict[str, Any]:
    """The JWT-VC payload without checking anything (display only)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    payload = json.loads(b64url_decode(parts[1]))
    if not isinstance(payload, dict):
        raise ValueError("payload is not a JSON object")
    return payload


# -- verification -----------------------------------------------------------------------------
CheckName = Literal["kid_known", "signature", "well_formed", "not_before", "not_expired",
                    "status"]


class Check(BaseModel):
    """One named verification step."""

    name: CheckName
    outcome: Literal["pass", "fail", "skip"]
    message: str

    @property
    def passed(self) -> bool:
        """True when the step passed (a skipped step is not a pass)."""
        return self.outcome == "pass"


class VerificationResult(BaseModel):
    """Overall validity (no step failed, signature checked) and each step's outcome."""

    valid: bool
    checks: list[Check]
    credential: dict[str, Any] | None = None

    def check(self, name: CheckName) -> Check:
        """The step with this name."""
        return next(c for c in self.checks if c.name == name)


def credential_problems(header: Mapping[str, Any], payload: Mapping[str, Any]) -> list[str]:
    """What makes a JWT-VC payload not a well-formed certificate (empty when fine)."""
    problems: list[str] = []
    if header.get("typ") != JWT_TYP:
        problems.append(f"header typ is {header.get('typ')!r}, expected {JWT_TYP!r}")
    ctx = payload.get("@context")
    if not isinstance(ctx, list) or not ctx or ctx[0] != VC_V2_CONTEXT or OB_CONTEXT not in ctx:
        problems.append("@context must start with the VC 2.0 context and include OB 3.0")
    types = payload.get("type")
    if not isinstance(types, list) or not set(CREDENTIAL_TYPES) <= set(types):
        problems.append(f"type must include {CREDENTIAL_TYPES}")
    if not isinstance(payload.get("id"), str):
        problems.append("id is missing")
    if not isinstance(_issuer_id(payload), str):
        problems.append("issuer id is missing")
    for field in ("validFrom", "validUntil"):
        try:
            parse_timestamp(str(payload[field]))
        except (KeyError, ValueError):
            problems.append(f"{field} is missing or not a date-time with a time zone")
    subject = payload.get("credentialSubject")
    if not isinstance(subject, dict):
        problems.append("credentialSubject is missing")
    else:
        if not subject.get("id") and not subject.get("identifier"):
            problems.append("credentialSubject needs an id or an identifier")
        ach = subject.get("achievement")
        if not isinstance(ach, dict) or not all(ach.get(k) for k in ("id", "name", "criteria")):
            problems.append("credentialSubject.achievement needs id, name and criteria")
    status = payload.get("credentialStatus")
    for entry in status if isinstance(status, list) else [status] if status else []:
        if (not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry"
                or not str(entry.get("statusListIndex", "")).isdigit()
                or not isinstance(entry.get("statusListCredential"), str)):
            problems.append("credentialStatus must be BitstringStatusListEntry objects")
    if not problems:
        expected = jwt_claims(payload)
        for claim, value in expected.items():
            if payload.get(claim) != value:
                problems.append(f"JWT claim {claim} ({payload.get(claim)!r}) does not mirror "
                                f"the credential ({value!r})")
    return problems


def _status_entries(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    status = payload.get("credentialStatus")
    entries = status if isinstance(status, list) else [status] if status else []
    return [e for e in entries if isinstance(e, dict)]


def check_status(
    payload: Mapping[str, Any], jwks: Mapping[str, Any], fetcher: StatusListFetcher, now: datetime
) -> Check:
    """Look each status entry up in its (verified) status list credential."""
    entries = _status_entries(payload)
    if not entries:
        return Check(name="status", outcome="pass", message="no status entry: not revocable")
    for entry in entries:
        url, index = entry["statusListCredential"], int(entry["statusListIndex"])
        purpose = entry.get("statusPurpose")
        try:
            _, raw = verify_jws(fetcher(url), jwks)
            lst_vc = json.loads(raw)
            problem = _status_list_problem(lst_vc, url, _issuer_id(payload), purpose, now)
            if problem:
                return Check(name="status", outcome="fail", message=problem)
            bits = StatusList.decode(lst_vc["credentialSubject"]["encodedList"])
            if bits.get(index):
                state = "revoked" if purpose == "revocation" else "suspended"
                return Check(name="status", outcome="fail",
                             message=f"credential is {state} (entry {index} of {url})")
        except (KeyStoreError, StatusListError, ValueError, KeyError, TypeError) as exc:
            return Check(name="status", outcome="fail", message=f"status list unusable: {exc}")
        except Exception as exc:  # the fetcher's own failure (network, missing list)
            return Check(name="status", outcome="fail",
                         message=f"could not obtain status list {url}: {exc}")
    return Check(name="status", outcome="pass", message="not revoked")


def _status_list_problem(
    vc: Any, url: str, issuer: Any, purpose: Any, now: datetime
) -> str | None:
    if not isinstance(vc, dict) or "BitstringStatusListCredential" not in vc.get("type", []):
        return "status list is not a BitstringStatusListCredential"
    if vc.get("id") != url:
        return f"status list id {vc.get('id')!r} is not {url!r}"
    if _issuer_id(vc) != issuer:
        return "status list has a different issuer than the credential"
    if vc["credentialSubject"].get("statusPurpose") != purpose:
        return f"status list purpose is not {purpose!r}"
    if "validUntil" in vc and parse_timestamp(vc["validUntil"]) < now:
        return "status list credential has expired"
    if "validFrom" in vc and parse_timestamp(vc["validFrom"]) > now:
        return "status list credential is not yet valid"
    return None


def verify_credential(
    token: str, jwks: Mapping[str, Any], *, status_list_fetcher: StatusListFetcher | None = None,
    now: datetime | None = None, leeway_seconds: int = 60,
) -> VerificationResult:
    """Verify a certificate JWT-VC offline against a JWKS (and optionally its status list)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    checks: list[Check] = []

    def skip(*names: CheckName, why: str) -> None:
        checks.extend(Check(name=n, outcome="skip", message=why) for n in names)

    try:
        kid = unverified_header(token).get("kid")
        kid_problem = None if find_jwk(jwks, kid) else f"key {kid!r} is not in the JWKS"
    except KeyStoreError as exc:
        kid_problem = str(exc)
    if kid_problem:
        checks.append(Check(name="kid_known", outcome="fail", message=kid_problem))
        skip("signature", why="no key to check the signature with")
    else:
        checks.append(Check(name="kid_known", outcome="pass", message=f"key {kid}"))
        try:
            header, raw = verify_jws(token, jwks)
            checks.append(Check(name="signature", outcome="pass",
                                message="EdDSA signature verifies"))
        except KeyStoreError as exc:
            checks.append(Check(name="signature", outcome="fail", message=str(exc)))
    if not all(c.passed for c in checks):
        skip("well_formed", "not_before", "not_expired", "status",
             why="not checked: the signature was not verified")
        return VerificationResult(valid=False, checks=checks)
    try:
        payload = json.loads(raw)
        problems = credential_problems(header, payload) if isinstance(payload, dict) else [
            "payload is not a JSON object"]
    except ValueError as exc:
        payload, problems = None, [f"payload is not JSON: {exc}"]
    if problems or not isinstance(payload, dict):
        checks.append(Check(name="well_formed", outcome="fail", message="; ".join(problems)))
        skip("not_before", "not_expired", "status", why="not checked: malformed payload")
        return VerificationResult(valid=False, checks=checks)
    checks.append(Check(name="well_formed", outcome="pass", message="OpenBadgeCredential"))
    valid_from = parse_timestamp(payload["validFrom"])
    valid_until = parse_timestamp(payload["validUntil"])
    lee = leeway_seconds
    early = (valid_from - now).total_seconds() > lee
    late = (now - valid_until).total_seconds() > lee
    checks.append(Check(name="not_before", outcome="fail" if early else "pass",
                        message=f"valid from {payload['validFrom']}"))
    checks.append(Check(name="not_expired", outcome="fail" if late else "pass",
                        message=f"{'expired' if late else 'valid until'} {payload['validUntil']}"))
    if status_list_fetcher is None:
        skip("status", why="revocation status not checked: no status list supplied")
    else:
        checks.append(check_status(payload, jwks, status_list_fetcher, now))
    return VerificationResult(valid=all(c.outcome != "fail" for c in checks), checks=checks,
                              credential=payload)
