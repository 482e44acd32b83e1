"""Courses: create, version on edit, publish, attachments, seed; course views for trainees."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.db import utcnow
from hub.errors import Conflict, NotFound, PayloadTooLarge, PermissionDenied, ValidationFailed
from hub.identity.principal import Principal
from training_portal import access
from training_portal.grading import AnyQuestion, Question
from training_portal.models import Attachment, Course, CourseVersion, Module, VersionStatus
from training_portal.schemas import (
    AttachmentPublic,
    CourseCreate,
    CoursePublic,
    CourseUpdate,
    CourseVersionPublic,
    ModuleIn,
    ModuleSummary,
)
from training_portal.seeding import SEED_ACTOR, all_seed_rows, slugify

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
NULLABLE_RULES = frozenset({"attempt_limit", "time_limit_minutes"})  # null: no limit
_BANK = TypeAdapter(list[Question])


def bank_of(rows: Sequence[dict[str, Any]]) -> list[AnyQuestion]:
    """Questions (with answers: server side only) from their stored JSON."""
    return list(_BANK.validate_python(list(rows)))


def bank(version: CourseVersion) -> list[AnyQuestion]:
    """The version's question bank (with answers: server side only)."""
    return bank_of(version.questions)


def _semver(text: str) -> tuple[int, int, int]:
    major, minor, patch = (int(p) for p in text.split("."))
    return major, minor, patch


# -- lookups --------------------------------------------------------------------------------
def find_course(session: Session, ref: str) -> Course | None:
    """A course by id or slug."""
    found = session.get(Course, ref)
    return found or session.exec(select(Course).where(Course.slug == ref)).first()


def get_course(session: Session, who: Principal, ref: str) -> Course:
    """A course the caller may see; 404 otherwise."""
    course = find_course(session, ref)
    if course is None or not access.course_visible(who, course):
        raise NotFound(f"Course {ref} not found")
    return course


def versions(session: Session, course_id: str) -> list[CourseVersion]:
    """Every version of a course, newest first."""
    rows = session.exec(select(CourseVersion).where(CourseVersion.course_id == course_id)).all()
    return sorted(rows, key=lambda v: _semver(v.version), reverse=True)


def current_version(session: Session, course_id: str) -> CourseVersion | None:
    """The published version new enrollments get."""
    return next((v for v in versions(session, course_id)
                 if v.status == VersionStatus.published), None)


def draft_version(session: Session, course_id: str) -> CourseVersion | None:
    return next((v for v in versions(session, course_id) if v.status == VersionStatus.draft),
                None)


def modules_of(session: Session, version_id: str) -> list[Module]:
    return list(session.exec(select(Module).where(Module.version_id == version_id)
                             .order_by(col(Module.position))).all())


def attachments_of(session: Session, module_ids: Sequence[str]) -> dict[str, list[Attachment]]:
    out: dict[str, list[Attachment]] = {m: [] for m in module_ids}
    if module_ids:
        for a in session.exec(select(Attachment).where(col(Attachment.module_id).in_(module_ids))
                              .order_by(col(Attachment.created_at))):
            out[a.module_id].append(a)
    return out


def module_summaries(session: Session, modules: Sequence[Module]) -> list[ModuleSummary]:
    files = attachments_of(session, [m.id for m in modules])
    return [ModuleSummary(id=m.id, slug=m.slug, title=m.title, minutes=m.minutes,
                          position=m.position,
                          attachments=[AttachmentPublic.model_validate(a) for a in files[m.id]])
            for m in modules]


def course_public(session: Session, who: Principal, course: Course,
                  version: CourseVersion | None = None) -> CoursePublic:
    """The course at ``version`` (default: current published) without its question bank."""
    version = version or current_version(session, course.id)
    if version is None:
        raise NotFound(f"Course {course.slug} has no published version yet")
    modules = modules_of(session, version.id)
    draft = None
    if access.can_manage_course(session, who, course):
        found = draft_version(session, course.id)
        draft = found.version if found else None
    return CoursePublic(
        id=course.id, slug=course.slug, qualification_id=course.qualification_id,
        qualification_name=course.qualification_name, consortium=course.owner_org_id is None,
        owner_org_id=course.owner_org_id, version_id=version.id, version=version.version,
        title=version.title, summary=version.summary, validity_months=version.validity_months,
        pass_mark=version.pass_mark, attempt_limit=version.attempt_limit,
        time_limit_minutes=version.time_limit_minutes,
        questions_per_attempt=version.questions_per_attempt,
        total_minutes=sum(m.minutes for m in modules),
        modules=module_summaries(session, modules), draft_version=draft)


def version_public(version: CourseVersion) -> CourseVersionPublic:
    out = CourseVersionPublic.model_validate(version)
    out.question_count = len(version.questions)
    return out


def visible_courses(session: Session, who: Principal) -> list[Course]:
    """Courses the caller may see, by slug."""
    return [c for c in session.exec(select(Course).order_by(col(Course.slug)))
            if access.course_visible(who, c)]


