"""Demo step: a researcher earns the screening qualification and the certificate is verified."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select

from hub.demo import DemoContext, demo_password, ensure_org, ensure_user, remember_password
from hub.identity import security
from hub.identity.models import User
from training_portal import service as courses
from training_portal.credentials import verify_credential
from training_portal.models import Attempt, Course

ORG = "Helix Pharma"
TRAINEE = "rita.researcher"
COURSE = "molecular-screening"
QUALIFICATION = "molecular-screening-model-application"


def _key(ctx: DemoContext, attempt_id: str) -> dict[str, Any]:
    """The demo plays a trainee who knows the material: answers from the server's key."""
    with ctx.db.session() as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return {q["id"]: q.get("answer", q.get("value")) for q in attempt.questions}


def _login(ctx: DemoContext) -> dict[str, str]:
    with ctx.db.session() as session:
        org = ensure_org(session, ORG, "pharma", "CH")
        user, password = ensure_user(session, ctx.settings, TRAINEE, org,
                                     ["researcher", "trainee"], "Rita Researcher",
                                     demo_password())
        session.commit()
        if password:
            ctx.credentials[TRAINEE] = password
            remember_password(ctx.settings, TRAINEE, password)
        password = password or ctx.credentials.get(TRAINEE)
        if password is None:  # an earlier run created her; the demo mints her a token
            token, _ = security.issue_token(ctx.settings, user.id, user.organization_id,
                                            list(user.roles))
            return {"Authorization": f"Bearer {token}"}
    resp = ctx.client.post("/auth/token", data={"username": TRAINEE, "password": password})
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _earn(ctx: DemoContext, h: dict[str, str]) -> str:
    """Enroll, study every module, pass the assessment; returns the certificate id."""
    c = ctx.client
    enrollment = c.post("/training/enrollments", json={"course_id": COURSE}, headers=h)
    enrollment.raise_for_status()
    eid = enrollment.json()["id"]
    for m in c.get(f"/training/enrollments/{eid}", headers=h).json()["modules"]:
        c.post(f"/training/enrollments/{eid}/modules/{m['slug']}/complete",
               headers=h).raise_for_status()
    attempt = c.post(f"/training/enrollments/{eid}/attempts", headers=h)
    attempt.raise_for_status()
    aid = attempt.json()["id"]
    ctx.console.print(f"  assessment: {len(attempt.json()['questions'])} questions drawn, "
                      "answers graded on the hub")
    grade = c.post(f"/training/attempts/{aid}/submit", json={"answers": _key(ctx, aid)},
                   headers=h)
    grade.raise_for_status()
    ctx.console.print(f"  graded: score {grade.json()['score']:.0%}, passed="
                      f"{grade.json()['passed']}")
    return str(grade.json()["certificate_id"])


def run(ctx: DemoContext) -> None:
    """Seed courses, certify a researcher over HTTP, verify online and offline, remind."""
    ctx.console.rule("training and certification")
    with ctx.db.session() as session:
        added = courses.seed_courses(session)
        session.commit()
        titles = [v.title for c in session.exec(select(Course).order_by(col(Course.slug)))
                  if (v := courses.current_version(session, c.id)) is not None]
    ctx.console.print(f"seed courses: {len(titles)} ({'; '.join(titles)})"
                      + (f", added {', '.join(added)}" if added else ""))
    h = _login(ctx)
    held = {q["qualification"]: q for q in ctx.client.get("/training/me/qualifications",
                                                          headers=h).json()}
    if held[QUALIFICATION]["valid"]:
        cert_id = str(held[QUALIFICATION]["certificate_id"])
        ctx.console.print(f"{TRAINEE} already holds {QUALIFICATION}")
    else:
        ctx.console.print(f"{TRAINEE} takes the course {COURSE} over HTTP")
        cert_id = _earn(ctx, h)
    online = ctx.client.get(f"/certificates/{cert_id}/verify").json()
    ctx.console.print(f"certificate {cert_id}: online verification valid={online['valid']}")

    out = ctx.settings.data_dir / "demo-certificate"
    out.mkdir(parents=True, exist_ok=True)
    token = ctx.client.get(f"/training/certificates/{cert_id}/credential", headers=h).text
    jwks = ctx.client.get("/.well-known/jwks.json").json()
    status = ctx.client.get("/certificates/status/r1").text
    (out / "certificate.jwt").write_text(token)
    (out / "jwks.json").write_text(json.dumps(jwks, indent=2))
    (out / "status-list.jwt").write_text(status)
    (out / "certificate.pdf").write_bytes(
        ctx.client.get(f"/training/certificates/{cert_id}/pdf", headers=h).content)
    offline = verify_credential(token, jwks, status_list_fetcher=lambda _url: status)
    ctx.console.print(f"offline verification valid={offline.valid}; files in {out}")
    ctx.console.print(f"  fedhub cert verify {out / 'certificate.jwt'} --jwks "
                      f"{out / 'jwks.json'} --status-list {out / 'status-list.jwt'}")
    reminders = ctx.client.post("/training/reminders", headers=ctx.admin_headers).json()
    ctx.console.print(f"expiry reminders: {reminders['created']} new notice(s) "
                      f"(lead time {reminders['lead_days']} days)")
    with ctx.db.session() as session:
        user = session.exec(select(User).where(User.username == TRAINEE)).one()
        ctx.summary["training"] = {"certificate": cert_id, "holder": user.full_name,
                                   "valid": online["valid"] and offline.valid}
