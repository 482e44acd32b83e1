"""Demo step: a plant's quarterly compliance report from pre-filled draft to a regulator's
verified evidence bundle, all over HTTP (runs after the other steps and reuses what they made:
the Helix plant of the federated runs, its production model, the certified researcher)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import select

from hub.audit import service as audit
from hub.compliance.providers import SECTIONS
from hub.compliance.verify import verify_bundle
from hub.db import utcnow
from hub.identity import security
from hub.identity.models import Organization, User
from hub.sites.models import Site, SiteKind, SiteStatus

if TYPE_CHECKING:
    from hub.demo import DemoContext

ORG, SITE = "Helix Pharma", "sim-plant-1"
REGULATOR_ORG = "Alpine Medicines Agency"
PEOPLE = {  # user id -> (organization, roles, printed name)
    "sid.siteadmin": (ORG, ["site_admin"], "Sid Siteadmin"),
    "quinn.qa": (ORG, ["qa"], "Quinn QA"),
    "reto.regulator": (REGULATOR_ORG, ["regulator"], "Reto Regulator"),
}
OQ = {"protocol_id": "OQ-GRAN-07", "equipment": "helix/sim-plant-1/granulation/line-1/dryer-2",
      "stage": "OQ", "steps_total": 14, "steps_passed": 14, "result": "passed"}


def _passwords(ctx: DemoContext) -> dict[str, str]:
    from hub.demo import _all_passwords  # the demo's own credential file (data dir, 0600)

    return {**_all_passwords(ctx.settings), **ctx.credentials}


def _people(ctx: DemoContext) -> tuple[str, dict[str, str]]:
    """The organizations, the plant (created when the federation step did not) and people."""
    from hub.demo import demo_password, ensure_org, ensure_user, remember_password

    with ctx.db.session() as session:
        audit.set_actor(session, audit.Actor(id="system:demo", name="fedhub demo"))
        orgs = {ORG: ensure_org(session, ORG, "pharma", "CH"),
                REGULATOR_ORG: ensure_org(session, REGULATOR_ORG, "regulator",
                                          session.exec(select(Organization).where(
                                              Organization.name == ORG)).one().jurisdiction)}
        site = session.exec(select(Site).where(Site.organization_id == orgs[ORG].id,
                                               Site.name == SITE)).first()
        if site is None:
            site = Site(name=SITE, organization_id=orgs[ORG].id, kind=SiteKind.plant,
                        status=SiteStatus.active, requested_by="system:demo",
                        decided_at=datetime(2026, 1, 5, tzinfo=UTC),
                        location={"enterprise": "helix", "site": SITE})
            session.add(site)
            session.flush()
        for username, (org, roles, name) in PEOPLE.items():
            _, pw = ensure_user(session, ctx.settings, username, orgs[org], roles, name,
                                demo_password())
            if pw:
                ctx.credentials[username] = pw
                remember_password(ctx.settings, username, pw)
        session.commit()
        return site.id, _passwords(ctx)


def _login(ctx: DemoContext, username: str, passwords: dict[str, str]) -> dict[str, str]:
    if username in passwords:
        resp = ctx.client.post("/auth/token", data={"username": username,
                                                    "password": passwords[username]})
        resp.raise_for_status()
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}
    with ctx.db.session() as session:  # created by an earlier run whose passwords are gone
        user = session.exec(select(User).where(User.username == username)).one()
        token, _ = security.issue_token(ctx.settings, user.id, user.organization_id,
                                        list(user.roles))
    return {"Authorization": f"Bearer {token}"}


def _ok(resp: Any) -> Any:
    if resp.status_code >= 400:
        raise RuntimeError(f"{resp.request.method} {resp.request.url.path}: {resp.status_code} "
                           f"{resp.text[:500]}")
    return resp.json() if resp.headers.get("content-type", "").startswith("application/js") \
        else resp


def _report(ctx: DemoContext, site_id: str, admin: dict[str, str]) -> dict[str, Any]:
    """This period's report: the existing latest version, or a new pre-filled draft."""
    schedule = _ok(ctx.client.get(f"/compliance/schedules/{site_id}", headers=admin))
    period = schedule["last_ended_period"]
    existing = [r for r in _ok(ctx.client.get("/compliance/submissions", headers=admin,
                                              params={"site_id": site_id, "period": period}))]
    if existing:
        latest = max(existing, key=lambda r: r["version"])
        ctx.console.print(f"report for {period} exists (version {latest['version']}, "
                          f"{latest['status']})")
        return dict(_ok(ctx.client.get(f"/compliance/submissions/{latest['id']}",
                                       headers=admin)))
    report = _ok(ctx.client.post("/compliance/submissions", headers=admin,
                                 json={"site_id": site_id, "period": period}))
    ctx.console.print(f"draft for {SITE}, {period} ({schedule['frequency']}, due "
                      f"{schedule['last_ended_due_on']}) pre-filled from the hub's records:")
    for name in SECTIONS:
        state = report["sections"][name]
        ctx.console.print(f"  {name}: {len(report['content'][name])} item(s) — "
                          f"{state.get('source') or 'to complete by hand'}")
    return dict(report)


