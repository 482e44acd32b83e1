"""The audit trail: automatic entries, reasons, hash chain, tamper detection, append-only."""

from __future__ import annotations

from itertools import pairwise

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.audit import service as audit
from hub.audit.models import AuditEntry
from hub.config import Settings
from hub.errors import ValidationFailed
from hub.identity.models import User
from tests.factories import assert_problem, login, make_org, make_user


def _entries(session: Session, entity_id: str) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.entity_id == entity_id)
    return list(session.exec(stmt.order_by(col(AuditEntry.seq))))


def test_create_and_update_are_recorded_with_who_what_why(client: TestClient, session: Session,
                                                          settings: Settings) -> None:
    org = make_org(session)
    admin = make_user(session, settings, org, "hub_admin", username="auditor-admin")
    target = make_user(session, settings, org, "trainee", username="target1")
    resp = client.patch(f"/users/{target.id}", headers=login(client, admin.username),
                        json={"roles": ["trainee", "researcher"], "reason": "new duties"})
    assert resp.status_code == 200
    entries = _entries(session, target.id)
    assert [e.action for e in entries] == ["create", "update"]
    create, update = entries
    assert create.new_values is not None
    assert create.new_values["password_hash"] == "[redacted]"
    assert update.old_values == {"roles": ["trainee"]}
    assert update.new_values == {"roles": ["trainee", "researcher"]}
    assert update.reason == "new duties"
    assert update.actor_id == admin.id and update.actor_org_id == org.id
    assert update.ts.tzinfo is not None


def test_modification_without_reason_is_refused(session: Session, settings: Settings) -> None:
    user = make_user(session, settings, make_org(session), username="noreason")
    user.full_name = "Changed silently"
    session.add(user)
    with pytest.raises(ValidationFailed) as exc:
        session.flush()
    assert exc.value.errors and exc.value.errors[0]["pointer"] == "/reason"
    session.rollback()


def test_update_without_reason_via_api_names_the_field(client: TestClient, session: Session,
                                                       settings: Settings) -> None:
    org = make_org(session)
    make_user(session, settings, org, "hub_admin", username="adm-r")
    target = make_user(session, settings, org, username="tgt-r")
    resp = client.patch(f"/users/{target.id}", headers=login(client, "adm-r"),
                        json={"full_name": "X"})
    body = assert_problem(resp, 422, "validation-error")
    assert "/body/reason" in [e["pointer"] for e in body["errors"]]


def test_chain_verifies_and_links(session: Session, settings: Settings) -> None:
    org = make_org(session)
    for i in range(3):
        make_user(session, settings, org, username=f"chain{i}")
    report = audit.verify_chain(session)
    assert report.ok and report.entries >= 4
    rows = list(session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))))
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))


def test_database_refuses_update_and_delete(session: Session, settings: Settings) -> None:
    make_user(session, settings, make_org(session), username="immutable")
    for stmt in ("UPDATE audit_entry SET reason = 'x'", "DELETE FROM audit_entry"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), session.begin_nested():
            session.execute(sa.text(stmt))


def _drop_triggers(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("DROP TRIGGER audit_entry_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_entry_no_delete"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_entry_no_change ON audit_entry"))


@pytest.mark.parametrize("tamper", ["edit", "delete", "relink"])
def test_direct_database_tampering_is_detected(tamper: str, client: TestClient,
                                               session: Session, settings: Settings) -> None:
    """An attacker with DDL rights drops the triggers and rewrites history: verify finds it."""
    org = make_org(session)
    admin = make_user(session, settings, org, "hub_admin", username="tamper-admin")
    for i in range(3):
        make_user(session, settings, org, username=f"victim{i}")
    rows = list(session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))))
    victim_seq = rows[len(rows) // 2].seq
    _drop_triggers(session)
    if tamper == "edit":
        session.execute(sa.text("UPDATE audit_entry SET actor_name = 'someone-else' "
                                "WHERE seq = :s"), {"s": victim_seq})
    elif tamper == "delete":
        session.execute(sa.text("DELETE FROM audit_entry WHERE seq = :s"), {"s": victim_seq})
    else:  # delete and renumber so the sequence has no gap: the hash link still breaks
        session.execute(sa.text("DELETE FROM audit_entry WHERE seq = :s"), {"s": victim_seq})
        session.execute(sa.text("UPDATE audit_entry SET seq = seq - 1 WHERE seq > :s"),
                        {"s": victim_seq})
    session.commit()
    session.expire_all()
    report = audit.verify_chain(session)
    assert not report.ok
    # a deleted entry is named by the gap it leaves; others by the entry that fails
    expected = victim_seq + 1 if tamper == "delete" else victim_seq
    assert report.first_broken_seq == expected
    if tamper == "delete":
        assert f"entry {victim_seq} is missing" in (report.problem or "")
    resp = client.get("/audit/verify", headers=login(client, admin.username))
    assert resp.status_code == 200
    body = resp.json()
    assert body["ok"] is False and body["first_broken_seq"] == expected
    assert body["problem"]


def test_audit_listing_is_scoped_to_the_organization(client: TestClient, session: Session,
                                                     settings: Settings) -> None:
    a, b = make_org(session), make_org(session)
    make_user(session, settings, a, "qa", username="qa-a")
    admin_b = make_user(session, settings, b, "hub_admin", username="adm-b")
    other = make_user(session, settings, b, username="b-user")
    client.patch(f"/users/{other.id}", headers=login(client, admin_b.username),
                 json={"full_name": "B renamed", "reason": "typo"})
    seen = client.get("/audit", headers=login(client, "qa-a"), params={"limit": 1000}).json()
    assert all(e["actor_org_id"] == a.id for e in seen)
    assert other.id not in {e["entity_id"] for e in seen}
    assert_problem(client.get("/audit", headers=login(client, "b-user")), 403)


def test_lockout_is_audited(client: TestClient, session: Session, settings: Settings) -> None:
    user = make_user(session, settings, make_org(session), username="lockme")
    for _ in range(settings.lockout_threshold):
        client.post("/auth/token", data={"username": "lockme", "password": "bad"})
    session.expire_all()
    locks = [e for e in _entries(session, user.id) if e.action == "lock"]
    assert len(locks) == 1 and locks[0].reason
    assert session.get(User, user.id).failed_attempts == settings.lockout_threshold  # type: ignore[union-attr]
    assert audit.verify_chain(session).ok
