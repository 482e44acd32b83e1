"""Instructor pages: author courses (modules, attachments, question bank), publish, versions.

Every change goes through ``training_portal.service`` exactly as the API's does (``CourseCreate``
/ ``CourseUpdate``, ``update_course``, ``add_attachment``, ``publish``): the pages only turn
forms into those shapes and map the errors' locations back onto the form fields. Edits apply
to the draft version; an edit of a published course first makes a new draft version.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile

from hub.errors import Conflict, HubError, NotFound, PayloadTooLarge
from hub.web.auth import WebUser, require_page_role
from hub.web.rendering import FORM_ERRORS, Area, redirect, register_area, render
from hub.web.routing import page_router
from hub.web.transaction import PageSession, fail
from training_portal import access
from training_portal import service as courses
from training_portal.models import Course, CourseVersion, Module, VersionStatus
from training_portal.schemas import CourseCreate, CourseUpdate
from training_portal.seeding import slugify
from training_portal.web import Form, markdown

router = page_router("/web/teaching")
register_area(Area("Teaching", "/web/teaching",
                   "Author your courses: modules, attachments, the question bank, publishing "
                   "and versions.", roles=("instructor",), order=41))
Instructor = Annotated[WebUser, Depends(require_page_role("instructor"))]

QUESTION_TYPES = [("single_choice", "Single choice (one correct option)"),
                  ("multiple_choice", "Multiple choice (select all that apply)"),
                  ("numeric", "Numeric answer within a tolerance")]
MIN_OPTION_ROWS = 5
MAX_OPTION_ROWS = 26
COURSE_FIELDS = ("slug", "title", "summary", "qualification_name", "qualification_id",
                 "version", "consortium", "validity_months", "pass_mark", "attempt_limit",
                 "time_limit_minutes", "questions_per_attempt", "reason")
MODULE_FIELDS = ("slug", "title", "minutes", "body")
QUESTION_FIELDS = ("prompt", "qtype", "options", "correct", "value", "tolerance", "unit",
                   "module", "points", "explanation")
_QUESTION_KEYS = {"answer": "correct", "type": "qtype"}
Errors = dict[str, str]
Values = dict[str, Any]


# -- reading forms ------------------------------------------------------------------------------
def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _body(form: FormData, name: str) -> str:
    """A markdown body: kept as typed (line ends normalised), only the ends trimmed."""
    value = form.get(name)
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""


def _optional(out: dict[str, Any], key: str, value: str, *, none_if_blank: bool = False) -> None:
    """Blank: leave the key out (the schema's default or "unchanged"), or send null."""
    if value:
        out[key] = value
    elif none_if_blank:
        out[key] = None


def _percent(value: str) -> Any:
    """The pass mark is typed in percent; the schema keeps a share (0–1)."""
    try:
        return float(value) / 100
    except ValueError:
        return value  # the schema names it: "Input should be a valid number"


def _slug_from(explicit: str, title: str) -> str:
    if explicit:
        return explicit
    try:
        return slugify(title) if title else ""
    except ValueError:
        return ""


def _rules(form: FormData, *, update: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("title", "summary", "version", "validity_months", "questions_per_attempt"):
        _optional(out, name, _text(form, name))
    for name in ("attempt_limit", "time_limit_minutes"):
        _optional(out, name, _text(form, name), none_if_blank=update)
    if _text(form, "pass_mark"):
        out["pass_mark"] = _percent(_text(form, "pass_mark"))
    return out


def _option_id(i: int) -> str:
    return string.ascii_lowercase[i] if i < len(string.ascii_lowercase) else f"o{i + 1}"


def _option_rows(form: FormData) -> int:
    n = 0
    while n < MAX_OPTION_ROWS and f"option-{n + 1}" in form:
        n += 1
    return n


def _question(form: FormData, qid: str) -> dict[str, Any]:
    """The question bank entry a question form describes (validated by the schema)."""
    kind = _text(form, "qtype")
    q: dict[str, Any] = {"id": qid, "type": kind, "prompt": _body(form, "prompt"),
                         "module": _text(form, "module") or None,
                         "explanation": _body(form, "explanation") or None}
    _optional(q, "points", _text(form, "points"))
    if kind in ("single_choice", "multiple_choice"):
        marked = {str(v) for v in form.getlist("correct")}
        options: list[dict[str, str]] = []
        correct: list[str] = []
        for row in range(1, _option_rows(form) + 1):
            text = _text(form, f"option-{row}")
            if not text:
                continue
            oid = _option_id(len(options))
            options.append({"id": oid, "text": text})
            if str(row) in marked:
                correct.append(oid)
        q["options"] = options
        if kind == "multiple_choice":
            q["answer"] = correct
        elif len(correct) == 1:
            q["answer"] = correct[0]
    elif kind == "numeric":
        q["value"] = _text(form, "value")
        q["tolerance"] = _text(form, "tolerance") or "0"
        q["unit"] = _text(form, "unit")
    return q


def question_form(q: dict[str, Any] | None) -> Values:
    """Form values for a stored question (or a blank one)."""
    if q is None:
        return {"qtype": "single_choice", "points": "1", "options": ["", "", "", ""],
                "correct": []}
    options = [o["text"] for o in q.get("options", [])]
    answer = q.get("answer")
    chosen = set(answer) if isinstance(answer, list) else {answer}
    return {"prompt": q["prompt"], "qtype": q["type"], "module": q.get("module") or "",
            "points": str(q.get("points", 1)), "explanation": q.get("explanation") or "",
            "options": options,
            "correct": [str(i) for i, o in enumerate(q.get("options", []), start=1)
                        if o["id"] in chosen],
            "value": _number(q.get("value")), "tolerance": _number(q.get("tolerance")),
            "unit": q.get("unit", "")}


def _posted_question_form(form: FormData) -> Values:
    out: Values = {name: _text(form, name) for name in ("qtype", "module", "points", "value",
                                                       "tolerance", "unit")}
    out["prompt"], out["explanation"] = _body(form, "prompt"), _body(form, "explanation")
    out["options"] = [_text(form, f"option-{i}") for i in range(1, _option_rows(form) + 1)]
    out["correct"] = [str(v) for v in form.getlist("correct")]
    return out


def _number(value: Any) -> str:
    if value is None:
        return ""
    return f"{float(value):g}"


def _module_in(m: Module) -> dict[str, Any]:
    return {"slug": m.slug, "title": m.title, "minutes": m.minutes, "body": m.body}


def rules_form(v: CourseVersion) -> Values:
    return {"title": v.title, "summary": v.summary, "version": v.version,
            "validity_months": str(v.validity_months), "pass_mark": f"{v.pass_mark * 100:g}",
            "attempt_limit": "" if v.attempt_limit is None else str(v.attempt_limit),
            "time_limit_minutes": "" if v.time_limit_minutes is None
            else str(v.time_limit_minutes),
            "questions_per_attempt": str(v.questions_per_attempt)}


# -- errors onto fields -------------------------------------------------------------------------
Locate = Callable[[list[str], str], str | None]


def _problems(exc: HubError | ValidationError) -> Iterable[tuple[list[str], str, str]]:
    """(location parts, error type, message) for each problem the error names."""
    if isinstance(exc, ValidationError):
        for e in exc.errors():
            yield [str(p) for p in e["loc"]], str(e["type"]), str(e["msg"])
        return
    if not exc.errors:
        yield [], "", exc.detail
    for item in exc.errors or []:
        parts = [p for p in str(item.get("pointer", "")).strip("/").split("/") if p]
        message = str(item.get("message", ""))
        if isinstance(exc, Conflict):  # "already exists": the detail names what
            message = exc.detail
        yield parts, str(item.get("type") or ""), message


def _friendly(field: str, kind: str, message: str, form: Values) -> str:
    message = message.removeprefix("Value error, ")
    if message.startswith("question ") and ": " in message:
        message = message.split(": ", 1)[1]
    if kind == "string_pattern_mismatch":
        if field.endswith("slug") or field == "qualification_id":
            return "Use lower-case letters, digits and single hyphens, e.g. gowning-basics"
        if field == "version":
            return "Use three numbers, e.g. 1.1.0"
    if field == "pass_mark" and kind in ("greater_than", "less_than_equal"):
        return "Enter a percentage above 0 and at most 100"
    if field == "correct":
        if form.get("qtype") == "multiple_choice":
            return "Mark at least one option as correct"
        return "Mark exactly one option as correct"
    if field == "options" and kind == "too_short":
        return "Give at least two options"
    if field == "qtype":
        return "Choose the question type"
    if field == "questions_per_attempt":
        message = message.replace("questions_per_attempt", "the draw size")
    if kind == "missing":
        return "Enter a value"
    if message.startswith("unknown module"):
        message += ": the question examines it; choose another module for the question first"
    return message[:1].upper() + message[1:]


def field_errors(exc: HubError | ValidationError, locate: Locate, form: Values,
                 bank: Sequence[dict[str, Any]] = ()) -> Errors:
    """Field name → message; problems no field of the form can show go under ``_`` (a
    problem with a question of ``bank`` is named by the question's id)."""
    out: Errors = {}
    for parts, kind, message in _problems(exc):
        field = locate(parts, message) or "_"
        text = _friendly(field, kind, message, form)
        if field == "_" and parts[:1] == ["questions"] and len(parts) > 1 \
                and parts[1].isdigit() and int(parts[1]) < len(bank):
            text = f"Question {bank[int(parts[1])]['id']}: {text}"
        elif field == "_" and parts:
            text = f"{' › '.join(parts)}: {text}"
        out[field] = f"{out[field]}; {text}" if field in out and out[field] != text else text
    return out


def _course_field(parts: list[str], message: str) -> str | None:
    if parts and parts[0] in COURSE_FIELDS:
        return parts[0]
    if not parts and "questions_per_attempt" in message:
        return "questions_per_attempt"
    return None


def _module_field(index: int, prefix: str = "") -> Locate:
    def locate(parts: list[str], message: str) -> str | None:
        if parts[:2] == ["modules", str(index)] and len(parts) > 2 \
                and parts[2] in MODULE_FIELDS:
            return prefix + parts[2]
        if parts == ["modules"] or "module slugs" in message:
            return prefix + "slug" if "module slugs" in message else None
        return None
    return locate


def _question_field(index: int) -> Locate:
    tags = {t for t, _ in QUESTION_TYPES}

    def locate(parts: list[str], message: str) -> str | None:
        if parts[:2] != ["questions", str(index)]:
            return None
        rest = parts[2:]
        if rest and rest[0] in tags:
            rest = rest[1:]
        elif len(parts) == 2:
            return "qtype"
        if not rest:  # the question's own checks
            if "answer" in message or "correct" in message:
                return "correct"
            if "option" in message:
                return "options"
            return "value" if "value" in message else "prompt"
        name = _QUESTION_KEYS.get(rest[0], rest[0])
        return name if name in QUESTION_FIELDS else None
    return locate


def _both(*locators: Locate) -> Locate:
    def locate(parts: list[str], message: str) -> str | None:
        return next((f for f in (loc(parts, message) for loc in locators) if f), None)
    return locate


# -- lookups ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CourseRow:
    course: Course
    latest: CourseVersion
    published: CourseVersion | None
    draft: CourseVersion | None


def managed(session: Session, who: WebUser, ref: str) -> Course:
    """A course the instructor manages: 404 if not visible to them, 403 if not theirs."""
    course = courses.get_course(session, who.principal, ref)
    access.ensure_manager(session, who.principal, course)
    return course


def working(session: Session, course: Course) -> CourseVersion:
    """The draft if there is one, else the published version."""
    found = courses.draft_version(session, course.id) or courses.current_version(session,
                                                                                 course.id)
    assert found is not None  # a course always has a draft or a published version
    return found


def _module(session: Session, version: CourseVersion, slug: str) -> tuple[int, list[Module]]:
    modules = courses.modules_of(session, version.id)
    for i, m in enumerate(modules):
        if m.slug == slug:
            return i, modules
    raise NotFound(f"Module {slug} not found in version {version.version}")


def _question_index(version: CourseVersion, qid: str) -> int:
    for i, q in enumerate(version.questions):
        if q["id"] == qid:
            return i
    raise NotFound(f"Question {qid} not found in version {version.version}")


def _new_question_id(version: CourseVersion) -> str:
    taken = {q["id"] for q in version.questions}
    n = len(taken) + 1
    while f"q{n}" in taken:
        n += 1
    return f"q{n}"


def _update(session: Session, who: WebUser, course: Course, **changes: Any) -> str:
    """Apply ``changes`` through the service; returns a note when a new draft was started."""
    had_draft = courses.draft_version(session, course.id) is not None
    draft = courses.update_course(session, who.principal, course.id,
                                  CourseUpdate.model_validate(changes))
    return "" if had_draft else f" Draft version {draft.version} started."


# -- the list and a new course -----------------------------------------------------------------
@router.get("")
def index(request: Request, who: Instructor, session: PageSession) -> HTMLResponse:
    """The courses you manage, with their published and draft versions."""
    rows = []
    for course in courses.visible_courses(session, who.principal):
        if not access.can_manage_course(session, who.principal, course):
            continue
        every = courses.versions(session, course.id)
        rows.append(CourseRow(
            course, every[0],
            next((v for v in every if v.status == VersionStatus.published), None),
            next((v for v in every if v.status == VersionStatus.draft), None)))
    return render(request, "teaching/index.html", {"rows": rows})


def _new_page(request: Request, session: Session, who: WebUser, form: Values,
              errors: Errors | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "teaching/new.html", {
        "form": form, "errors": errors or {}, "types": QUESTION_TYPES,
        "option_rows": max(MIN_OPTION_ROWS, len(form.get("options", [])) + 1),
        "can_consortium": access.can_create_consortium_course(session, who.principal),
    }, status_code)


@router.get("/new-course")
def new_course(request: Request, who: Instructor, session: PageSession) -> HTMLResponse:
    """Create a course: what it certifies, its rules, the first module and first question."""
    form = {"version": "1.0.0", "validity_months": "24", "pass_mark": "80",
            "attempt_limit": "3", "questions_per_attempt": "1", "module_minutes": "30",
            **question_form(None)}
    return _new_page(request, session, who, form)


@router.post("/courses")
def create_course(request: Request, who: Instructor, session: PageSession,
                  posted: Form) -> Response:
    """Create the course as draft version 1.0.0 (or the version typed)."""
    form: Values = {name: _text(posted, name) for name in COURSE_FIELDS}
    form.update(module_title=_text(posted, "module_title"),
                module_slug=_text(posted, "module_slug"),
                module_minutes=_text(posted, "module_minutes"),
                module_body=_body(posted, "module_body"), summary=_body(posted, "summary"),
                consortium="consortium" in posted, **_posted_question_form(posted))
    data: dict[str, Any] = {
        "slug": _slug_from(form["slug"], form["title"]), "summary": form["summary"],
        "title": form["title"], "qualification_name": form["qualification_name"],
        "consortium": form["consortium"], **_rules(posted, update=False)}
    _optional(data, "qualification_id", form["qualification_id"])
    module: dict[str, Any] = {"slug": _slug_from(form["module_slug"], form["module_title"]),
                              "title": form["module_title"], "body": form["module_body"]}
    _optional(module, "minutes", form["module_minutes"])
    data["modules"] = [module]
    data["questions"] = [_question(posted, "q1")]
    try:
        course = courses.create_course(session, who.principal, CourseCreate.model_validate(data))
    except FORM_ERRORS as exc:
        fail(session, exc)
        locate = _both(_course_field, _module_field(0, "module_"), _question_field(0))
        return _new_page(request, session, who, form, field_errors(exc, locate, form), 422)
    return redirect(request, f"/web/teaching/courses/{course.slug}",
                    flash=f"Course {form['title']} created as a draft. Add modules and "
                          "questions, then publish it.")


# -- a course -----------------------------------------------------------------------------------
def course_page(request: Request, session: Session, who: WebUser, course: Course,
                errors: Errors | None = None, form: Values | None = None,
                status_code: int = 200) -> HTMLResponse:
    version = working(session, course)
    every = courses.versions(session, course.id)
    modules = courses.module_summaries(session, courses.modules_of(session, version.id))
    return render(request, "teaching/course.html", {
        "course": course, "v": version, "draft": version.status == VersionStatus.draft,
        "published": courses.current_version(session, course.id),
        "versions": [courses.version_public(x) for x in every], "modules": modules,
        "module_titles": {m.slug: m.title for m in modules},
        "questions": version.questions, "errors": errors or {},
        "form": form or {"questions_per_attempt": str(version.questions_per_attempt)},
        "next_version": _next_version(every[0].version),
        "answer": question_answer, "type_labels": TYPE_LABELS,
    }, status_code)


def _next_version(latest: str) -> str:
    major, minor, _ = (int(p) for p in latest.split("."))
    return f"{major}.{minor + 1}.0"


@router.get("/courses/{course_ref}")
def course_view(course_ref: str, request: Request, who: Instructor,
                session: PageSession) -> HTMLResponse:
    """The draft (or published) version: rules, modules, question bank, versions."""
    return course_page(request, session, who, managed(session, who, course_ref))


@router.post("/courses/{course_ref}/new-version")
def new_version(course_ref: str, request: Request, who: Instructor, session: PageSession,
                posted: Form) -> Response:
    """Start a draft version from the published one (modules and attachments are copied)."""
    course = managed(session, who, course_ref)
    form = {"reason": _text(posted, "reason"), "version": _text(posted, "version")}
    changes: dict[str, Any] = {"reason": form["reason"]}
    _optional(changes, "version", form["version"])
    try:
        note = _update(session, who, course, **changes)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return course_page(request, session, who, course,
                           field_errors(exc, _course_field, form), form, 422)
    return redirect(request, f"/web/teaching/courses/{course.slug}",
                    flash=note.strip() or "A draft version already exists.")


@router.post("/courses/{course_ref}/publish")
def publish(course_ref: str, request: Request, who: Instructor,
            session: PageSession) -> Response:
    """Publish the draft: new enrollments get it; enrolled trainees keep their version."""
    course = managed(session, who, course_ref)
    try:
        version = courses.publish(session, who.principal, course.id)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return course_page(request, session, who, course,
                           field_errors(exc, _course_field, {}), None, 422)
    return redirect(request, f"/web/teaching/courses/{course.slug}",
                    flash=f"Version {version.version} published: new enrollments get it.")


@router.post("/courses/{course_ref}/draw-size")
def draw_size(course_ref: str, request: Request, who: Instructor, session: PageSession,
              posted: Form) -> Response:
    """How many questions each attempt draws from the bank."""
    course = managed(session, who, course_ref)
    form = {"questions_per_attempt": _text(posted, "questions_per_attempt")}
    if not form["questions_per_attempt"]:
        return course_page(request, session, who, course, {
            "questions_per_attempt": "Enter how many questions each attempt draws"}, form, 422)
    try:
        note = _update(session, who, course, reason="draw size changed",
                       questions_per_attempt=form["questions_per_attempt"])
    except FORM_ERRORS as exc:
        fail(session, exc)
        return course_page(request, session, who, course,
                           field_errors(exc, _course_field, form), form, 422)
    return redirect(request, f"/web/teaching/courses/{course.slug}#questions",
                    flash=f"Each attempt draws {form['questions_per_attempt']} questions."
                          + note)


def _settings_page(request: Request, course: Course, version: CourseVersion, form: Values,
                   errors: Errors | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "teaching/settings.html", {
        "course": course, "v": version, "form": form, "errors": errors or {}}, status_code)


@router.get("/courses/{course_ref}/settings")
def settings_form(course_ref: str, request: Request, who: Instructor,
                  session: PageSession) -> HTMLResponse:
    """Title, summary, version number and rules of the draft."""
    course = managed(session, who, course_ref)
    version = working(session, course)
    return _settings_page(request, course, version, {**rules_form(version), "reason": ""})


@router.post("/courses/{course_ref}/settings")
def save_settings(course_ref: str, request: Request, who: Instructor, session: PageSession,
                  posted: Form) -> Response:
    """Save the draft's title, summary and rules (an empty limit means none)."""
    course = managed(session, who, course_ref)
    form: Values = {name: _text(posted, name) for name in COURSE_FIELDS}
    form["summary"] = _body(posted, "summary")
    changes = {"reason": form["reason"] or "course settings changed",
               **_rules(posted, update=True)}
    changes.pop("questions_per_attempt", None)  # set with the question bank
    try:
        note = _update(session, who, course, **changes)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _settings_page(request, course, working(session, course), form,
                              field_errors(exc, _course_field, form), 422)
    return redirect(request, f"/web/teaching/courses/{course.slug}",
                    flash="Course settings saved." + note)


# -- modules ------------------------------------------------------------------------------------
def _module_page(request: Request, session: Session, course: Course, version: CourseVersion,
                 form: Values, module: Module | None = None, errors: Errors | None = None,
                 preview: bool = False, status_code: int = 200) -> HTMLResponse:
    files = courses.attachments_of(session, [module.id])[module.id] if module else []
    body = form.get("body", "")
    return render(request, "teaching/module.html", {
        "course": course, "v": version, "module": module, "form": form,
        "errors": errors or {}, "attachments": files, "preview": preview,
        "draft": version.status == VersionStatus.draft,
        "html": markdown(body, form.get("title")) if body else None,
    }, status_code)


def _module_form(posted: FormData) -> Values:
    return {"title": _text(posted, "title"), "slug": _text(posted, "slug"),
            "minutes": _text(posted, "minutes"), "body": _body(posted, "body")}


def _module_data(form: Values, slug: str) -> dict[str, Any]:
    out: dict[str, Any] = {"slug": slug, "title": form["title"], "body": form["body"]}
    _optional(out, "minutes", form["minutes"])
    return out


@router.get("/courses/{course_ref}/modules/new")
def new_module(course_ref: str, request: Request, who: Instructor,
               session: PageSession) -> HTMLResponse:
    """Add a module: title, study time and markdown content with a preview."""
    course = managed(session, who, course_ref)
    return _module_page(request, session, course, working(session, course), {"minutes": "30"})


@router.post("/courses/{course_ref}/modules")
def add_module(course_ref: str, request: Request, who: Instructor, session: PageSession,
               posted: Form) -> Response:
    """Preview the module, or add it at the end of the draft."""
    course = managed(session, who, course_ref)
    version = working(session, course)
    form = _module_form(posted)
    if _text(posted, "action") == "preview":
        return _module_page(request, session, course, version, form, preview=True)
    existing = courses.modules_of(session, version.id)
    data = _module_data(form, _slug_from(form["slug"], form["title"]))
    try:
        note = _update(session, who, course, reason=f"module {data['slug']} added",
                       modules=[*map(_module_in, existing), data])
    except FORM_ERRORS as exc:
        fail(session, exc)
        errors = field_errors(exc, _module_field(len(existing)), form)
        return _module_page(request, session, course, working(session, course), form,
                            errors=errors, status_code=422)
    return redirect(request, f"/web/teaching/courses/{course.slug}#modules",
                    flash=f"Module {form['title']} added." + note)


@router.get("/courses/{course_ref}/modules/{slug}")
def module_view(course_ref: str, slug: str, request: Request, who: Instructor,
                session: PageSession) -> HTMLResponse:
    """Edit a module, preview it as trainees will see it, upload attachments."""
    course = managed(session, who, course_ref)
    version = working(session, course)
    i, modules = _module(session, version, slug)
    m = modules[i]
    return _module_page(request, session, course, version,
                        {"title": m.title, "slug": m.slug, "minutes": str(m.minutes),
                         "body": m.body}, module=m)


@router.post("/courses/{course_ref}/modules/{slug}")
def save_module(course_ref: str, slug: str, request: Request, who: Instructor,
                session: PageSession, posted: Form) -> Response:
    """Preview the edited module, or save it into the draft (its identifier stays)."""
    course = managed(session, who, course_ref)
    version = working(session, course)
    i, modules = _module(session, version, slug)
    form = {**_module_form(posted), "slug": slug}
    if _text(posted, "action") == "preview":
        return _module_page(request, session, course, version, form, module=modules[i],
                            preview=True)
    wanted = [*map(_module_in, modules)]
    wanted[i] = _module_data(form, slug)
    try:
        note = _update(session, who, course, reason=f"module {slug} edited", modules=wanted)
    except FORM_ERRORS as exc:
        fail(session, exc)
        version = working(session, course)
        i, modules = _module(session, version, slug)
        return _module_page(request, session, course, version, form, module=modules[i],
                            errors=field_errors(exc, _module_field(i), form), status_code=422)
    return redirect(request, f"/web/teaching/courses/{course.slug}/modules/{slug}",
                    flash=f"Module {form['title']} saved." + note)


@router.post("/courses/{course_ref}/modules/{slug}/move")
def move_module(course_ref: str, slug: str, request: Request, who: Instructor,
                session: PageSession, posted: Form) -> Response:
    """Move a module one place up or down."""
    course = managed(session, who, course_ref)
    i, modules = _module(session, working(session, course), slug)
    step = -1 if _text(posted, "direction") == "up" else 1
    j = i + step
    if not 0 <= j < len(modules):
        return redirect(request, f"/web/teaching/courses/{course.slug}#modules")
    order = [*map(_module_in, modules)]
    order[i], order[j] = order[j], order[i]
    try:
        note = _update(session, who, course, reason=f"module {slug} moved", modules=order)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return course_page(request, session, who, course,
                           field_errors(exc, _course_field, {}), None, 422)
    where = "up" if step < 0 else "down"
    return redirect(request, f"/web/teaching/courses/{course.slug}#modules",
                    flash=f"Module {modules[i].title} moved {where}." + note)


@router.post("/courses/{course_ref}/modules/{slug}/remove")
def remove_module(course_ref: str, slug: str, request: Request, who: Instructor,
                  session: PageSession) -> Response:
    """Remove a module (and its attachments) from the draft."""
    course = managed(session, who, course_ref)
    version = working(session, course)
    i, modules = _module(session, version, slug)
    rest = [_module_in(m) for m in modules if m.slug != slug]
    bank = list(version.questions)
    try:
        note = _update(session, who, course, reason=f"module {slug} removed", modules=rest)
    except FORM_ERRORS as exc:
        fail(session, exc)
        errors = {"_": "A course needs at least one module."} if not rest else \
            field_errors(exc, _course_field, {}, bank)
        return course_page(request, session, who, course, errors, None, 422)
    return redirect(request, f"/web/teaching/courses/{course.slug}#modules",
                    flash=f"Module {modules[i].title} removed." + note)


@router.post("/courses/{course_ref}/modules/{slug}/attachments")
def upload_attachment(course_ref: str, slug: str, request: Request, who: Instructor,
                      session: PageSession, posted: Form) -> Response:
    """Attach a file to a module of the draft (at most 10 MiB)."""
    course = managed(session, who, course_ref)
    version = working(session, course)
    i, modules = _module(session, version, slug)
    m = modules[i]
    upload = posted.get("file")
    chosen = isinstance(upload, UploadFile) and bool(upload.filename)
    name, media_type, content = "attachment", "application/octet-stream", b""
    if isinstance(upload, UploadFile) and chosen:
        name, media_type = upload.filename or name, upload.content_type or media_type
        content = upload.file.read(courses.MAX_ATTACHMENT_BYTES + 1)
    try:
        row = courses.add_attachment(session, who.principal, m.id, name, media_type, content)
    except (*FORM_ERRORS, PayloadTooLarge) as exc:
        fail(session, exc)
        message = "Choose a file to upload" if not chosen else (
            exc.detail if isinstance(exc, HubError) else str(exc))
        status = exc.status if isinstance(exc, HubError) else 422
        return _module_page(request, session, course, version,
                            {"title": m.title, "slug": m.slug, "minutes": str(m.minutes),
                             "body": m.body}, module=m, errors={"file": message},
                            status_code=status)
    return redirect(request, f"/web/teaching/courses/{course.slug}/modules/{slug}",
                    flash=f"{row.filename} attached ({row.size} bytes).")


# -- the question bank --------------------------------------------------------------------------
def _question_page(request: Request, session: Session, course: Course, version: CourseVersion,
                   form: Values, qid: str | None = None, errors: Errors | None = None,
                   status_code: int = 200) -> HTMLResponse:
    modules = courses.modules_of(session, version.id)
    return render(request, "teaching/question.html", {
        "course": course, "v": version, "form": form, "qid": qid, "errors": errors or {},
        "types": QUESTION_TYPES, "module_options": [(m.slug, m.title) for m in modules],
        "option_rows": max(MIN_OPTION_ROWS, len(form.get("options", [])) + 1),
        "draft": version.status == VersionStatus.draft,
    }, status_code)


@router.get("/courses/{course_ref}/questions/new")
def new_question(course_ref: str, request: Request, who: Instructor,
                 session: PageSession) -> HTMLResponse:
    """Write a question for the bank."""
    course = managed(session, who, course_ref)
    return _question_page(request, session, course, working(session, course),
                          question_form(None))


def _save_question(request: Request, session: Session, who: WebUser, course: Course,
                   posted: FormData, qid: str | None) -> Response:
    version = working(session, course)
    bank = list(version.questions)
    if qid is None:
        index, new_id = len(bank), _new_question_id(version)
        bank.append({})
    else:
        index, new_id = _question_index(version, qid), qid
    form = _posted_question_form(posted)
    bank[index] = _question(posted, new_id)
    verb = "added" if qid is None else "edited"
    try:
        note = _update(session, who, course, reason=f"question {new_id} {verb}", questions=bank)
    except FORM_ERRORS as exc:
        fail(session, exc)
        return _question_page(request, session, course, working(session, course), form, qid,
                              field_errors(exc, _question_field(index), form), 422)
    return redirect(request, f"/web/teaching/courses/{course.slug}#questions",
                    flash=f"Question {new_id} {verb}." + note)


@router.post("/courses/{course_ref}/questions")
def add_question(course_ref: str, request: Request, who: Instructor, session: PageSession,
                 posted: Form) -> Response:
    """Add the question to the draft's bank."""
    return _save_question(request, session, who, managed(session, who, course_ref), posted,
                          None)


@router.get("/courses/{course_ref}/questions/{qid}")
def question_view(course_ref: str, qid: str, request: Request, who: Instructor,
                  session: PageSession) -> HTMLResponse:
    """Edit a question of the bank."""
    course = managed(session, who, course_ref)
    version = working(session, course)
    q = version.questions[_question_index(version, qid)]
    return _question_page(request, session, course, version, question_form(q), qid)


@router.post("/courses/{course_ref}/questions/{qid}")
def save_question(course_ref: str, qid: str, request: Request, who: Instructor,
                  session: PageSession, posted: Form) -> Response:
    """Save the edited question."""
    return _save_question(request, session, who, managed(session, who, course_ref), posted,
                          qid)


@router.post("/courses/{course_ref}/questions/{qid}/remove")
def remove_question(course_ref: str, qid: str, request: Request, who: Instructor,
                    session: PageSession) -> Response:
    """Take a question out of the draft's bank."""
    course = managed(session, who, course_ref)
    version = working(session, course)
    index = _question_index(version, qid)
    rest = [q for i, q in enumerate(version.questions) if i != index]
    try:
        note = _update(session, who, course, reason=f"question {qid} removed", questions=rest)
    except FORM_ERRORS as exc:
        fail(session, exc)
        errors = {"_": "The bank needs at least one question."} if not rest else \
            field_errors(exc, _course_field, {})
        return course_page(request, session, who, course, errors, None, 422)
    return redirect(request, f"/web/teaching/courses/{course.slug}#questions",
                    flash=f"Question {qid} removed." + note)


def question_answer(q: dict[str, Any]) -> str:
    """The correct answer in words (instructors' pages only)."""
    if q["type"] == "numeric":
        unit = f" {q['unit']}" if q.get("unit") else ""
        return f"{_number(q['value'])} ± {_number(q['tolerance'])}{unit}"
    answer = q["answer"] if isinstance(q["answer"], list) else [q["answer"]]
    texts = {o["id"]: o["text"] for o in q.get("options", [])}
    return "; ".join(str(texts.get(a, a)) for a in answer)


TYPE_LABELS = {"single_choice": "Single choice", "multiple_choice": "Multiple choice",
               "numeric": "Numeric"}
