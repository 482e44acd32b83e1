"""500 simultaneous assessment submissions (plus duplicates) against a real uvicorn on loopback.

Nothing may be lost and nothing graded twice: every attempt ends graded exactly once, every
duplicate gets the same grade back, passes get exactly one certificate each, the audit chain
stays intact. Runs on a file SQLite database and, when configured, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from hub.app import create_app
from hub.audit.models import AuditEntry
from hub.audit.service import verify_chain
from hub.config import Settings
from hub.db import Database
from hub.identity import security
from hub.identity import service as identity
from hub.identity.models import User
from tests import conftest
from tests.conftest import BACKENDS
from tests.factories import make_org
from tests.training_portal.conftest import answer_key
from training_portal import enrollment as learning
from training_portal import service as courses
from training_portal.models import Attempt, AttemptStatus, Certificate, Course
from training_portal.schemas import EnrollmentCreate

pytestmark = pytest.mark.slow
TRAINEES = 125  # x 4 seed courses = 500 attempts
DUPLICATES = 100  # the first 100 submissions are sent twice, at the same moment


@pytest.fixture(params=BACKENDS)
def load_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    eng = conftest.fresh_engine(request, request.param, tmp_path, "load")
    yield eng
    eng.dispose()


class LiveServer:
    """The hub under uvicorn in a thread, on a loopback port the OS picks."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings, db=db),
                                                    log_level="warning", lifespan="off",
                                                    backlog=2048))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "hub did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def _prepare(db: Database, settings: Settings) -> list[dict[str, Any]]:
    """Trainees with one attempt in progress per seed course; the answers each will send."""
    password_hash = security.hash_password("Load-Test-Pass-1!")
    jobs: list[dict[str, Any]] = []
    with db.session() as session:
        org = make_org(session, name="Load Pharma")
        slugs = [c.slug for c in session.exec(select(Course).order_by(col(Course.slug)))]
        for i in range(TRAINEES):
            user = User(username=f"load{i:03d}", full_name=f"Load Trainee {i}",
                        email=f"load{i}@example.org", organization_id=org.id,
                        roles=["trainee"], password_hash=password_hash)
            session.add(user)
            session.flush()
            who = identity.principal_for_user(user)
            token, _ = security.issue_token(settings, user.id, org.id, ["trainee"])
            for j, slug in enumerate(slugs):
                row, _ = learning.enroll(session, settings, who, EnrollmentCreate(course_id=slug))
                for m in courses.modules_of(session, row.version_id):
                    learning.complete_module(session, who, row.id, m.id)
                attempt = learning.start_attempt(session, who, row.id)
                session.flush()
                passing = (i + j) % 2 == 0
                jobs.append({"attempt": attempt.id, "token": token, "passing": passing,
                             "answers": answer_key(session, attempt.id, wrong=0 if passing
                                                   else 5)})
            session.commit()
    return jobs


async def _fire(url: str, jobs: list[dict[str, Any]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(jobs), max_keepalive_connections=len(jobs))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:
        return list(await asyncio.gather(*(
            client.post(f"/training/attempts/{j['attempt']}/submit",
                        json={"answers": j["answers"]},
                        headers={"Authorization": f"Bearer {j['token']}"})
            for j in jobs)))


def test_500_simultaneous_submissions_lose_none_and_grade_each_once(
        load_engine: Engine, tmp_path: Path) -> None:
    # every submission must be graded, so none may be turned away by admission control (its
    # 503s are tested in tests/reliability): the wave waits in line as long as it takes
    settings = Settings(environment="test", data_dir=tmp_path / "hub", secret_key="L" * 40,
                        database_url=load_engine.url.render_as_string(hide_password=False),
                        admission_wait_seconds=300)
    db = Database(settings, load_engine)
    jobs = _prepare(db, settings)
    assert len(jobs) == 500
    wave = jobs + jobs[:DUPLICATES]
    with LiveServer(settings, db) as hub:
        started = time.perf_counter()
        # in a thread of its own: a session-wide browser fixture may own this thread's loop
        with ThreadPoolExecutor(1) as pool:
            responses = pool.submit(asyncio.run, _fire(hub.url, wave)).result()
        elapsed = time.perf_counter() - started
    print(f"\n{len(wave)} submissions on {load_engine.dialect.name} in {elapsed:.1f} s")

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: len(wave)}, {s: n for s, n in statuses.items()}
    grades = [r.json() for r in responses]
    for job, grade in zip(wave, grades, strict=True):
        assert grade["attempt_id"] == job["attempt"]
        assert grade["passed"] is job["passing"]
        assert (grade["certificate_id"] is not None) is job["passing"]
    for k in range(DUPLICATES):  # a duplicate gets exactly the same grade back
        assert grades[k] == grades[len(jobs) + k]
    replayed = sum(r.headers.get("idempotent-replayed") == "true" for r in responses)
    assert replayed == DUPLICATES

    with Session(load_engine) as session:
        attempts = session.exec(select(Attempt)).all()
        assert len(attempts) == 500
        assert all(a.status == AttemptStatus.submitted for a in attempts)
        certs = session.exec(select(Certificate)).all()
        assert len(certs) == sum(j["passing"] for j in jobs) == 250
        assert len({c.attempt_id for c in certs}) == len(certs)
        assert len({(c.status_list_id, c.status_index) for c in certs}) == len(certs)
        by_attempt = {g["attempt_id"]: g["certificate_id"] for g in grades if g["passed"]}
        assert {c.attempt_id: c.id for c in certs} == by_attempt
        graded = session.exec(select(AuditEntry.entity_id, func.count()).where(
            AuditEntry.entity_type == "training_attempt", AuditEntry.action == "update")
            .group_by(col(AuditEntry.entity_id))).all()
        assert len(graded) == 500 and {n for _, n in graded} == {1}  # graded once each
        assert verify_chain(session).ok
