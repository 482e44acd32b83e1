"""Demo step: the certified researcher screens 500 NCI molecules plus known drugs and PAINS."""

from __future__ import annotations

import time
from pathlib import Path

from rdkit import RDConfig
from sqlmodel import select

from hub.demo import DemoContext
from hub.identity import security
from hub.identity.models import User

RESEARCHER = "rita.researcher"  # certified by the training demo step, which runs first
EXTRA = [
    ("aspirin", "CC(=O)Oc1ccccc1C(=O)O"), ("ibuprofen", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"),
    ("paracetamol", "CC(=O)Nc1ccc(O)cc1"), ("caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"),
    ("imatinib", "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"),
    ("pains-rhodanine", "O=C1NC(=S)SC1=Cc1ccccc1"), ("pains-catechol", "Oc1ccccc1O"),
    ("pains-azo", "Nc1ccc(N=Nc2ccccc2)cc1"), ("sodium-salt", "CC(=O)[O-].[Na+]"),
    ("aspirin-duplicate", "O=C(O)c1ccccc1OC(C)=O"), ("not-a-molecule", "C1CC(C"),
]  # fmt: skip


def _headers(ctx: DemoContext) -> dict[str, str]:
    password = ctx.credentials.get(RESEARCHER)
    if password:
        resp = ctx.client.post("/auth/token", data={"username": RESEARCHER,
                                                    "password": password})
        resp.raise_for_status()
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}
    with ctx.db.session() as session:  # created by an earlier run: mint her a token
        user = session.exec(select(User).where(User.username == RESEARCHER)).one()
        token, _ = security.issue_token(ctx.settings, user.id, user.organization_id,
                                        list(user.roles))
    return {"Authorization": f"Bearer {token}"}


def library(n: int = 500) -> str:
    """A CSV: the first `n` NCI structures plus drugs, PAINS, a salt, a duplicate, a typo."""
    nci = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    rows = ["id,smiles"]
    for line in nci.read_text().splitlines()[:n]:
        parts = line.split()
        if parts:
            rows.append(f"NCI-{parts[1] if len(parts) > 1 else len(rows)},{parts[0]}")
    rows += [f"{i},{s}" for i, s in EXTRA]
    return "\n".join(rows) + "\n"


def run(ctx: DemoContext) -> None:
    """Submit a screen as the qualified researcher over HTTP, wait, print the ranked top."""
    ctx.console.rule("molecular candidate screening")
    h = _headers(ctx)
    c = ctx.client
    resp = c.post("/screens", headers=h, files={"file": ("demo-library.csv", library(),
                                                         "text/csv")},
                  data={"name": "demo: NCI 500 + drugs + PAINS",
                        "options": '{"top_n": 10, "similarity_threshold": 0.6}'})
    resp.raise_for_status()
    screen = resp.json()
    ctx.console.print(f"{RESEARCHER} submitted screen {screen['id']} ({screen['total']} "
                      "records) — runs as a background job in the hub")
    started = time.monotonic()
    while screen["status"] in ("queued", "running"):
        time.sleep(0.5)
        screen = c.get(f"/screens/{screen['id']}", headers=h).json()
    p = screen["progress"]
    ctx.console.print(f"screen {screen['status']} in {time.monotonic() - started:.1f} s: "
                      f"{p['done']}/{p['total']} records, {screen['unique_count']} unique, "
                      f"{screen['failed_count']} failed; models: "
                      f"{', '.join(m['name'] for m in screen['models']) or 'none in production'}")
    sid = screen["id"]
    summary = c.get(f"/screens/{sid}/summary", headers=h).json()["summary"] or {}
    ctx.console.print(f"  Lipinski pass {summary.get('lipinski_pass')}, Veber pass "
                      f"{summary.get('veber_pass')}, alert-free {summary.get('alert_free')}, "
                      f"alert families {summary.get('alert_families')}")
    errors = c.get(f"/screens/{sid}/errors", headers=h).json()["items"]
    for e in errors[:3]:
        ctx.console.print(f"  row {e['row']} ({e['input_id']}) not screened: {e['reason'][:90]}")
    ctx.console.print("  top of the diverse ranking:")
    for r in c.get(f"/screens/{sid}/ranking", headers=h).json()[:10]:
        m = r["molecule"]
        ctx.console.print(f"  #{r['rank']:>2} {m['input_id']:<18} {m['smiles'][:38]:<38} "
                          f"{r['reason']}", highlight=False, markup=False)
    ctx.console.print(f"  browse: {ctx.url}/web/screens/{sid}   export: "
                      f"{ctx.url}/screens/{sid}/export.csv")
    ctx.summary["screening"] = {"screen": sid, "status": screen["status"],
                                "unique": screen["unique_count"]}