def _complete_and_sign(ctx: DemoContext, report: dict[str, Any], admin: dict[str, str],
                       qa: dict[str, str], passwords: dict[str, str]) -> dict[str, Any]:
    url = f"/compliance/submissions/{report['id']}"
    if report["status"] == "draft":
        oq = {**OQ, "executed_at": f"{report['period_start']}T09:00:00+00:00"}
        _ok(ctx.client.patch(f"{url}/sections/equipment_qualification", headers=admin,
                             json={"items": [oq], "reviewed": True,
                                   "reason": "OQ of the dryer executed this quarter"}))
        for name in SECTIONS:
            _ok(ctx.client.patch(f"{url}/sections/{name}", headers=admin, json={
                "reviewed": True, "reason": "checked against the plant's records"}))
        report = _ok(ctx.client.post(f"{url}/sign", headers=admin, json={
            "password": passwords.get("sid.siteadmin", ""), "comment": "complete and accurate"}))
        ctx.console.print(f"signed by sid.siteadmin (responsible); content sha256 "
                          f"{report['content_hash'][:16]}…")
    if report["status"] == "signed":
        report = _ok(ctx.client.post(f"{url}/cosign", headers=qa, json={
            "password": passwords.get("quinn.qa", ""), "comment": "QA review done"}))
        ctx.console.print("co-signed by quinn.qa (approved): submitted to the regulator")
    return report


def run(ctx: DemoContext) -> None:
    """Draft, complete, sign, co-sign; the regulator pulls and verifies the bundle offline."""
    ctx.console.rule("compliance submission and regulator pull")
    site_id, passwords = _people(ctx)
    admin = _login(ctx, "sid.siteadmin", passwords)
    qa = _login(ctx, "quinn.qa", passwords)
    regulator = _login(ctx, "reto.regulator", passwords)
    report = _complete_and_sign(ctx, _report(ctx, site_id, admin), admin, qa, passwords)
    if report["status"] != "approved":
        ctx.console.print(f"[yellow]report is {report['status']}; skipping the pull[/]")
        return
    listed = _ok(ctx.client.get("/compliance/submissions", headers=regulator,
                                params={"period": report["period_label"]}))
    ctx.console.print(f"reto.regulator ({REGULATOR_ORG}) sees {len(listed)} submission(s) "
                      f"for {report['period_label']}")
    bundle = _ok(ctx.client.get(f"/compliance/submissions/{report['id']}/bundle",
                                headers=regulator))
    out = ctx.settings.data_dir / "demo-compliance"
    out.mkdir(parents=True, exist_ok=True)
    jwks = _ok(ctx.client.get("/.well-known/jwks.json"))
    (out / "jwks.json").write_text(json.dumps(jwks, indent=2))
    path = out / f"bundle-{report['period_label'].replace('/', '_')}-v{report['version']}.zip"
    path.write_bytes(bundle.content)
    result = verify_bundle(bundle.content, jwks)
    ctx.console.print(f"evidence bundle {path.name}: {len(result.files)} files, offline "
                      f"verification ok={result.ok}; files in {out}")
    ctx.console.print(f"  fedhub compliance verify {path} --jwks {out / 'jwks.json'}")
    ctx.console.print(f"  fedhub compliance pull --since {report['period_start']} --out "
                      f"{out / 'pulled'} --hub {ctx.url} --user reto.regulator")
    log = _ok(ctx.client.get("/compliance/access-log", headers=admin))
    overdue = _ok(ctx.client.get("/compliance/overdue", headers=qa))
    ctx.console.print(f"{ORG} sees {len(log)} regulator access(es) in its access log; "
                      f"{len(overdue)} overdue report(s) across its sites")
    ctx.summary["compliance"] = {"report": report["id"], "period": report["period_label"],
                                 "bundle": str(path), "verified": result.ok,
                                 "accesses": len(log), "at": utcnow().isoformat()}
