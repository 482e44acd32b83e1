"""Grading never leaks answers: every response a trainee gets before submitting is scanned."""

from __future__ import annotations

import html
import json
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from tests.factories import login, make_org, make_user
from tests.training_portal.conftest import SCREENING, answer_key
from tests.web.pages import csrf_from, logged_in
from training_portal import service as courses
from training_portal.models import Attempt

# keys that carry answer material in the stored questions (grading.py) and nowhere in a view
SECRET_KEYS = {"answer", "value", "tolerance", "explanation", "seed", "answers_hash"}


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


def test_no_response_before_submission_carries_an_answer(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "trainee", username="lena")
    seen: list[httpx.Response] = []
    client.event_hooks["response"] = [seen.append]
    h = login(client, "lena")

    for course in client.get("/training/courses", headers=h).json():
        client.get(f"/training/courses/{course['slug']}", headers=h)
        client.get(f"/training/courses/{course['id']}", headers=h)
    enrollment = client.post("/training/enrollments", json={"course_id": SCREENING},
                             headers=h).json()
    detail = client.get(f"/training/enrollments/{enrollment['id']}", headers=h).json()
    for m in detail["modules"]:
        client.get(f"/training/enrollments/{enrollment['id']}/modules/{m['slug']}", headers=h)
        client.post(f"/training/enrollments/{enrollment['id']}/modules/{m['id']}/complete",
                    headers=h)
    attempt = client.post(f"/training/enrollments/{enrollment['id']}/attempts",
                          headers=h).json()
    client.post(f"/training/enrollments/{enrollment['id']}/attempts", headers=h)  # resume
    client.get(f"/training/attempts/{attempt['id']}", headers=h)
    for path in ("/training/history", "/training/notifications", "/training/me/qualifications",
                 "/training/certificates", "/training/enrollments"):
        client.get(path, headers=h)
    logged_in(client, "lena")
    for path in ("/web/training", f"/web/training/courses/{SCREENING}",
                 f"/web/training/enrollments/{enrollment['id']}",
                 f"/web/training/enrollments/{enrollment['id']}/modules/standardization",
                 f"/web/training/attempts/{attempt['id']}"):
        assert client.get(path).status_code == 200, path

    stored = session.get(Attempt, attempt["id"])
    assert stored is not None and len(stored.questions) == 10
    version = courses.current_version(session, enrollment["course_id"])
    assert version is not None
    explanations = [q["explanation"] for q in version.questions if q.get("explanation")]
    assert len(explanations) == len(version.questions)
    assert len(seen) >= 30
    for resp in seen:
        where = f"{resp.request.method} {resp.request.url.path}"
        assert resp.status_code < 400, where
        text = html.unescape(resp.text)
        for note in explanations:
            assert note not in text, f"{where} leaks an explanation"
        if resp.headers.get("content-type", "").startswith("application/json"):
            leaked = _keys(json.loads(resp.text)) & SECRET_KEYS
            assert not leaked, f"{where} carries {leaked}"
        else:
            assert "data-answer" not in text and "checked" not in text, where

    # the attempt page shows every drawn option, relabelled A, B, C … in the drawn order
    page = client.get(f"/web/training/attempts/{attempt['id']}").text
    for q in stored.questions:
        for o in q.get("options", []):
            assert f'name="q-{q["id"]}" value="{o["id"]}"' in page

    # after submitting the results come back, and only then
    resp = client.post(f"/training/attempts/{attempt['id']}/submit", headers=h,
                       json={"answers": answer_key(session, attempt["id"])})
    assert resp.json()["passed"] is True
    assert any(r["explanation"] for r in resp.json()["results"])


def test_attempt_form_and_results_pages(client: TestClient, session: Session,
                                        settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "trainee", username="paul")
    logged_in(client, "paul")
    course_page = client.get(f"/web/training/courses/{SCREENING}")
    enrolled = client.post(f"/web/training/courses/{SCREENING}/enroll",
                           data={"csrf_token": csrf_from(course_page.text)},
                           follow_redirects=False)
    assert enrolled.status_code == 303
    enrollment_path = enrolled.headers["location"]
    page = client.get(enrollment_path).text
    assert "Complete every module to unlock the assessment." in page
    for slug in ("standardization", "drug-likeness", "structural-alerts",
                 "applicability-domain"):
        module = client.get(f"{enrollment_path}/modules/{slug}")
        assert module.status_code == 200 and "<h2" in module.text  # rendered markdown
        done = client.post(f"{enrollment_path}/modules/{slug}/complete",
                           data={"csrf_token": csrf_from(module.text)}, follow_redirects=False)
        assert done.status_code == 303
    page = client.get(enrollment_path).text
    start = client.post(f"{enrollment_path}/attempts", data={"csrf_token": csrf_from(page)},
                        follow_redirects=False)
    attempt_path = start.headers["location"]
    attempt_id = attempt_path.rsplit("/", 1)[1]
    form_page = client.get(attempt_path).text
    key = answer_key(session, attempt_id, wrong=2)
    form: dict[str, Any] = {"csrf_token": csrf_from(form_page)}
    for qid, value in key.items():
        form[f"q-{qid}"] = [str(v) for v in value] if isinstance(value, list) else str(value)
    sent = client.post(attempt_path, data=form, follow_redirects=False)
    assert sent.status_code == 303
    result = client.get(attempt_path).text
    assert "Passed" in result and "80 %" in result and "Incorrect" in result
    certs = client.get("/web/training/certificates").text
    assert "Molecular screening model application" in certs and "Download PDF" in certs
    cert_id = certs.split("/web/training/certificates/")[1].split(".pdf")[0]
    pdf = client.get(f"/web/training/certificates/{cert_id}.pdf")
    assert pdf.content.startswith(b"%PDF-")
    verify = client.get(f"/certificates/{cert_id}/verify", headers={"accept": "text/html"})
    assert 'data-valid="true"' in verify.text and "Valid certificate" in verify.text

    make_user(session, settings, org, "trainee", username="quinn")
    client.cookies.clear()
    logged_in(client, "quinn")
    assert client.get(enrollment_path).status_code == 404  # someone else's records
    assert client.get(attempt_path).status_code == 404
