"""The learner's path through the API: enroll, study, attempt, pass, hold a signed credential."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.audit.models import AuditEntry
from hub.config import Settings
from hub.keys import verify_jws
from tests.factories import assert_problem, login, make_org, make_user
from tests.training_portal.conftest import (
    SCREENING,
    SCREENING_QUALIFICATION,
    Clock,
    answer_key,
    study,
)
from training_portal.credentials import verify_credential
from training_portal.models import Attempt, Certificate


def test_seed_courses_are_listed_without_question_banks(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "trainee", username="tina")
    resp = client.get("/training/courses", headers=login(client, "tina"))
    assert resp.status_code == 200
    courses = {c["slug"]: c for c in resp.json()}
    assert set(courses) == {"molecular-screening", "production-data-analysis",
                            "inspection-operation", "logistics-information"}
    screening = courses[SCREENING]
    assert screening["qualification_id"] == SCREENING_QUALIFICATION
    assert screening["version"] == "1.0.0" and len(screening["modules"]) == 4
    assert '"questions":' not in resp.text and '"answer"' not in resp.text
    bank = client.get(f"/training/courses/{SCREENING}/questions", headers=login(client, "tina"))
    assert_problem(bank, 403, "permission-denied")


def test_full_learner_path_to_a_signed_credential(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session, name="Helix Pharma")
    user = make_user(session, settings, org, "researcher", username="rita",
                     full_name="Rita Researcher")
    h = login(client, "rita")

    # the assessment stays locked until every module is completed
    first = client.post("/training/enrollments", json={"course_id": SCREENING}, headers=h)
    assert first.status_code == 201, first.text
    enrollment_id = first.json()["id"]
    locked = client.post(f"/training/enrollments/{enrollment_id}/attempts", headers=h)
    body = assert_problem(locked, 409, "modules-incomplete")
    assert len(body["errors"]) == 4
    module = client.get(f"/training/enrollments/{enrollment_id}/modules/standardization",
                        headers=h).json()
    assert module["body"].startswith("# Structure standardization with RDKit")
    assert study(client, h) == enrollment_id  # enrolling again returns the same enrollment

    started = client.post(f"/training/enrollments/{enrollment_id}/attempts", headers=h)
    assert started.status_code == 201
    attempt = started.json()
    assert len(attempt["questions"]) == 10 and attempt["deadline"] is not None
    again = client.post(f"/training/enrollments/{enrollment_id}/attempts", headers=h)
    assert again.json()["id"] == attempt["id"]  # resumes the attempt in progress

    answers = answer_key(session, attempt["id"], wrong=1)  # 9 of 10: passes at 80 %
    graded = client.post(f"/training/attempts/{attempt['id']}/submit", json={"answers": answers},
                         headers=h)
    assert graded.status_code == 200, graded.text
    grade = graded.json()
    assert grade["passed"] is True and grade["score"] == 0.9 and grade["earned"] == 9
    assert sum(not r["correct"] for r in grade["results"]) == 1
    assert all(r["explanation"] for r in grade["results"])  # course finished: explanations
    cert_id = grade["certificate_id"]
    assert cert_id

    cert = client.get(f"/training/certificates/{cert_id}", headers=h).json()
    assert cert["status"] == "valid" and cert["holder_name"] == "Rita Researcher"
    assert cert["qualification_id"] == SCREENING_QUALIFICATION
    assert cert["course_version"] == "1.0.0" and cert["score"] == 0.9
    token = client.get(f"/training/certificates/{cert_id}/credential", headers=h)
    assert token.headers["content-type"].startswith("application/vc+jwt")
    jwks = client.get("/.well-known/jwks.json").json()  # public
    header, payload = verify_jws(token.text, jwks)
    assert header["alg"] == "EdDSA" and header["typ"] == "vc+jwt"
    vc = json.loads(payload)
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    achievement = vc["credentialSubject"]["achievement"]
    assert achievement["achievementType"] == "Certification"
    assert achievement["name"] == "Molecular screening model application"
    assert vc["credentialSubject"]["id"] == f"urn:uuid:{user.id}"
    assert vc["evidence"][0]["score"] == 0.9 and vc["evidence"][0]["courseVersion"] == "1.0.0"
    valid_from = datetime.fromisoformat(vc["validFrom"].replace("Z", "+00:00"))
    valid_until = datetime.fromisoformat(vc["validUntil"].replace("Z", "+00:00"))
    assert (valid_until - valid_from).days in range(730, 732)  # 24 months
    assert vc["credentialStatus"]["statusListCredential"].endswith("/certificates/status/r1")
    offline = verify_credential(token.text, jwks, now=datetime.now(UTC))
    assert offline.valid and offline.check("signature").passed

    online = client.get(f"/certificates/{cert_id}/verify").json()  # public
    assert online["valid"] is True and online["holder_name"] == "Rita Researcher"
    assert {c["name"]: c["outcome"] for c in online["checks"]}["status"] == "pass"

    history = client.get("/training/history", headers=h).json()
    assert history["enrollments"][0]["status"] == "completed"
    assert history["enrollments"][0]["attempts"][0]["score"] == 0.9
    assert [c["id"] for c in history["certificates"]] == [cert_id]
    pdf = client.get(f"/training/certificates/{cert_id}/pdf", headers=h)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"

    # the attempt and the certificate are in the audit trail, the answer key is not
    entries = session.exec(select(AuditEntry).where(
        col(AuditEntry.entity_type).in_(["training_attempt", "training_certificate"]))).all()
    assert {(e.entity_type, e.action) for e in entries} >= {
        ("training_attempt", "create"), ("training_attempt", "update"),
        ("training_certificate", "create")}
    created = next(e for e in entries if e.entity_type == "training_attempt"
                   and e.action == "create")
    assert created.new_values is not None and created.new_values["questions"] == "[redacted]"


def test_submission_is_idempotent_and_different_answers_are_refused(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "trainee", username="ivan")
    h = login(client, "ivan")
    enrollment_id = study(client, h)
    attempt_id = client.post(f"/training/enrollments/{enrollment_id}/attempts",
                             headers=h).json()["id"]
    answers = answer_key(session, attempt_id)
    first = client.post(f"/training/attempts/{attempt_id}/submit", json={"answers": answers},
                        headers=h)
    retry = client.post(f"/training/attempts/{attempt_id}/submit", json={"answers": answers},
                        headers=h)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    changed = dict(answers)
    changed[next(iter(changed))] = "Z"
    assert_problem(client.post(f"/training/attempts/{attempt_id}/submit",
                               json={"answers": changed}, headers=h),
                   409, "attempt-already-submitted")
    certs = session.exec(select(Certificate).where(Certificate.attempt_id == attempt_id)).all()
    assert len(certs) == 1
    updates = session.exec(select(AuditEntry).where(AuditEntry.entity_id == attempt_id,
                                                    AuditEntry.action == "update")).all()
    assert len(updates) == 1  # graded once


def test_failing_uses_attempts_until_the_limit(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "trainee", username="fred")
    h = login(client, "fred")
    enrollment_id = study(client, h, "inspection-operation")
    for number in (1, 2, 3):
        attempt = client.post(f"/training/enrollments/{enrollment_id}/attempts", headers=h)
        assert attempt.status_code == 201 and attempt.json()["number"] == number
        attempt_id = attempt.json()["id"]
        grade = client.post(f"/training/attempts/{attempt_id}/submit", headers=h,
                            json={"answers": answer_key(session, attempt_id, wrong=3)}).json()
        assert grade["passed"] is False and grade["score"] == 0.7
        assert grade["certificate_id"] is None
        # explanations would give the next attempt away: only once attempts are used up
        assert all((r["explanation"] is None) == (number < 3) for r in grade["results"])
    enrollment = client.get(f"/training/enrollments/{enrollment_id}", headers=h).json()
    assert enrollment["status"] == "failed" and enrollment["attempts_remaining"] == 0
    assert_problem(client.post(f"/training/enrollments/{enrollment_id}/attempts", headers=h),
                   409)
    retake = client.post("/training/enrollments", json={"course_id": "inspection-operation"},
                         headers=h)
    assert_problem(retake, 409)
    assert session.exec(select(Attempt).where(Attempt.enrollment_id == enrollment_id)
                        ).all().__len__() == 3


def test_unknown_question_ids_are_named(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "trainee", username="uma")
    h = login(client, "uma")
    enrollment_id = study(client, h)
    attempt_id = client.post(f"/training/enrollments/{enrollment_id}/attempts",
                             headers=h).json()["id"]
    resp = client.post(f"/training/attempts/{attempt_id}/submit", headers=h,
                       json={"answers": {"not-a-question": "A"}})
    body = assert_problem(resp, 422, "validation-error")
    assert body["errors"] == [{"pointer": "/answers/not-a-question",
                               "message": "not a question of this attempt"}]
    still = client.get(f"/training/attempts/{attempt_id}", headers=h).json()
    assert still["status"] == "in_progress"


def test_submit_authenticates_before_reading_the_body(
        client: TestClient, session: Session, settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "trainee", username="vera")
    h = login(client, "vera")
    enrollment_id = study(client, h)
    attempt_id = client.post(f"/training/enrollments/{enrollment_id}/attempts",
                             headers=h).json()["id"]
    assert_problem(client.post(f"/training/attempts/{attempt_id}/submit",
                               json={"answers": {}}), 401, "authentication-required")
    body = assert_problem(client.post(f"/training/attempts/{attempt_id}/submit", headers=h,
                                      json={"answer": {}}), 422, "validation-error")
    assert {e["pointer"] for e in body["errors"]} == {"/body/answers", "/body/answer"}
    assert_problem(client.post(f"/training/attempts/{attempt_id}/submit", headers=h,
                               content=b"{not json"), 422)
    make_user(session, settings, org, "trainee", username="walt")
    assert_problem(client.post(f"/training/attempts/{attempt_id}/submit",
                               headers=login(client, "walt"), json={"answers": {}}), 404)
    schema = client.get("/openapi.json").json()["paths"][
        "/training/attempts/{attempt_id}/submit"]["post"]
    assert "answers" in str(schema["requestBody"])


def test_late_submission_scores_zero(client: TestClient, session: Session, settings: Settings,
                                     clock: Clock) -> None:
    org = make_org(session)
    make_user(session, settings, org, "trainee", username="lola")
    h = login(client, "lola")
    enrollment_id = study(client, h)
    clock.set(timedelta(minutes=-41))  # the course allows 40 minutes (plus 30 s of grace)
    attempt = client.post(f"/training/enrollments/{enrollment_id}/attempts", headers=h).json()
    clock.set(timedelta(0))
    view = client.get(f"/training/attempts/{attempt['id']}", headers=h).json()
    assert view["seconds_remaining"] == 0
    answers = answer_key(session, attempt["id"])
    late = client.post(f"/training/attempts/{attempt['id']}/submit", headers=h,
                       json={"answers": answers})
    assert late.status_code == 200, late.text
    grade = late.json()
    assert grade["status"] == "expired" and grade["passed"] is False and grade["score"] == 0
    assert grade["certificate_id"] is None and "time limit" in grade["detail"]
    retry = client.post(f"/training/attempts/{attempt['id']}/submit", headers=h,
                        json={"answers": answers})
    assert retry.json() == grade and retry.headers["idempotent-replayed"] == "true"
    stored = session.get(Attempt, attempt["id"])
    assert stored is not None and stored.answers == answers  # what was sent is kept
    second = client.post(f"/training/enrollments/{enrollment_id}/attempts", headers=h)
    assert second.status_code == 201 and second.json()["number"] == 2
