"""Qualification certificates: issue (signed JWT-VC), status lists, revocation, verification.

Certificates are signed with the hub's key store (``<data_dir>/keys``, JWKS at
``/.well-known/jwks.json``). Each carries a ``BitstringStatusListEntry`` pointing at a list
served at ``/certificates/status/{list_id}``; the list's bits are computed from the revoked
certificates, so a revocation is one audited update of one row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from hub.config import Settings
from hub.db import new_id, utcnow
from hub.errors import Conflict, NotFound, PermissionDenied
from hub.identity.models import User
from hub.identity.principal import Principal
from hub.keys import KeyStore, hub_key_store
from hub.qualifications import Holding
from training_portal import access
from training_portal.credentials import (
    AchievementInfo,
    AttemptEvidence,
    Holder,
    IssuerProfile,
    VerificationResult,
    add_months,
    build_credential,
    sign_vc,
    verify_credential,
)
from training_portal.models import (
    Attempt,
    Certificate,
    Course,
    CourseVersion,
    Enrollment,
    StatusListRecord,
)
from training_portal.schemas import CertificatePublic
from training_portal.status_list import (
    MIN_BITS,
    StatusList,
    allocate_index,
    build_status_list_credential,
    sign_status_list_credential,
    status_entry,
)

ISSUER_NAME = "fedhub consortium training"
STATUS_PATH = "/certificates/status/"
STATUS_LIST_VALIDITY = timedelta(days=1)
STATUS_LIST_TTL_MS = 5 * 60 * 1000
FULL_AT = 0.9  # start a new list when this share of entries is used (random picks stay cheap)


def keys(settings: Settings) -> KeyStore:
    """The hub's signing keys."""
    return hub_key_store(settings.data_dir)


def issuer(settings: Settings) -> IssuerProfile:
    return IssuerProfile(id=settings.public_url.rstrip("/"), name=ISSUER_NAME,
                         url=settings.public_url.rstrip("/"))


def verify_url(settings: Settings, certificate_id: str) -> str:
    return f"{settings.public_url.rstrip('/')}/certificates/{certificate_id}/verify"


def status_list_url(settings: Settings, list_id: str) -> str:
    return f"{settings.public_url.rstrip('/')}{STATUS_PATH}{list_id}"


def status_of(cert: Certificate, now: datetime) -> Literal["valid", "expired", "revoked"]:
    if cert.revoked_at is not None:
        return "revoked"
    return "valid" if cert.valid_from <= now < cert.valid_until else "expired"


# -- status lists -------------------------------------------------------------------------------
class _Taken:
    """Indices already used in one list, looked up in the database."""

    def __init__(self, session: Session, list_id: str) -> None:
        self.session, self.list_id = session, list_id

    def __contains__(self, index: object) -> bool:
        return self.session.exec(select(Certificate.id).where(
            Certificate.status_list_id == self.list_id,
            Certificate.status_index == index)).first() is not None


def _open_list(session: Session) -> StatusListRecord:
    """The newest status list with room; a new one when it is nearly full."""
    lists = session.exec(select(StatusListRecord).order_by(col(StatusListRecord.created_at)
                                                           .desc())).all()
    for lst in lists[:1]:
        used = session.exec(select(func.count()).select_from(Certificate)
                            .where(Certificate.status_list_id == lst.id)).one()
        if used < lst.size * FULL_AT:
            return lst
    row = StatusListRecord(id=f"r{len(lists) + 1}", size=MIN_BITS)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another issuer created it first
        found = session.get(StatusListRecord, row.id)
        assert found is not None
        return found
    return row


def revoked_bits(session: Session, lst: StatusListRecord) -> StatusList:
    bits = StatusList(lst.size)
    for index in session.exec(select(Certificate.status_index).where(
            Certificate.status_list_id == lst.id, col(Certificate.revoked_at).is_not(None))):
        bits.set(index)
    return bits


def status_list_token(session: Session, settings: Settings, list_id: str,
                      now: datetime | None = None) -> str:
    """The signed ``BitstringStatusListCredential`` (JWT-VC) of one list, as of now."""
    lst = session.get(StatusListRecord, list_id)
    if lst is None:
        raise NotFound(f"Status list {list_id} not found")
    now = now or utcnow()
    vc = build_status_list_credential(
        list_url=status_list_url(settings, lst.id), issuer=issuer(settings).to_json(),
        status_list=revoked_bits(session, lst), valid_from=now,
        valid_until=now + STATUS_LIST_VALIDITY, ttl_ms=STATUS_LIST_TTL_MS)
    return sign_status_list_credential(vc, keys(settings))