def list_courses(session: Session, who: Principal) -> list[CoursePublic]:
    """Courses the caller can take (published), plus drafts-only courses they manage."""
    out = []
    for course in visible_courses(session, who):
        version = current_version(session, course.id)
        if version is None:
            version = draft_version(session, course.id)
            if version is None or not access.can_manage_course(session, who, course):
                continue
        out.append(course_public(session, who, course, version))
    return out


# -- authoring ------------------------------------------------------------------------------
def _add_modules(session: Session, version_id: str, modules: Sequence[ModuleIn]) -> None:
    for i, m in enumerate(modules, start=1):
        session.add(Module(version_id=version_id, position=i, slug=m.slug, title=m.title,
                           minutes=m.minutes, body=m.body))


def _check_bank(questions: list[dict[str, Any]], modules: Sequence[str], per_attempt: int) -> None:
    problems = []
    for i, q in enumerate(questions):
        if q.get("module") is not None and q["module"] not in modules:
            problems.append({"pointer": f"/questions/{i}/module",
                             "message": f"unknown module {q['module']!r}"})
    if per_attempt > len(questions):
        problems.append({"pointer": "/questions_per_attempt",
                         "message": f"exceeds the bank of {len(questions)} questions"})
    if problems:
        raise ValidationFailed("The course content is inconsistent", errors=problems)


def create_course(session: Session, who: Principal, data: CourseCreate) -> Course:
    """A new course with its first version as a draft (instructors)."""
    if not who.is_user or not (who.has("instructor") or who.is_hub_admin):
        raise PermissionDenied("Creating courses needs the instructor role")
    if data.consortium and not access.can_create_consortium_course(session, who):
        raise PermissionDenied("Consortium courses are created by hub administrators or the "
                               "operator's instructors")
    if not data.consortium and not who.has("instructor"):
        raise PermissionDenied("Organization courses are created by its instructors")
    if find_course(session, data.slug):
        raise Conflict(f"A course {data.slug!r} already exists",
                       errors=[{"pointer": "/slug", "message": "already exists"}])
    course = Course(slug=data.slug, qualification_id=data.qualification_id
                    or slugify(data.qualification_name),
                    qualification_name=data.qualification_name,
                    owner_org_id=None if data.consortium else who.org_id, created_by=who.id)
    session.add(course)
    session.flush()
    version = CourseVersion(
        course_id=course.id, version=data.version, title=data.title, summary=data.summary,
        validity_months=data.validity_months, pass_mark=data.pass_mark,
        attempt_limit=data.attempt_limit, time_limit_minutes=data.time_limit_minutes,
        questions_per_attempt=data.questions_per_attempt,
        questions=[q.model_dump(mode="json") for q in data.questions], created_by=who.id)
    session.add(version)
    session.flush()
    _add_modules(session, version.id, data.modules)
    session.flush()
    return course


def _new_draft(session: Session, who: Principal, course: Course, base: CourseVersion,
               number: str | None) -> CourseVersion:
    """Copy ``base`` (published) into a new draft version, modules and attachments included."""
    latest = versions(session, course.id)[0]
    major, minor, _ = _semver(latest.version)
    number = number or f"{major}.{minor + 1}.0"
    if _semver(number) <= _semver(latest.version):
        raise Conflict(f"Version {number} is not after {latest.version}",
                       errors=[{"pointer": "/version", "message": "must increase"}])
    fields = base.model_dump(exclude={"id", "version", "status", "created_by", "created_at",
                                      "published_by", "published_at"})
    draft = CourseVersion(**fields, version=number, created_by=who.id)
    session.add(draft)
    session.flush()
    old_modules = modules_of(session, base.id)
    files = attachments_of(session, [m.id for m in old_modules])
    for m in old_modules:
        copy = Module(version_id=draft.id, position=m.position, slug=m.slug, title=m.title,
                      minutes=m.minutes, body=m.body)
        session.add(copy)
        session.flush()
        for a in files[m.id]:
            session.add(Attachment(module_id=copy.id, filename=a.filename,
                                   media_type=a.media_type, size=a.size, sha256=a.sha256,
                                   content=a.content, created_by=a.created_by))
    session.flush()
    return draft


def _replace_modules(session: Session, version: CourseVersion, modules: Sequence[ModuleIn]) -> None:
    """Match modules by slug: update kept ones (attachments stay), drop removed, add new."""
    current = {m.slug: m for m in modules_of(session, version.id)}
    wanted = {m.slug for m in modules}
    for slug, old in current.items():
        if slug not in wanted:
            for a in attachments_of(session, [old.id])[old.id]:
                session.delete(a)
            session.delete(old)
    session.flush()
    for i, m in enumerate(modules, start=1):
        row = current.get(m.slug)
        if row is None:
            session.add(Module(version_id=version.id, position=i, slug=m.slug, title=m.title,
                               minutes=m.minutes, body=m.body))
        else:
            row.position, row.title, row.minutes, row.body = i, m.title, m.minutes, m.body
            session.add(row)


