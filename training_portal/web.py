"""Trainee pages: courses, modules, assessments, certificates (PDF and verification links)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlmodel import Session
from starlette.datastructures import FormData

from hub.deps import SettingsDep
from hub.errors import Conflict, ValidationFailed
from hub.qualifications import holding
from hub.web.auth import PageUser, WebUser
from hub.web.rendering import Area, add_template_dir, redirect, register_area, render
from hub.web.routing import page_router
from hub.web.transaction import PageSession, fail
from training_portal import certificates, flows, notices
from training_portal import enrollment as learning
from training_portal import service as courses
from training_portal.credentials import decode_unverified
from training_portal.models import AttemptStatus, EnrollmentStatus
from training_portal.pdf import render_certificate_pdf
from training_portal.schemas import EnrollmentCreate, EnrollmentDetail

router = page_router("/web/training")
add_template_dir(Path(__file__).parent / "templates")
register_area(Area("Training", "/web/training",
                   "Courses, assessments and your verifiable qualification certificates.",
                   order=40))
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(body: str, title: str | None = None) -> Markup:
    """Module markdown as HTML (raw HTML in the source is escaped, never passed through)."""
    if title:
        body = re.sub(rf"\A#\s+{re.escape(title)}\s*\n", "", body)
    return Markup(_md.render(body))  # noqa: S704 - markdown-it escapes raw HTML (html=False)


async def form_data(request: Request) -> FormData:
    """The posted form (already parsed and cached by the CSRF check)."""
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def _holdings(session: Session, who: WebUser) -> list[Any]:
    quals = sorted({c.qualification_id for c in courses.visible_courses(session, who.principal)})
    return [holding(session, who.principal, q) for q in quals]


@router.get("")
def index(request: Request, who: PageUser, session: PageSession) -> HTMLResponse:
    """Your courses and progress, the catalogue, your qualifications and notices."""
    mine = [learning.enrollment_public(session, e)
            for e in learning.list_enrollments(session, who.principal)]
    latest: dict[str, Any] = {}
    for e in mine:
        latest.setdefault(e.course_id, e)
    return render(request, "training/index.html", {
        "enrollments": list(latest.values()),
        "catalogue": courses.list_courses(session, who.principal),
        "holdings": _holdings(session, who),
        "notices": notices.list_for(session, who.principal, unread_only=True)[:10],
    })


@router.get("/courses/{course_ref}")
def course_page(course_ref: str, request: Request, who: PageUser,
                session: PageSession) -> HTMLResponse:
    """A course: what it certifies, its rules and modules; enroll from here."""
    course = courses.get_course(session, who.principal, course_ref)
    mine = learning.list_enrollments(session, who.principal)
    current = next((e for e in mine if e.course_id == course.id), None)
    return render(request, "training/course.html", {
        "course": courses.course_public(session, who.principal, course),
        "enrollment": learning.enrollment_public(session, current) if current else None,
    })


@router.post("/courses/{course_ref}/enroll")
def enroll(course_ref: str, request: Request, who: PageUser, session: PageSession,
           settings: SettingsDep) -> Response:
    """Enroll yourself and go to the first module."""
    try:
        row, created = learning.enroll(session, settings, who.principal,
                                       EnrollmentCreate(course_id=course_ref))
    except Conflict as exc:
        fail(session, exc)
        return redirect(request, f"/web/training/courses/{course_ref}", flash=exc.detail)
    return redirect(request, f"/web/training/enrollments/{row.id}",
                    flash="You are enrolled." if created else "You are already enrolled.")


@router.get("/enrollments/{enrollment_id}")
def enrollment_page(enrollment_id: str, request: Request, who: PageUser,
                    session: PageSession) -> HTMLResponse:
    """Module progress, attempts and the assessment."""
    row = learning.get_enrollment(session, who.principal, enrollment_id)
    detail = learning.enrollment_public(session, row, detail=True)
    assert isinstance(detail, EnrollmentDetail)
    course = courses.get_course(session, who.principal, row.course_id)
    version = courses.versions(session, course.id)
    rules = next(v for v in version if v.id == row.version_id)
    open_attempt = next((a for a in detail.attempts if a.status == AttemptStatus.in_progress),
                        None)
    return render(request, "training/enrollment.html", {
        "e": detail, "rules": rules, "open_attempt": open_attempt,
        "own": row.user_id == who.id,
        "ready": detail.modules_completed == detail.modules_total,
        "can_attempt": row.status == EnrollmentStatus.active and row.user_id == who.id,
    })


@router.get("/enrollments/{enrollment_id}/modules/{module_ref}")
def module_page(enrollment_id: str, module_ref: str, request: Request, who: PageUser,
                session: PageSession) -> HTMLResponse:
    """A module to study, with its attachments."""
    content = learning.module_content(session, who.principal, enrollment_id, module_ref)
    detail = learning.enrollment_public(
        session, learning.get_enrollment(session, who.principal, enrollment_id), detail=True)
    assert isinstance(detail, EnrollmentDetail)
    slugs = [m.slug for m in detail.modules]
    i = slugs.index(content.slug)
    return render(request, "training/module.html", {
        "e": detail, "m": content, "html": markdown(content.body, content.title),
        "prev": detail.modules[i - 1] if i > 0 else None,
        "next": detail.modules[i + 1] if i + 1 < len(slugs) else None,
        "own": detail.user_id == who.id,
    })


@router.post("/enrollments/{enrollment_id}/modules/{module_ref}/complete")
def complete_module(enrollment_id: str, module_ref: str, request: Request, who: PageUser,
                    session: PageSession) -> Response:
    """Mark the module done and move on to the next one (or back to the course)."""
    learning.complete_module(session, who.principal, enrollment_id, module_ref)
    detail = learning.enrollment_public(
        session, learning.get_enrollment(session, who.principal, enrollment_id), detail=True)
    assert isinstance(detail, EnrollmentDetail)
    todo = [m for m in detail.modules if m.completed_at is None]
    if todo:
        return redirect(request, f"/web/training/enrollments/{enrollment_id}/modules/"
                                 f"{todo[0].slug}", flash="Module completed.")
    return redirect(request, f"/web/training/enrollments/{enrollment_id}",
                    flash="Every module is completed: you can take the assessment.")


@router.post("/enrollments/{enrollment_id}/attempts")
def start_attempt(enrollment_id: str, request: Request, who: PageUser,
                  session: PageSession) -> Response:
    """Start (or resume) the assessment."""
    try:
        attempt = learning.start_attempt(session, who.principal, enrollment_id)
    except Conflict as exc:
        fail(session, exc)
        return redirect(request, f"/web/training/enrollments/{enrollment_id}", flash=exc.detail)
    return redirect(request, f"/web/training/attempts/{attempt.id}")


@router.get("/attempts/{attempt_id}")
def attempt_page(attempt_id: str, request: Request, who: PageUser,
                 session: PageSession) -> HTMLResponse:
    """The assessment form while in progress; the result once graded."""
    view = learning.attempt_public(session, learning.get_attempt(session, who.principal,
                                                                 attempt_id))
    return render(request, "training/attempt.html", {"a": view, "errors": {}})


def _answers(form: FormData, questions: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for q in questions:
        key = f"q-{q['id']}"
        if q["type"] == "multiple_choice":
            picked = [str(v) for v in form.getlist(key)]
            out[q["id"]] = picked or None
        else:
            value = form.get(key)
            out[q["id"]] = str(value).strip() if isinstance(value, str) and value.strip() else None
    return out


@router.post("/attempts/{attempt_id}")
def submit_attempt(attempt_id: str, request: Request, who: PageUser, session: PageSession,
                   settings: SettingsDep, form: Form) -> Response:
    """Submit the answers for grading (on the server) and show the result."""
    attempt = learning.get_attempt(session, who.principal, attempt_id)
    view = learning.attempt_public(session, attempt)
    answers = _answers(form, view.questions)
    try:
        grade, _ = flows.submit(session, settings, who.principal, attempt_id, answers)
    except (ValidationFailed, Conflict) as exc:
        fail(session, exc)
        return redirect(request, f"/web/training/attempts/{attempt_id}", flash=exc.detail)
    return redirect(request, f"/web/training/attempts/{attempt_id}",
                    flash=f"{grade.detail} Score {grade.score:.0%}.")


@router.get("/certificates")
def certificates_page(request: Request, who: PageUser, session: PageSession,
                      settings: SettingsDep) -> HTMLResponse:
    """Your certificates: status, PDF download, verification link and the signed credential."""
    rows = certificates.list_for(session, who.principal)
    return render(request, "training/certificates.html", {
        "certs": [certificates.public(session, settings, c) for c in rows]})


@router.get("/certificates/{certificate_id}.pdf")
def certificate_pdf(certificate_id: str, who: PageUser, session: PageSession,
                    settings: SettingsDep) -> Response:
    """The printable certificate (PDF) with its verification QR code."""
    cert = certificates.get_for(session, who.principal, certificate_id)
    pdf = render_certificate_pdf(decode_unverified(cert.token),
                                 certificates.verify_url(settings, cert.id))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="certificate-{cert.id}.pdf"'})


@router.get("/certificates/{certificate_id}.jwt")
def certificate_credential(certificate_id: str, who: PageUser, session: PageSession) -> Response:
    """The signed credential (JWT-VC) for offline verification."""
    cert = certificates.get_for(session, who.principal, certificate_id)
    return Response(cert.token, media_type="application/vc+jwt", headers={
        "Content-Disposition": f'attachment; filename="certificate-{cert.id}.jwt"'})


@router.get("/attachments/{attachment_id}")
def attachment(attachment_id: str, who: PageUser, session: PageSession) -> Response:
    """Download a module attachment."""
    row = courses.get_attachment(session, who.principal, attachment_id)
    name = row.filename.replace('"', "")
    return Response(row.content, media_type=row.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
