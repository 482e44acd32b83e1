"""Training API: courses, enrollment, modules, assessments, certificates, notices, records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, ValidationError
from sqlmodel import col, select

from hub.db import Database
from hub.deps import (
    CurrentPrincipal,
    CurrentUser,
    SessionDep,
    SettingsDep,
    get_principal,
    oauth2_scheme,
    require,
)
from hub.errors import HubError, NotFound, PermissionDenied, ValidationFailed, field_errors
from hub.identity.principal import Principal
from hub.qualifications import holding, register_checker
from hub.web.transaction import fail
from training_portal import access, certificates, flows, notices, records
from training_portal import enrollment as learning
from training_portal import service as courses
from training_portal.credentials import decode_unverified
from training_portal.models import Course
from training_portal.pdf import render_certificate_pdf
from training_portal.schemas import (
    AttachmentPublic,
    AttemptPublic,
    CertificatePublic,
    CourseCreate,
    CoursePublic,
    CourseUpdate,
    CourseVersionPublic,
    EnrollmentCreate,
    EnrollmentDetail,
    EnrollmentPublic,
    GradePublic,
    HistoryPublic,
    HoldingPublic,
    ModuleContent,
    NotificationPublic,
    QualificationPublic,
    ReminderRun,
    RevokeRequest,
    RoleCoverage,
    SubmitAnswers,
    TrainingRecordsPublic,
)

VC_JWT = "application/vc+jwt"
router = APIRouter(prefix="/training", tags=["training"])
burst = APIRouter()  # authenticates inside the route (see submit_attempt)
HubAdmin = Annotated[Principal, Depends(require("hub_admin"))]

register_checker(certificates.qualification_holding)  # the hub's gates ask the portal


# -- courses ----------------------------------------------------------------------------------
@router.get("/courses", response_model=list[CoursePublic])
def list_courses(who: CurrentPrincipal, session: SessionDep) -> list[CoursePublic]:
    """Courses you can take (current published version, modules; never the question bank)."""
    return courses.list_courses(session, who)


@router.post("/courses", response_model=CoursePublic, status_code=201)
def create_course(data: CourseCreate, who: CurrentPrincipal, session: SessionDep) -> CoursePublic:
    """Create a course (instructors); its first version is a draft until published."""
    course = courses.create_course(session, who, data)
    return courses.course_public(session, who, course, courses.draft_version(session, course.id))


@router.get("/courses/{course_ref}", response_model=CoursePublic)
def get_course(course_ref: str, who: CurrentPrincipal, session: SessionDep) -> CoursePublic:
    """One course (by id or slug) at its current published version."""
    course = courses.get_course(session, who, course_ref)
    version = courses.current_version(session, course.id)
    if version is None and access.can_manage_course(session, who, course):
        version = courses.draft_version(session, course.id)
    return courses.course_public(session, who, course, version)


@router.patch("/courses/{course_ref}", response_model=CourseVersionPublic)
def update_course(course_ref: str, data: CourseUpdate, who: CurrentPrincipal,
                  session: SessionDep) -> CourseVersionPublic:
    """Edit a course: a published version is never changed; edits go to a (new) draft version."""
    return courses.version_public(courses.update_course(session, who, course_ref, data))


@router.post("/courses/{course_ref}/publish", response_model=CourseVersionPublic)
def publish_course(course_ref: str, who: CurrentPrincipal,
                   session: SessionDep) -> CourseVersionPublic:
    """Publish the draft version; new enrollments get it, existing ones keep theirs."""
    return courses.version_public(courses.publish(session, who, course_ref))


def _managed(session: SessionDep, who: Principal, course_ref: str) -> Course:
    course = courses.get_course(session, who, course_ref)
    access.ensure_manager(session, who, course)
    return course


@router.get("/courses/{course_ref}/versions", response_model=list[CourseVersionPublic])
def list_versions(course_ref: str, who: CurrentPrincipal,
                  session: SessionDep) -> list[CourseVersionPublic]:
    """Every version of a course, newest first (the course's instructors)."""
    course = _managed(session, who, course_ref)
    return [courses.version_public(v) for v in courses.versions(session, course.id)]


@router.get("/courses/{course_ref}/questions")
def question_bank(course_ref: str, who: CurrentPrincipal, session: SessionDep,
                  version: Annotated[str | None, Query(max_length=20)] = None,
                  ) -> list[dict[str, Any]]:
    """The question bank with answers (the course's instructors only; default: the draft)."""
    course = _managed(session, who, course_ref)
    every = courses.versions(session, course.id)
    found = [v for v in every if v.version == version] if version else every[:1]
    if not found:
        raise NotFound(f"Version {version} of {course.slug} not found")
    return found[0].questions


@router.post("/modules/{module_id}/attachments", response_model=AttachmentPublic,
             status_code=201)
async def upload_attachment(module_id: str, who: CurrentPrincipal, session: SessionDep,
                            file: Annotated[UploadFile, File()]) -> AttachmentPublic:
    """Attach a file to a draft module (the course's instructors; at most 10 MiB)."""
    content = await file.read(courses.MAX_ATTACHMENT_BYTES + 1)
    row = courses.add_attachment(session, who, module_id, file.filename or "attachment",
                                 file.content_type or "application/octet-stream", content)
    return AttachmentPublic.model_validate(row)


@router.get("/attachments/{attachment_id}", response_class=Response, responses={200: {
    "description": "The file with the media type it was uploaded with",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}})
def download_attachment(attachment_id: str, who: CurrentPrincipal,
                        session: SessionDep) -> Response:
    """Download a module attachment."""
    row = courses.get_attachment(session, who, attachment_id)
    name = row.filename.replace('"', "")
    return Response(row.content, media_type=row.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- enrollment and learning -------------------------------------------------------------------
@router.post("/enrollments", response_model=EnrollmentPublic, status_code=201)
def enroll(data: EnrollmentCreate, _: CurrentUser, who: CurrentPrincipal, session: SessionDep,
           settings: SettingsDep) -> Any:
    """Enroll yourself, or assign a person of your organization (training admins)."""
    row, created = learning.enroll(session, settings, who, data)
    body = learning.enrollment_public(session, row)
    return body if created else JSONResponse(body.model_dump(mode="json"), status_code=200)


@router.get("/enrollments", response_model=list[EnrollmentPublic])
def list_enrollments(who: CurrentPrincipal, session: SessionDep,
                     user_id: Annotated[str | None, Query(max_length=36)] = None,
                     organization_id: Annotated[str | None, Query(max_length=36)] = None,
                     ) -> list[EnrollmentPublic]:
    """Your enrollments, or your organization's (training admins)."""
    rows = learning.list_enrollments(session, who, user_id=user_id,
                                     organization_id=organization_id)
    return [learning.enrollment_public(session, e) for e in rows]


@router.get("/enrollments/{enrollment_id}", response_model=EnrollmentDetail)
def get_enrollment(enrollment_id: str, who: CurrentPrincipal, session: SessionDep) -> Any:
    """An enrollment with module progress and attempts."""
    row = learning.get_enrollment(session, who, enrollment_id)
    return learning.enrollment_public(session, row, detail=True)


@router.get("/enrollments/{enrollment_id}/modules/{module_ref}", response_model=ModuleContent)
def read_module(enrollment_id: str, module_ref: str, who: CurrentPrincipal,
                session: SessionDep) -> ModuleContent:
    """A module's content (markdown) in the version you are enrolled in."""
    return learning.module_content(session, who, enrollment_id, module_ref)


@router.post("/enrollments/{enrollment_id}/modules/{module_ref}/complete",
             response_model=EnrollmentDetail)
def complete_module(enrollment_id: str, module_ref: str, who: CurrentPrincipal,
                    session: SessionDep) -> Any:
    """Mark a module as worked through (idempotent)."""
    learning.complete_module(session, who, enrollment_id, module_ref)
    row = learning.get_enrollment(session, who, enrollment_id)
    return learning.enrollment_public(session, row, detail=True)


@router.post("/enrollments/{enrollment_id}/attempts", response_model=AttemptPublic,
             status_code=201)
def start_attempt(enrollment_id: str, who: CurrentPrincipal, session: SessionDep) -> AttemptPublic:
    """Start an assessment attempt (or get the one in progress): questions without answers."""
    return learning.attempt_public(session, learning.start_attempt(session, who, enrollment_id))


@router.get("/attempts/{attempt_id}", response_model=AttemptPublic)
def get_attempt(attempt_id: str, who: CurrentPrincipal, session: SessionDep) -> AttemptPublic:
    """An attempt: answer-free questions while in progress; results once graded."""
    return learning.attempt_public(session, learning.get_attempt(session, who, attempt_id))


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _answers(body: bytes) -> SubmitAnswers:
    try:
        return SubmitAnswers.model_validate_json(body or b"{}")
    except ValidationError as exc:
        errs = field_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        raise ValidationFailed("Invalid fields: " + ", ".join(e["pointer"] for e in errs),
                               errors=errs) from exc


@burst.post("/training/attempts/{attempt_id}/submit", response_model=GradePublic,
            tags=["training"], openapi_extra={"requestBody": {"required": True, "content": {
                "application/json": {"schema": SubmitAnswers.model_json_schema()}}}})
def submit_attempt(attempt_id: str, request: Request, settings: SettingsDep,
                   token: Annotated[str | None, Depends(oauth2_scheme)],
                   body: Annotated[bytes, Depends(_raw_body)]) -> Any:
    """Submit answers for server-side grading; a retry gets the same grade back."""
    # Timed assessments end in bursts. The whole transaction (authentication included) runs
    # in this one worker thread, so the lock holder never waits for a thread behind the
    # requests queued on its lock (SQLite takes its write lock at BEGIN). The caller is
    # authenticated before the body is looked at.
    db: Database = request.app.state.db
    with db.session() as session:
        try:
            who = get_principal(request, session, settings, token)
            data = _answers(body)
            grade, replayed = flows.submit(session, settings, who, attempt_id, data.answers)
            session.commit()
        except HubError as exc:
            fail(session, exc)
            raise
        except BaseException:
            session.rollback()
            raise
    if replayed:
        return JSONResponse(grade.model_dump(mode="json"),
                            headers={"Idempotent-Replayed": "true"})
    return grade


@router.get("/history", response_model=HistoryPublic)
def history(who: CurrentPrincipal, session: SessionDep, settings: SettingsDep) -> HistoryPublic:
    """Your training history: every enrollment, attempt and certificate."""
    rows = learning.list_enrollments(session, who)
    details = [learning.enrollment_public(session, e, detail=True) for e in rows]
    return HistoryPublic(
        enrollments=[d for d in details if isinstance(d, EnrollmentDetail)],
        certificates=[certificates.public(session, settings, c)
                      for c in certificates.list_for(session, who)])


# -- certificates -----------------------------------------------------------------------------
@router.get("/certificates", response_model=list[CertificatePublic])
def list_certificates(who: CurrentPrincipal, session: SessionDep, settings: SettingsDep,
                      user_id: Annotated[str | None, Query(max_length=36)] = None,
                      organization_id: Annotated[str | None, Query(max_length=36)] = None,
                      ) -> list[CertificatePublic]:
    """Your certificates, or your organization's (training admins)."""
    rows = certificates.list_for(session, who, user_id=user_id, organization_id=organization_id)
    return [certificates.public(session, settings, c) for c in rows]


@router.get("/certificates/{certificate_id}", response_model=CertificatePublic)
def get_certificate(certificate_id: str, who: CurrentPrincipal, session: SessionDep,
                    settings: SettingsDep) -> CertificatePublic:
    """One certificate with its status and verification URL."""
    cert = certificates.get_for(session, who, certificate_id)
    return certificates.public(session, settings, cert)


@router.get("/certificates/{certificate_id}/credential",
            responses={200: {"content": {VC_JWT: {}}}})
def download_credential(certificate_id: str, who: CurrentPrincipal,
                        session: SessionDep) -> Response:
    """The signed credential (JWT-VC) to keep or hand to a verifier."""
    cert = certificates.get_for(session, who, certificate_id)
    return Response(cert.token, media_type=VC_JWT, headers={
        "Content-Disposition": f'attachment; filename="certificate-{cert.id}.jwt"'})


@router.get("/certificates/{certificate_id}/pdf",
            responses={200: {"content": {"application/pdf": {}}}})
def certificate_pdf(certificate_id: str, who: CurrentPrincipal, session: SessionDep,
                    settings: SettingsDep) -> Response:
    """A printable certificate whose QR code opens the verification URL."""
    cert = certificates.get_for(session, who, certificate_id)
    pdf = render_certificate_pdf(decode_unverified(cert.token),
                                 certificates.verify_url(settings, cert.id))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="certificate-{cert.id}.pdf"'})


@router.post("/certificates/{certificate_id}/revoke", response_model=CertificatePublic)
def revoke_certificate(certificate_id: str, data: RevokeRequest, _: CurrentUser,
                       who: CurrentPrincipal, session: SessionDep,
                       settings: SettingsDep) -> CertificatePublic:
    """Revoke a certificate, with the reason (audited); verification fails from now on."""
    cert = certificates.revoke(session, who, certificate_id, data.reason)
    return certificates.public(session, settings, cert)


@router.get("/me/qualifications", response_model=list[HoldingPublic])
def my_qualifications(who: CurrentPrincipal, session: SessionDep) -> list[HoldingPublic]:
    """Every qualification a course certifies, and whether you hold it validly now."""
    quals = sorted({c.qualification_id for c in courses.visible_courses(session, who)})
    out = []
    for q in quals:
        h = holding(session, who, q)
        out.append(HoldingPublic(qualification=q, name=h.name, valid=h.valid, detail=h.detail,
                                 valid_until=h.valid_until, certificate_id=h.certificate_id))
    return out


@router.get("/qualifications/{qualification_id}", response_model=QualificationPublic)
def qualification(qualification_id: str, who: CurrentPrincipal,
                  session: SessionDep) -> QualificationPublic:
    """What a qualification is (the achievement a certificate names) and its courses."""
    rows = [c for c in session.exec(select(Course).where(
        Course.qualification_id == qualification_id).order_by(col(Course.slug))).all()
        if access.course_visible(who, c)]  # another organization's own courses stay private
    if not rows:
        raise NotFound(f"Qualification {qualification_id} not found")
    return QualificationPublic(id=qualification_id, name=rows[0].qualification_name,
                               courses=[c.slug for c in rows if c.owner_org_id is None])


# -- notices and records -------------------------------------------------------------------------
@router.get("/notifications", response_model=list[NotificationPublic])
def list_notifications(who: CurrentPrincipal, session: SessionDep,
                       unread: bool = False) -> list[NotificationPublic]:
    """Your training notices (and your organization's, for training admins)."""
    return [NotificationPublic.model_validate(n)
            for n in notices.list_for(session, who, unread_only=unread)]


@router.post("/notifications/{notification_id}/read", response_model=NotificationPublic)
def read_notification(notification_id: str, who: CurrentPrincipal,
                      session: SessionDep) -> NotificationPublic:
    """Mark a notice as read."""
    return NotificationPublic.model_validate(notices.mark_read(session, who, notification_id))


@router.post("/reminders", response_model=ReminderRun)
def run_reminders(_: HubAdmin, session: SessionDep, settings: SettingsDep,
                  lead_days: Annotated[int | None, Query(ge=1, le=365)] = None) -> ReminderRun:
    """Create expiry notices now (hub admins; the same job as ``fedhub training remind``)."""
    days = lead_days or settings.training_reminder_days
    from hub.db import utcnow

    now = utcnow()
    return ReminderRun(created=flows.remind(session, settings, days, now), lead_days=days,
                       as_of=now)


@router.get("/records", response_model=TrainingRecordsPublic)
def training_records(who: CurrentPrincipal, session: SessionDep, settings: SettingsDep,
                     organization_id: Annotated[str | None, Query(max_length=36)] = None,
                     site_id: Annotated[str | None, Query(max_length=36)] = None,
                     as_of: AwareDatetime | None = None) -> TrainingRecordsPublic:
    """Training records (``training-record/1.0.0``) and coverage per role (training admins)."""
    org = organization_id or who.org_id
    if not access.is_training_admin(who, org):
        raise PermissionDenied("Training records are personal data: your organization's "
                               "training admins see them")
    report = records.training_coverage(session, org, site_id, as_of,
                                       settings.qualification_requirements)
    return TrainingRecordsPublic(
        organization_id=org, site_id=site_id, as_of=report.as_of, records=report.records,
        coverage=[RoleCoverage(role=c.role, qualification=c.qualification, required=c.required,
                               qualified=c.qualified, coverage=c.coverage)
                  for c in report.coverage], overall=report.overall)


def mount(app: FastAPI, authenticated: Sequence[Any]) -> None:
    """Mount the training API (authenticated), its public routes, trainee and instructor pages."""
    from training_portal.public import router as public
    from training_portal.teaching import router as teaching
    from training_portal.web import router as pages

    app.include_router(public)
    app.include_router(burst)
    app.include_router(router, dependencies=list(authenticated))
    app.include_router(pages)
    app.include_router(teaching)