def update_course(session: Session, who: Principal, ref: str, data: CourseUpdate) -> CourseVersion:
    """Apply edits to the draft; editing a published course first makes a new draft version."""
    course = get_course(session, who, ref)
    access.ensure_manager(session, who, course)
    with audit.reason(session, data.reason):
        draft = draft_version(session, course.id)
        if draft is None:
            base = current_version(session, course.id)
            assert base is not None  # a course always has a draft or a published version
            draft = _new_draft(session, who, course, base, data.version)
        elif data.version and data.version != draft.version:
            others = [v for v in versions(session, course.id) if v.id != draft.id]
            if others and _semver(data.version) <= _semver(others[0].version):
                raise Conflict(f"Version {data.version} is not after {others[0].version}",
                               errors=[{"pointer": "/version", "message": "must increase"}])
            draft.version = data.version
        for name in ("title", "summary", "validity_months", "pass_mark", "attempt_limit",
                     "time_limit_minutes", "questions_per_attempt"):
            value = getattr(data, name)
            if value is not None or (name in NULLABLE_RULES and name in data.model_fields_set):
                setattr(draft, name, value)  # an explicit null lifts a limit
        if data.questions is not None:
            draft.questions = [q.model_dump(mode="json") for q in data.questions]
        if data.modules is not None:
            _replace_modules(session, draft, data.modules)
        session.add(draft)
        session.flush()
        _check_bank(draft.questions, [m.slug for m in modules_of(session, draft.id)],
                    draft.questions_per_attempt)
    return draft


def publish(session: Session, who: Principal, ref: str) -> CourseVersion:
    """Publish the draft: new enrollments get it; the previous version is superseded."""
    course = get_course(session, who, ref)
    access.ensure_manager(session, who, course)
    draft = draft_version(session, course.id)
    if draft is None:
        raise Conflict(f"Course {course.slug} has no draft to publish")
    _check_bank(draft.questions, [m.slug for m in modules_of(session, draft.id)],
                draft.questions_per_attempt)
    previous = current_version(session, course.id)
    with audit.reason(session, f"published version {draft.version}"):
        if previous is not None:
            previous.status = VersionStatus.superseded
            session.add(previous)
        draft.status, draft.published_by, draft.published_at = (
            VersionStatus.published, who.id, utcnow())
        session.add(draft)
    return draft


def add_attachment(session: Session, who: Principal, module_id: str, filename: str,
                   media_type: str, content: bytes) -> Attachment:
    """Attach a file to a module of a draft version (published content is frozen)."""
    module = session.get(Module, module_id)
    version = session.get(CourseVersion, module.version_id) if module else None
    course = session.get(Course, version.course_id) if version else None
    if module is None or version is None or course is None \
            or not access.course_visible(who, course):
        raise NotFound(f"Module {module_id} not found")
    access.ensure_manager(session, who, course)
    if version.status != VersionStatus.draft:
        raise Conflict("Published versions are frozen: edit the course to make a draft, then "
                       "attach the file to the draft's module")
    if not content:
        raise ValidationFailed("The file is empty", errors=[{"pointer": "/file",
                                                             "message": "empty"}])
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise PayloadTooLarge(f"Attachments are limited to {MAX_ATTACHMENT_BYTES} bytes")
    row = Attachment(module_id=module.id, filename=filename[:200] or "attachment",
                     media_type=media_type[:100] or "application/octet-stream",
                     size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                     content=content, created_by=who.id)
    session.add(row)
    session.flush()
    return row


def get_attachment(session: Session, who: Principal, attachment_id: str) -> Attachment:
    """An attachment of a course the caller can see."""
    row = session.get(Attachment, attachment_id)
    module = session.get(Module, row.module_id) if row else None
    version = session.get(CourseVersion, module.version_id) if module else None
    course = session.get(Course, version.course_id) if version else None
    if row is None or course is None or not access.course_visible(who, course):
        raise NotFound(f"Attachment {attachment_id} not found")
    return row


# -- seed -----------------------------------------------------------------------------------
def seed_courses(session: Session, now: datetime | None = None) -> list[str]:
    """Install seed courses and seed versions not yet in the database (idempotent, audited)."""
    added = []
    now = now or utcnow()
    if audit.get_actor(session) == audit.SYSTEM:
        audit.set_actor(session, audit.Actor(id=SEED_ACTOR, name="seed courses"))
    for seed in all_seed_rows(now):
        if session.get(CourseVersion, seed.version["id"]) is not None:
            continue
        course = session.get(Course, seed.course["id"])
        if course is None:
            session.add(Course(**seed.course))
            session.flush()
        previous = current_version(session, seed.course["id"])
        with audit.reason(session, f"seed course {seed.course['slug']} {seed.version['version']}"):
            if previous is not None:
                if _semver(previous.version) >= _semver(seed.version["version"]):
                    continue  # an instructor already published a later version
                previous.status = VersionStatus.superseded
                session.add(previous)
            session.add(CourseVersion(**seed.version))
            session.flush()
            for m in seed.modules:
                session.add(Module(**m))
        added.append(f"{seed.course['slug']} {seed.version['version']}")
    session.flush()
    return added