# -- issue ----------------------------------------------------------------------------------------
def issue(session: Session, settings: Settings, attempt: Attempt, enrollment: Enrollment,
          version: CourseVersion, course: Course, now: datetime) -> Certificate:
    """Sign and record the certificate for a passed attempt (one per attempt)."""
    user = session.get(User, attempt.user_id)
    assert user is not None and attempt.score is not None
    valid_until = add_months(now, version.validity_months)
    for _ in range(8):
        lst = _open_list(session)
        index = allocate_index(_Taken(session, lst.id), lst.size)
        cert_id = new_id()
        credential = build_credential(
            credential_id=f"urn:uuid:{cert_id}", issuer=issuer(settings),
            holder=Holder(name=user.full_name, id=f"urn:uuid:{user.id}", email=user.email),
            achievement=AchievementInfo(
                id=f"{settings.public_url.rstrip('/')}/training/qualifications/"
                   f"{course.qualification_id}",
                name=course.qualification_name, description=version.summary[:500],
                criteria=(f"Completed every module of the course \"{version.title}\" "
                          f"(version {version.version}) and passed its assessment with at "
                          f"least {version.pass_mark:.0%}."),
                version=version.version),
            evidence=AttemptEvidence(attempt_id=attempt.id, score=attempt.score,
                                     pass_mark=version.pass_mark, course_id=course.slug,
                                     course_version=version.version),
            valid_from=now, valid_until=valid_until,
            status=status_entry(status_list_url(settings, lst.id), index))
        store = keys(settings)
        cert = Certificate(
            id=cert_id, user_id=user.id, organization_id=enrollment.organization_id,
            site_id=enrollment.site_id, course_id=course.id, version_id=version.id,
            enrollment_id=enrollment.id, attempt_id=attempt.id,
            qualification_id=course.qualification_id,
            qualification_name=course.qualification_name, score=attempt.score, issued_at=now,
            valid_from=now, valid_until=valid_until, status_list_id=lst.id, status_index=index,
            key_id=store.active().kid, token=sign_vc(credential, store))
        try:
            with session.begin_nested():
                session.add(cert)
        except IntegrityError:  # the random status entry was taken concurrently: pick again
            existing = session.exec(select(Certificate)
                                    .where(Certificate.attempt_id == attempt.id)).first()
            if existing is not None:
                return existing
            continue
        _supersede(session, cert)
        return cert
    raise Conflict("Could not allocate a status list entry; try again")


def _supersede(session: Session, cert: Certificate) -> None:
    """Point the holder's earlier certificates for the qualification at the new one."""
    from hub.audit import service as audit

    earlier = session.exec(select(Certificate).where(
        Certificate.user_id == cert.user_id, Certificate.qualification_id == cert.qualification_id,
        Certificate.id != cert.id, col(Certificate.superseded_by).is_(None))).all()
    if earlier:
        with audit.reason(session, "refresher passed: superseded by a new certificate"):
            for old in earlier:
                old.superseded_by = cert.id
                session.add(old)


# -- views, revocation, verification --------------------------------------------------------------
def get_for(session: Session, who: Principal, certificate_id: str) -> Certificate:
    """A certificate the caller may see (holder or their organization's training admins)."""
    cert = session.get(Certificate, certificate_id)
    if cert is None:
        raise NotFound(f"Certificate {certificate_id} not found")
    access.ensure_sees_person(who, cert.user_id, cert.organization_id, "Certificate")
    return cert


def list_for(session: Session, who: Principal, *, user_id: str | None = None,
             organization_id: str | None = None) -> list[Certificate]:
    """The caller's certificates, or (training admins) their organization's."""
    stmt = select(Certificate).order_by(col(Certificate.issued_at).desc())
    if organization_id is not None or (user_id is not None and user_id != who.id):
        org = organization_id or who.org_id
        if not access.is_training_admin(who, org):
            raise PermissionDenied("Only your organization's training admins see its records")
        stmt = stmt.where(Certificate.organization_id == org)
        if user_id is not None:
            stmt = stmt.where(Certificate.user_id == user_id)
    else:
        stmt = stmt.where(Certificate.user_id == who.id)
    return list(session.exec(stmt).all())


