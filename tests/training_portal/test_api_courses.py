"""Instructors author courses; editing a published course makes a new version."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.audit.models import AuditEntry
from hub.config import Settings
from tests.factories import assert_problem, login, make_org, make_user
from tests.training_portal.conftest import answer_key, study
from tests.web.pages import logged_in
from training_portal import service as courses
from training_portal.models import Course, CourseVersion, Module


def _course(slug: str = "gowning-basics", **over: Any) -> dict[str, Any]:
    body = {
        "slug": slug, "title": "Cleanroom gowning basics",
        "summary": "Gown for a grade B cleanroom without contaminating the garment.",
        "qualification_name": "Grade B gowning", "validity_months": 12, "pass_mark": 0.5,
        "attempt_limit": 2, "time_limit_minutes": 15, "questions_per_attempt": 2,
        "modules": [
            {"slug": "order", "title": "Gowning order", "minutes": 10,
             "body": "# Gowning order\n\nHood, mask, coverall, boots, <script>alert(1)</script>"
                     " gloves.\n\n## Checks\n\n| step | check |\n|---|---|\n| 1 | mirror |\n"},
            {"slug": "glove", "title": "Glove changes", "minutes": 5,
             "body": "Change gloves after touching any non-sterile surface."},
        ],
        "questions": [
            {"id": "g1", "type": "single_choice", "module": "order", "prompt": "First item?",
             "options": [{"id": "a", "text": "Hood"}, {"id": "b", "text": "Boots"}],
             "answer": "a", "explanation": "The hood goes on first."},
            {"id": "g2", "type": "numeric", "module": "glove", "prompt": "Minutes per hand wash?",
             "value": 2, "tolerance": 0, "unit": "min"},
            {"id": "g3", "type": "multiple_choice", "prompt": "Sterile garments?",
             "options": [{"id": "a", "text": "Coverall"}, {"id": "b", "text": "Street shoes"},
                         {"id": "c", "text": "Gloves"}], "answer": ["a", "c"]},
        ],
    }
    body.update(over)
    return body


def test_instructor_course_lifecycle_and_versions(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session, name="Asepta Pharma")
    make_user(session, settings, org, "instructor", username="ines")
    make_user(session, settings, org, "trainee", username="theo")
    make_user(session, settings, org, "trainee", username="tara")
    other = make_org(session)
    make_user(session, settings, other, "instructor", username="oscar")
    make_user(session, settings, other, "trainee", username="olive")
    ih, th = login(client, "ines"), login(client, "theo")

    assert_problem(client.post("/training/courses", json=_course(), headers=th), 403)
    assert_problem(client.post("/training/courses", json=_course(questions_per_attempt=9),
                               headers=ih), 422)
    assert_problem(client.post("/training/courses", json=_course(consortium=True),
                               headers=ih), 403)
    created = client.post("/training/courses", json=_course(), headers=ih)
    assert created.status_code == 201, created.text
    course_id = created.json()["id"]
    assert created.json()["version"] == "1.0.0" and created.json()["draft_version"] == "1.0.0"
    assert created.json()["qualification_id"] == "grade-b-gowning"
    assert_problem(client.post("/training/courses", json=_course(), headers=ih), 409)
    # a draft is invisible to trainees; another organization never sees the course
    assert "gowning-basics" not in [c["slug"] for c in client.get(
        "/training/courses", headers=th).json()]
    assert_problem(client.post("/training/enrollments", json={"course_id": "gowning-basics"},
                               headers=th), 409)
    assert_problem(client.get("/training/courses/gowning-basics",
                              headers=login(client, "olive")), 404)
    assert_problem(client.patch("/training/courses/gowning-basics",
                                json={"reason": "hijack", "title": "Mine now"},
                                headers=login(client, "oscar")), 404)

    published = client.post("/training/courses/gowning-basics/publish", headers=ih)
    assert published.status_code == 200 and published.json()["status"] == "published"
    enrollment_id = study(client, th, "gowning-basics")
    page = client.get(f"/training/enrollments/{enrollment_id}/modules/order", headers=th)
    assert "<script>alert(1)</script>" in page.json()["body"]  # stored as written …
    logged_in(client, "theo")
    web = client.get(f"/web/training/enrollments/{enrollment_id}/modules/order").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in web  # … and shown escaped
    assert "<script>alert" not in web and "<table>" in web and "<h2>Checks</h2>" in web

    # editing the published course makes a draft 1.1.0; 1.0.0 stays as it was
    edit = client.patch("/training/courses/gowning-basics", headers=ih, json={
        "reason": "pass mark raised after the annual review", "pass_mark": 1.0,
        "modules": [*_course()["modules"], {"slug": "exit", "title": "Degowning",
                                            "minutes": 5, "body": "Reverse order."}]})
    assert edit.status_code == 200, edit.text
    assert edit.json()["version"] == "1.1.0" and edit.json()["status"] == "draft"
    assert edit.json()["pass_mark"] == 1.0
    v1 = session.exec(select(CourseVersion).where(CourseVersion.course_id == course_id,
                                                  CourseVersion.version == "1.0.0")).one()
    assert v1.pass_mark == 0.5 and v1.status == "published"
    assert len(session.exec(select(Module).where(Module.version_id == v1.id)).all()) == 2
    again = client.patch("/training/courses/gowning-basics", headers=ih,
                         json={"reason": "typo", "title": "Cleanroom gowning (grade B)"})
    assert again.json()["version"] == "1.1.0"  # the draft is edited in place
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_id == again.json()["id"],
                                                  AuditEntry.action == "update")).all()
    assert entry[-1].reason == "typo"
    assert_problem(client.patch("/training/courses/gowning-basics", headers=ih,
                                json={"title": "no reason"}), 422)
    client.post("/training/courses/gowning-basics/publish", headers=ih)
    versions = client.get("/training/courses/gowning-basics/versions", headers=ih).json()
    assert [(v["version"], v["status"]) for v in versions] == [("1.1.0", "published"),
                                                               ("1.0.0", "superseded")]
    assert_problem(client.get("/training/courses/gowning-basics/versions", headers=th), 403)
    bank = client.get("/training/courses/gowning-basics/questions", headers=ih).json()
    assert {q["id"] for q in bank} == {"g1", "g2", "g3"} and bank[0]["answer"] == "a"

    # the enrolled trainee keeps 1.0.0 (pass mark 50 %); a new trainee gets 1.1.0
    attempt = client.post(f"/training/enrollments/{enrollment_id}/attempts", headers=th).json()
    grade = client.post(f"/training/attempts/{attempt['id']}/submit", headers=th,
                        json={"answers": answer_key(session, attempt["id"], wrong=1)}).json()
    assert grade["passed"] is True and grade["pass_mark"] == 0.5
    cert = client.get(f"/training/certificates/{grade['certificate_id']}", headers=th).json()
    assert cert["course_version"] == "1.0.0"
    new = client.post("/training/enrollments", json={"course_id": "gowning-basics"},
                      headers=login(client, "tara")).json()
    assert new["version"] == "1.1.0" and new["modules_total"] == 3
    assert courses.current_version(session, course_id) is not None


def test_attachments_on_drafts(client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "instructor", username="ada")
    make_user(session, settings, org, "trainee", username="bob")
    ih = login(client, "ada")
    client.post("/training/courses", json=_course("sop-101"), headers=ih)
    course = session.exec(select(Course).where(Course.slug == "sop-101")).one()
    draft = courses.draft_version(session, course.id)
    assert draft is not None
    module = courses.modules_of(session, draft.id)[0]
    up = client.post(f"/training/modules/{module.id}/attachments", headers=ih,
                     files={"file": ("gowning.pdf", b"%PDF-1.4 sop", "application/pdf")})
    assert up.status_code == 201, up.text
    assert up.json()["size"] == 12 and len(up.json()["sha256"]) == 64
    assert_problem(client.post(f"/training/modules/{module.id}/attachments",
                               headers=login(client, "bob"),
                               files={"file": ("x.txt", b"x", "text/plain")}), 403)
    client.post("/training/courses/sop-101/publish", headers=ih)
    assert_problem(client.post(f"/training/modules/{module.id}/attachments", headers=ih,
                               files={"file": ("late.txt", b"x", "text/plain")}), 409)
    listed = client.get("/training/courses/sop-101", headers=login(client, "bob")).json()
    files = listed["modules"][0]["attachments"]
    assert [f["filename"] for f in files] == ["gowning.pdf"]
    got = client.get(f"/training/attachments/{files[0]['id']}", headers=login(client, "bob"))
    assert got.content == b"%PDF-1.4 sop" and got.headers["content-type"] == "application/pdf"
    logged_in(client, "bob")
    enrollment = client.post("/training/enrollments", json={"course_id": "sop-101"},
                             headers=login(client, "bob")).json()
    page = client.get(f"/web/training/enrollments/{enrollment['id']}/modules/order").text
    link = f"/web/training/attachments/{files[0]['id']}"
    assert f'href="{link}"' in page and client.get(link).content == b"%PDF-1.4 sop"
    # a new version copies the attachment along with the module
    client.patch("/training/courses/sop-101", headers=ih, json={"reason": "refresh", "title":
                                                                "SOP 101 (2nd ed.)"})
    new_draft = courses.draft_version(session, course.id)
    assert new_draft is not None
    copied = courses.attachments_of(session, [m.id for m in
                                              courses.modules_of(session, new_draft.id)])
    assert sum(len(v) for v in copied.values()) == 1


def test_seed_command_is_idempotent_and_restores_missing_courses(session: Session) -> None:
    assert courses.seed_courses(session) == []  # the migration installed them
    course = session.exec(select(Course).where(Course.slug == "logistics-information")).one()
    version = courses.current_version(session, course.id)
    assert version is not None
    session.execute(sa.delete(Module).where(col(Module.version_id) == version.id))
    session.execute(sa.delete(CourseVersion).where(col(CourseVersion.id) == version.id))
    session.execute(sa.delete(Course).where(col(Course.id) == course.id))
    session.expire_all()
    assert courses.seed_courses(session) == ["logistics-information 1.0.0"]
    assert courses.seed_courses(session) == []
    restored = session.exec(select(Course).where(Course.slug == "logistics-information")).one()
    assert restored.id == course.id  # deterministic ids: the same in every database
    created = session.exec(select(AuditEntry).where(AuditEntry.entity_id == course.id)).one()
    assert created.action == "create" and created.actor_id == "system:seed"
