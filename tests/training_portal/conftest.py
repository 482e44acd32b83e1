"""Helpers for the training API tests: trainees, studying a course, answering from the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from training_portal.models import Attempt

SCREENING = "molecular-screening"
SCREENING_QUALIFICATION = "molecular-screening-model-application"


def study(client: TestClient, headers: dict[str, str], course: str = SCREENING) -> str:
    """Enroll and complete every module through the API; returns the enrollment id."""
    resp = client.post("/training/enrollments", json={"course_id": course}, headers=headers)
    assert resp.status_code in (200, 201), resp.text
    enrollment = resp.json()
    detail = client.get(f"/training/enrollments/{enrollment['id']}", headers=headers).json()
    for module in detail["modules"]:
        done = client.post(f"/training/enrollments/{enrollment['id']}/modules/"
                           f"{module['slug']}/complete", headers=headers)
        assert done.status_code == 200, done.text
    return str(enrollment["id"])


def answer_key(session: Session, attempt_id: str, wrong: int = 0) -> dict[str, Any]:
    """Answers from the server-side draw (tests only): all right except the first ``wrong``."""
    session.expire_all()
    attempt = session.get(Attempt, attempt_id)
    assert attempt is not None
    answers: dict[str, Any] = {}
    for i, q in enumerate(attempt.questions):
        if q["type"] == "numeric":
            right: Any = q["value"]
            bad: Any = q["value"] + 10 * (q["tolerance"] + 1)
        elif q["type"] == "single_choice":
            right = q["answer"]
            bad = next(o["id"] for o in q["options"] if o["id"] != q["answer"])
        else:
            right = sorted(q["answer"])
            bad = [o["id"] for o in q["options"] if o["id"] not in q["answer"]][:1] or []
        answers[q["id"]] = bad if i < wrong else right
    return answers


def pass_course(client: TestClient, session: Session, headers: dict[str, str],
                course: str = SCREENING) -> dict[str, Any]:
    """Study, attempt and pass a course through the API; returns the grade."""
    enrollment_id = study(client, headers, course)
    attempt = client.post(f"/training/enrollments/{enrollment_id}/attempts", headers=headers)
    assert attempt.status_code == 201, attempt.text
    attempt_id = attempt.json()["id"]
    resp = client.post(f"/training/attempts/{attempt_id}/submit", headers=headers,
                       json={"answers": answer_key(session, attempt_id)})
    assert resp.status_code == 200, resp.text
    grade: dict[str, Any] = resp.json()
    assert grade["passed"] is True
    return grade


class Clock:
    """Moves the training portal's clock (issuing, attempts, verification) for a test."""

    MODULES = ("training_portal.enrollment", "training_portal.flows",
               "training_portal.certificates", "training_portal.notices")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.offset = timedelta(0)
        for name in self.MODULES:
            monkeypatch.setattr(f"{name}.utcnow", self.now)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def set(self, offset: timedelta) -> None:
        self.offset = offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)
