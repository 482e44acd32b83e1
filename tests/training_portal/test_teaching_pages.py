"""Instructor pages: author a course through forms, publish it, version it; nobody else gets in."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.audit.models import AuditEntry
from hub.config import Settings
from tests.factories import make_org, make_user
from tests.training_portal.conftest import SCREENING
from tests.web.pages import Page, csrf_from, logged_in, page_token
from training_portal import service as courses
from training_portal.models import Attachment, Course, CourseVersion

SLUG = "aseptic-filling-basics"
COURSE = f"/web/teaching/courses/{SLUG}"
EXPLANATION = "Air always flows from the cleanest zone outwards."
NEW: dict[str, Any] = {
    "title": "Aseptic filling basics",
    "summary": "Fill sterile vials without breaking the aseptic barrier.",
    "qualification_name": "Aseptic filling", "version": "1.0.0", "pass_mark": "75",
    "attempt_limit": "2", "time_limit_minutes": "", "validity_months": "12",
    "questions_per_attempt": "1",
    "module_title": "Before the line starts", "module_minutes": "15",
    "module_body": "# Before the line starts\n\nCheck the **pressure cascade**.",
    "prompt": "Which zone has the highest pressure?", "qtype": "single_choice",
    "option-1": "Grade A filling zone", "option-2": "Corridor", "option-3": "",
    "correct": "1", "points": "1", "explanation": EXPLANATION,
}


def _post(client: TestClient, path: str, form_page: str, files: Any = None,
          **data: Any) -> httpx.Response:
    return client.post(path, data={**data, "csrf_token": page_token(client, form_page)},
                       files=files, follow_redirects=False)


def _version(session: Session, status: str = "draft") -> CourseVersion:
    session.expire_all()
    course = session.exec(select(Course).where(Course.slug == SLUG)).one()
    return next(v for v in courses.versions(session, course.id) if v.status == status)


def _module_slugs(session: Session, status: str = "draft") -> list[str]:
    return [m.slug for m in courses.modules_of(session, _version(session, status).id)]


def _create(client: TestClient, **over: Any) -> httpx.Response:
    return _post(client, "/web/teaching/courses", "/web/teaching/new-course", **{**NEW, **over})


def _instructor(client: TestClient, session: Session, settings: Settings) -> Any:
    org = make_org(session, name="Asepta Pharma")
    make_user(session, settings, org, "instructor", username="ines")
    logged_in(client, "ines")
    return org


def test_instructor_creates_edits_and_publishes_a_course(client: TestClient, session: Session,
                                                         settings: Settings) -> None:
    org = _instructor(client, session, settings)
    make_user(session, settings, org, "trainee", username="theo")
    assert 'href="/web/teaching"' in client.get("/web/").text
    listing = client.get("/web/teaching")
    assert listing.status_code == 200 and "You have no courses yet" in listing.text

    # what was typed wrong is named next to its field; nothing is stored
    bad = _create(client, summary="", correct=["1", "2"])
    assert bad.status_code == 422
    assert 'href="#f-summary"' in bad.text and 'id="f-summary-error"' in bad.text
    assert "Mark exactly one option as correct" in bad.text and 'href="#f-correct"' in bad.text
    assert 'value="Aseptic filling basics"' in bad.text  # what was typed is kept
    assert session.exec(select(Course).where(Course.slug == SLUG)).first() is None
    too_many = _create(client, questions_per_attempt="3")
    assert too_many.status_code == 422 and 'id="f-questions_per_attempt-error"' in too_many.text

    created = _create(client)
    assert created.status_code == 303 and created.headers["location"] == COURSE
    page = client.get(COURSE).text
    assert "draft version 1.0.0" in page and "Publish version 1.0.0" in page
    assert "Grade A filling zone" in page and "Aseptic filling" in page
    draft = _version(session)
    assert draft.pass_mark == 0.75 and draft.attempt_limit == 2 and draft.time_limit_minutes is None
    assert draft.questions[0]["answer"] == "a" and draft.questions[0]["explanation"] == EXPLANATION
    dup = _create(client)
    print(__import__("re").search(r"error-summary.*?</div>", dup.text, 16).group(0))
    assert dup.status_code == 422 and 'href="#f-slug"' in dup.text
    assert f"A course &#39;{SLUG}&#39; already exists" in dup.text

    # a module: preview renders the markdown (raw HTML escaped) without saving
    body = "Gowning **first**.\n\n| step | check |\n|---|---|\n| 1 | mirror |\n\n<script>x</script>"
    preview = _post(client, f"{COURSE}/modules", f"{COURSE}/modules/new", title="Gowning",
                    minutes="10", body=body, action="preview")
    assert preview.status_code == 200 and "Preview (not saved yet)" in preview.text
    assert "<strong>first</strong>" in preview.text and "<table>" in preview.text
    assert "&lt;script&gt;x&lt;/script&gt;" in preview.text and "<script>x" not in preview.text
    assert _module_slugs(session) == ["before-the-line-starts"]
    added = _post(client, f"{COURSE}/modules", f"{COURSE}/modules/new", title="Gowning",
                  minutes="10", body=body, action="save")
    assert added.status_code == 303
    assert _module_slugs(session) == ["before-the-line-starts", "gowning"]
    moved = _post(client, f"{COURSE}/modules/gowning/move", COURSE, direction="up")
    assert moved.status_code == 303
    assert _module_slugs(session) == ["gowning", "before-the-line-starts"]
    empty = _post(client, f"{COURSE}/modules/gowning", f"{COURSE}/modules/gowning",
                  title="Gowning", minutes="10", body="", action="save")
    assert empty.status_code == 422 and 'id="f-body-error"' in empty.text
    renamed = _post(client, f"{COURSE}/modules/gowning", f"{COURSE}/modules/gowning",
                    title="Gowning for grade A", minutes="12", body=body, action="save")
    assert renamed.status_code == 303
    assert "Gowning for grade A" in client.get(COURSE).text

    # an attachment on the draft's module
    nothing = _post(client, f"{COURSE}/modules/gowning/attachments",
                    f"{COURSE}/modules/gowning", files={"file": ("", b"", "text/plain")})
    assert nothing.status_code == 422 and "Choose a file to upload" in nothing.text
    up = _post(client, f"{COURSE}/modules/gowning/attachments", f"{COURSE}/modules/gowning",
               files={"file": ("sop-12.pdf", b"%PDF-1.4 sop", "application/pdf")})
    assert up.status_code == 303
    files = session.exec(select(Attachment).where(Attachment.filename == "sop-12.pdf")).all()
    assert len(files) == 1 and files[0].content == b"%PDF-1.4 sop"
    assert "sop-12.pdf" in client.get(f"{COURSE}/modules/gowning").text

    # the question bank: multiple choice and numeric with tolerance
    multi = _post(client, f"{COURSE}/questions", f"{COURSE}/questions/new",
                  prompt="Which are sterile?", qtype="multiple_choice",
                  **{"option-1": "Gloves", "option-2": "Street shoes", "option-3": "Coverall"},
                  correct=["1", "3"], module="gowning", points="2")
    assert multi.status_code == 303
    wrong_number = _post(client, f"{COURSE}/questions", f"{COURSE}/questions/new",
                         prompt="Cascade step in Pa?", qtype="numeric", value="fifteen")
    assert wrong_number.status_code == 422 and 'id="f-value-error"' in wrong_number.text
    numeric = _post(client, f"{COURSE}/questions", f"{COURSE}/questions/new",
                    prompt="Cascade step in Pa?", qtype="numeric", value="15",
                    tolerance="2.5", unit="Pa")
    assert numeric.status_code == 303
    bank = _version(session).questions
    assert [q["id"] for q in bank] == ["q1", "q2", "q3"]
    assert bank[1]["answer"] == ["a", "c"] and bank[1]["module"] == "gowning"
    assert bank[1]["points"] == 2
    assert (bank[2]["value"], bank[2]["tolerance"], bank[2]["unit"]) == (15, 2.5, "Pa")
    assert "15 ± 2.5 Pa" in client.get(COURSE).text
    in_use = _post(client, f"{COURSE}/modules/gowning/remove", COURSE)
    assert in_use.status_code == 422
    assert "Question q2: Unknown module &#39;gowning&#39;: the question examines it" in in_use.text
    assert _module_slugs(session) == ["gowning", "before-the-line-starts"]
    edit = _post(client, f"{COURSE}/questions/q2", f"{COURSE}/questions/q2",
                 prompt="Which garments are sterile?", qtype="multiple_choice",
                 **{"option-1": "Gloves", "option-2": "Coverall"}, correct=["1", "2"])
    assert edit.status_code == 303
    assert _version(session).questions[1]["prompt"] == "Which garments are sterile?"

    over = _post(client, f"{COURSE}/draw-size", COURSE, questions_per_attempt="4")
    assert over.status_code == 422 and 'id="f-questions_per_attempt-error"' in over.text
    assert "Exceeds the bank of 3 questions" in over.text
    assert _post(client, f"{COURSE}/draw-size", COURSE,
                 questions_per_attempt="3").status_code == 303

    published = _post(client, f"{COURSE}/publish", COURSE)
    assert published.status_code == 303
    v1 = _version(session, "published")
    assert v1.version == "1.0.0" and v1.questions_per_attempt == 3
    page = client.get(COURSE).text
    assert "Start draft version" in page and "Publish version" not in page
    reasons = {e.reason for e in session.exec(select(AuditEntry).where(
        AuditEntry.entity_id == v1.id))}
    assert {"question q2 added", "published version 1.0.0"} <= reasons

    # editing the published course makes draft 1.1.0; 1.0.0 stays as it was
    why = _post(client, f"{COURSE}/new-version", COURSE, reason="", version="1.1.0")
    assert why.status_code == 422 and 'id="f-reason-error"' in why.text
    started = _post(client, f"{COURSE}/new-version", COURSE, reason="annual review",
                    version="1.1.0")
    assert started.status_code == 303
    settings_page = f"{COURSE}/settings"
    percent = _post(client, settings_page, settings_page, title="Aseptic filling basics",
                    summary=NEW["summary"], version="1.1.0", pass_mark="150",
                    attempt_limit="", time_limit_minutes="30", validity_months="12")
    assert percent.status_code == 422 and "Enter a percentage above 0" in percent.text
    saved = _post(client, settings_page, settings_page, title="Aseptic filling basics",
                  summary=NEW["summary"], version="1.1.0", pass_mark="90", attempt_limit="",
                  time_limit_minutes="30", validity_months="12")
    assert saved.status_code == 303
    v2 = _version(session)
    assert (v2.version, v2.pass_mark, v2.attempt_limit, v2.time_limit_minutes) == (
        "1.1.0", 0.9, None, 30)
    assert _version(session, "published").pass_mark == 0.75
    assert _module_slugs(session) == ["gowning", "before-the-line-starts"]  # copied
    versions = client.get(COURSE).text
    assert re.search(r'<td>1\.1\.0</td>\s*<td><span class="badge wait">Draft', versions)
    assert re.search(r'<td>1\.0\.0</td>\s*<td><span class="badge ok">Published', versions)

    shrink = _post(client, f"{COURSE}/questions/q3/remove", COURSE)
    assert shrink.status_code == 422 and 'id="f-questions_per_attempt-error"' in shrink.text
    assert _post(client, f"{COURSE}/draw-size", COURSE,
                 questions_per_attempt="2").status_code == 303
    assert _post(client, f"{COURSE}/questions/q3/remove", COURSE).status_code == 303
    assert [q["id"] for q in _version(session).questions] == ["q1", "q2"]
    assert _post(client, f"{COURSE}/modules/before-the-line-starts/remove",
                 COURSE).status_code == 303
    assert _module_slugs(session) == ["gowning"]
    assert _module_slugs(session, "published") == ["gowning", "before-the-line-starts"]

    logged_in(client, "theo")  # the trainee sees the published version only
    course_page = client.get(f"/web/training/courses/{SLUG}").text
    assert "Version</dt><dd>1.0.0" in course_page and "Gowning for grade A" in course_page


def test_trainees_researchers_and_other_instructors_get_no_teaching_pages(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = _instructor(client, session, settings)
    assert _create(client).status_code == 303
    make_user(session, settings, org, "trainee", username="tara")
    make_user(session, settings, org, "researcher", username="remy")
    make_user(session, settings, make_org(session), "instructor", username="otto")
    seed = courses.current_version(session, courses.get_course(
        session, _principal(session, "ines"), SCREENING).id)
    assert seed is not None
    seed_notes = [q["explanation"] for q in seed.questions if q.get("explanation")]
    pages = ["/web/teaching", "/web/teaching/new-course", COURSE, f"{COURSE}/settings",
             f"{COURSE}/questions/q1", f"{COURSE}/questions/new",
             f"{COURSE}/modules/before-the-line-starts"]
    seen: list[httpx.Response] = []
    for username in ("tara", "remy"):
        client.cookies.clear()
        logged_in(client, username)
        assert 'href="/web/teaching"' not in client.get("/web/").text
        for path in pages:
            resp = client.get(path)
            seen.append(resp)
            assert resp.status_code == 403, (username, path)
        token = csrf_from(client.get("/web/").text)
        for path, data in ((f"{COURSE}/publish", {}), ("/web/teaching/courses", NEW),
                           (f"{COURSE}/questions/q1/remove", {})):
            resp = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
            seen.append(resp)
            assert resp.status_code == 403, (username, path)
        seen.append(client.get(f"/web/training/courses/{SCREENING}"))
    assert _version(session).status == "draft" and len(_version(session).questions) == 1

    client.cookies.clear()
    logged_in(client, "otto")  # an instructor of another organization
    assert 'href="/web/teaching"' in client.get("/web/").text
    listing = client.get("/web/teaching")
    seen.append(listing)
    assert SLUG not in listing.text
    for path in pages[2:]:
        resp = client.get(path)
        seen.append(resp)
        assert resp.status_code == 404, path
    consortium = client.get(f"/web/teaching/courses/{SCREENING}")  # visible, not theirs
    seen.append(consortium)
    assert consortium.status_code == 403

    for resp in seen:
        text = html.unescape(resp.text)
        where = f"{resp.request.method} {resp.request.url.path}"
        assert EXPLANATION not in text and "Correct answer" not in text, where
        assert not any(note in text for note in seed_notes), where


def _principal(session: Session, username: str) -> Any:
    from hub.identity import service as identity
    from hub.identity.models import User

    user = session.exec(select(User).where(User.username == username)).one()
    return identity.principal_for_user(user)


def test_teaching_pages_are_labelled_and_self_contained(client: TestClient, session: Session,
                                                        settings: Settings) -> None:
    _instructor(client, session, settings)
    assert _create(client).status_code == 303
    paths = ["/web/teaching", "/web/teaching/new-course", COURSE, f"{COURSE}/settings",
             f"{COURSE}/modules/new", f"{COURSE}/modules/before-the-line-starts",
             f"{COURSE}/questions/new", f"{COURSE}/questions/q1"]
    for path in paths:
        resp = client.get(path)
        assert resp.status_code == 200, path
        page = Page(resp.text)
        assert len(page.find("h1")) == 1, path
        assert page.unlabelled_controls() == [], path
        assert [a for a in page.find("main")] and page.find("nav"), path
        for script in page.find("script"):
            assert script.get("src", "").startswith("/web/static/"), path
        assert "<script>" not in resp.text and " onclick=" not in resp.text, path
        ids = [a["id"] for _, a in page.tags if a.get("id")]
        assert len(ids) == len(set(ids)), f"duplicate ids on {path}"
        for form in page.find("form"):
            if form.get("method") == "post":
                assert 'name="csrf_token"' in resp.text, path
    # an edited question shows its stored values, correct options ticked
    q1 = client.get(f"{COURSE}/questions/q1").text
    assert 'value="Grade A filling zone"' in q1
    assert 'name="correct" value="1" id="f-correct" checked' in q1
    assert 'name="correct" value="2" id="f-correct-2">' in q1