def public(session: Session, settings: Settings, cert: Certificate,
           now: datetime | None = None) -> CertificatePublic:
    user = session.get(User, cert.user_id)
    course = session.get(Course, cert.course_id)
    version = session.get(CourseVersion, cert.version_id)
    assert user is not None and course is not None and version is not None
    return CertificatePublic(
        id=cert.id, credential_id=f"urn:uuid:{cert.id}", user_id=cert.user_id,
        holder_name=user.full_name, organization_id=cert.organization_id, site_id=cert.site_id,
        course_id=cert.course_id, course_slug=course.slug, course_version=version.version,
        qualification_id=cert.qualification_id, qualification_name=cert.qualification_name,
        score=cert.score, issued_at=cert.issued_at, valid_from=cert.valid_from,
        valid_until=cert.valid_until, status=status_of(cert, now or utcnow()),
        revoked_at=cert.revoked_at, revocation_reason=cert.revocation_reason,
        superseded_by=cert.superseded_by, verify_url=verify_url(settings, cert.id),
        status_list_url=status_list_url(settings, cert.status_list_id))


def revoke(session: Session, who: Principal, certificate_id: str, reason: str) -> Certificate:
    """Revoke (audited, with the reason): hub admins, the holder's organization's training
    admins, and the instructors who manage the course."""
    from hub.audit import service as audit

    cert = session.get(Certificate, certificate_id)
    if cert is None:
        raise NotFound(f"Certificate {certificate_id} not found")
    course = session.get(Course, cert.course_id)
    assert course is not None
    allowed = who.is_user and (who.is_hub_admin
                               or access.is_training_admin(who, cert.organization_id)
                               or access.can_manage_course(session, who, course))
    if not allowed:
        if access.can_see_person(who, cert.user_id, cert.organization_id):
            raise PermissionDenied("Revoking needs a hub admin, an organization training admin "
                                   "or the course's instructors")
        raise NotFound(f"Certificate {certificate_id} not found")
    if cert.revoked_at is not None:
        raise Conflict(f"Certificate {certificate_id} was already revoked")
    with audit.reason(session, reason):
        cert.revoked_at, cert.revoked_by, cert.revocation_reason = utcnow(), who.id, reason
        session.add(cert)
    return cert


def _local_fetcher(session: Session, settings: Settings, now: datetime) -> Any:
    prefix = status_list_url(settings, "")

    def fetch(url: str) -> str:
        if not url.startswith(prefix):  # the hub never fetches other issuers' lists (SSRF)
            raise ValueError(f"{url} is not one of this hub's status lists")
        return status_list_token(session, settings, url[len(prefix):], now)

    return fetch


def verify_token(session: Session, settings: Settings, token: str,
                 now: datetime | None = None) -> VerificationResult:
    """Verify any certificate JWT-VC against this hub's keys and status lists."""
    now = now or utcnow()
    return verify_credential(token, keys(settings).jwks(),
                             status_list_fetcher=_local_fetcher(session, settings, now), now=now)


def verify_by_id(session: Session, settings: Settings, certificate_id: str,
                 now: datetime | None = None) -> VerificationResult:
    """Verify a stored certificate as an outside party would (signature, dates, status)."""
    cert = session.get(Certificate, certificate_id)
    if cert is None:
        raise NotFound(f"Certificate {certificate_id} not found")
    return verify_token(session, settings, cert.token, now)


# -- the qualification checker the hub's gates call -----------------------------------------
def qualification_holding(session: Session, who: Principal, qualification: str,
                          as_of: datetime) -> Holding | None:
    """What the portal's certificates say about a person's qualification."""
    certs = session.exec(select(Certificate).where(
        Certificate.user_id == who.id, Certificate.qualification_id == qualification)
        .order_by(col(Certificate.valid_until).desc())).all()
    for cert in certs:
        if status_of(cert, as_of) == "valid":
            return Holding(qualification, True, f"valid until {cert.valid_until:%Y-%m-%d}",
                           cert.qualification_name, cert.valid_until, cert.id)
    course = session.exec(select(Course).where(Course.qualification_id == qualification)
                          .order_by(col(Course.created_at))).first()
    name = certs[0].qualification_name if certs else course.qualification_name if course else None
    take = f"; take the course {course.slug}" if course else ""
    if not certs:
        return Holding(qualification, False, "not held" + take, name)
    latest = certs[0]
    if latest.revoked_at is not None:
        detail = f"revoked on {latest.revoked_at:%Y-%m-%d}"
    elif latest.valid_from > as_of:
        detail = f"not valid before {latest.valid_from:%Y-%m-%d}"
    else:
        detail = f"expired on {latest.valid_until:%Y-%m-%d}; take the refresher" + (
            f" ({course.slug})" if course else "")
    return Holding(qualification, False, detail, name, latest.valid_until, latest.id)
