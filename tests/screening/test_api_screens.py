"""Screening through the API: chemistry outcomes, per-row errors, organization scoping, diverse
ranking, results browsing and export, on a database of its own (jobs run in real threads)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from rdkit import Chem, DataStructs, RDConfig
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlmodel import Session

from hub.app import create_app
from hub.config import Settings
from hub.db import Database, make_engine
from hub.identity.principal import Principal
from hub.migrations import upgrade
from hub.qualifications import Holding, register_checker, unregister_checker
from hub.screening.depict import FAMILY_COLOURS
from hub.screening.predictors import morgan_generator
from tests.conftest import BACKENDS, PG_ENV
from tests.factories import assert_problem, login, make_org, make_user

NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "metformin": "CN(C)C(=N)NC(=N)N",
}
UNQUALIFIED = "unqualified-researcher"


def nci(n: int, start: int = 0) -> list[str]:
    """SMILES from RDKit's NCI sample."""
    lines = NCI.read_text().splitlines()[start:start + n]
    return [ln.split()[0] for ln in lines if ln.strip()]


def _checker(session: Session, who: Principal, qualification: str, as_of: datetime) -> Holding:
    """Test qualification source: everyone holds it except the unqualified researcher."""
    if who.name == UNQUALIFIED:
        return Holding(qualification, False, "not held")
    return Holding(qualification, True, "valid (test)")


def _engine(tmp: Path) -> Engine:
    param = os.environ.get("FEDHUB_SCREENING_TEST_BACKEND", "sqlite")
    if param == "postgres":
        url = make_url(os.environ[PG_ENV]).set(drivername="postgresql+psycopg")
        name = f"fedhub_screening_{os.getpid()}"
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return make_engine(url.set(database=name).render_as_string(hide_password=False))
    return make_engine(f"sqlite:///{tmp / 'screening.db'}")


@pytest.fixture(scope="module", params=BACKENDS)
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        dict[str, Any]]:
    """A hub on a migrated database of its own: the job threads commit for real."""
    tmp = tmp_path_factory.mktemp("screening")
    os.environ["FEDHUB_SCREENING_TEST_BACKEND"] = request.param
    engine = _engine(tmp)
    url = engine.url.render_as_string(hide_password=False)
    upgrade(url, engine=engine)
    settings = Settings(environment="test", data_dir=tmp / "hub", secret_key="s" * 40,
                        database_url=url, max_body_bytes=256 * 1024)
    db = Database(settings, engine)
    app = create_app(settings, db=db)
    register_checker(_checker)
    with db.session() as s:
        org, other = make_org(s), make_org(s)
        users = {"lab": make_user(s, settings, org, "researcher"),
                 "rival": make_user(s, settings, other, "researcher"),
                 "unqualified": make_user(s, settings, org, "researcher",
                                          username=UNQUALIFIED)}
    with TestClient(app, raise_server_exceptions=False) as client:
        heads = {k: login(client, u.username) for k, u in users.items()}
        yield {"client": client, "h": heads, "db": db, "settings": settings, "app": app,
               "users": {k: u.username for k, u in users.items()}}
    unregister_checker(_checker)
    runner = getattr(app.state, "screen_runner", None)
    if runner is not None:
        runner.stop()
    engine.dispose()


def submit(hub: dict[str, Any], who: str = "lab", **body: Any) -> dict[str, Any]:
    resp = hub["client"].post("/screens", json=body, headers=hub["h"][who])
    assert resp.status_code == 202, resp.text
    assert resp.headers["location"] == f"/screens/{resp.json()['id']}"
    return dict(resp.json())


def wait(hub: dict[str, Any], sid: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = hub["client"].get(f"/screens/{sid}", headers=hub["h"]["lab"]).json()
        if body["status"] not in ("queued", "running"):
            return dict(body)
        time.sleep(0.2)
    raise AssertionError(f"screen {sid} did not finish: {body}")


def results(hub: dict[str, Any], sid: str, **params: Any) -> dict[str, Any]:
    resp = hub["client"].get(f"/screens/{sid}/results", params={"per_page": 500, **params},
                             headers=hub["h"]["lab"])
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.fixture(scope="module")
def mixed(hub: dict[str, Any]) -> dict[str, Any]:
    """Drugs, PAINS, a salt, a duplicate under another id and two broken rows."""
    entries = [*DRUGS.items(),
               ("rhodanine", "O=C1NC(=S)SC1=Cc1ccccc1"), ("catechol", "Oc1ccccc1O"),
               ("ethanol-hcl", "CCO.Cl"), ("broken", "C1CC(C"), ("aspirin-again",
               "O=C(O)c1ccccc1OC(C)=O"), ("valence", "C(C)(C)(C)(C)C")]
    screen = submit(hub, name="mixed", smiles=[s for _, s in entries],
                    ids=[i for i, _ in entries])
    done = wait(hub, screen["id"])
    rows = results(hub, screen["id"])["items"]
    return {"screen": done, "by_id": {r["input_id"]: r for r in rows}, "rows": rows}


def test_known_drugs_pass_lipinski(mixed: dict[str, Any]) -> None:
    assert mixed["screen"]["status"] == "completed"
    for name in DRUGS:
        assert mixed["by_id"][name]["passes_lipinski"], mixed["by_id"][name]


def test_pains_flagged_with_family(mixed: dict[str, Any]) -> None:
    rhod = {(a["family"], a["name"]) for a in mixed["by_id"]["rhodanine"]["alerts"]}
    assert any(f == "PAINS_A" and n.startswith("ene_rhod") for f, n in rhod), rhod
    cat = {(a["family"], a["name"]) for a in mixed["by_id"]["catechol"]["alerts"]}
    assert any(f == "PAINS_B" and n.startswith("catechol") for f, n in cat), cat
    assert all(not r["alerts"] for k, r in mixed["by_id"].items() if k in ("caffeine",))


def test_salts_stripped(mixed: dict[str, Any]) -> None:
    row = mixed["by_id"]["ethanol-hcl"]
    assert row["smiles"] == "CCO" and row["input_smiles"] == "CCO.Cl"
    assert any("Cl" in note for note in row["standardization"])


def test_duplicates_merge(hub: dict[str, Any], mixed: dict[str, Any]) -> None:
    aspirin = mixed["by_id"]["aspirin"]
    assert "aspirin-again" not in mixed["by_id"] and aspirin["n_inputs"] == 2
    sid = mixed["screen"]["id"]
    detail = hub["client"].get(f"/screens/{sid}/molecules/{aspirin['idx']}",
                               headers=hub["h"]["lab"]).json()
    assert [(i["row"], i["id"]) for i in detail["inputs"]] == [(1, "aspirin"),
                                                              (10, "aspirin-again")]
    summary = hub["client"].get(f"/screens/{sid}/summary", headers=hub["h"]["lab"]).json()
    assert summary["summary"]["duplicates_merged"] == 1


def test_invalid_rows_reported_rest_screened(hub: dict[str, Any], mixed: dict[str, Any]) -> None:
    sid = mixed["screen"]["id"]
    errs = hub["client"].get(f"/screens/{sid}/errors", headers=hub["h"]["lab"]).json()
    by_row = {e["row"]: e for e in errs["items"]}
    assert set(by_row) == {9, 11} and errs["total"] == 2
    assert by_row[9]["input_id"] == "broken"
    assert "extra open parentheses" in by_row[9]["reason"].lower()
    assert by_row[11]["input_id"] == "valence" and "valence" in by_row[11]["reason"].lower()
    s = mixed["screen"]
    assert (s["total"], s["done"], s["failed_count"], s["unique_count"]) == (11, 11, 2, 8)
    assert len(mixed["rows"]) == 8


def test_other_organization_cannot_read(hub: dict[str, Any], mixed: dict[str, Any]) -> None:
    sid = mixed["screen"]["id"]
    c, rival = hub["client"], hub["h"]["rival"]
    for path in ("", "/results", "/ranking", "/errors", "/summary", "/export.csv",
                 "/molecules/0", "/molecules/0/depiction.svg"):
        assert_problem(c.get(f"/screens/{sid}{path}", headers=rival), 404, "not-found")
    assert_problem(c.post(f"/screens/{sid}/cancel", headers=rival), 404)
    assert sid not in {s["id"] for s in c.get("/screens", headers=rival).json()}
    assert sid in {s["id"] for s in c.get("/screens", headers=hub["h"]["lab"]).json()}


def test_filters_sort_and_pages(hub: dict[str, Any], mixed: dict[str, Any]) -> None:
    sid = mixed["screen"]["id"]
    clean = results(hub, sid, passes_lipinski="true", has_alerts="false", sort="-qed")
    assert clean["total"] == len(clean["items"]) > 0
    assert all(r["passes_lipinski"] and r["alert_count"] == 0 for r in clean["items"])
    qeds = [r["qed"] for r in clean["items"]]
    assert qeds == sorted(qeds, reverse=True)
    flagged = results(hub, sid, has_alerts="true")["items"]
    assert {r["input_id"] for r in flagged} >= {"rhodanine", "catechol"}
    assert len(flagged) + clean["total"] <= 8
    p1 = results(hub, sid, per_page=4, page=1, sort="row")
    p3 = results(hub, sid, per_page=4, page=3, sort="row")  # past the end: empty
    assert (p1["pages"], len(p1["items"]), len(p3["items"])) == (2, 4, 0)
    assert [r["row"] for r in p1["items"]] == sorted(r["row"] for r in p1["items"])
    bad = hub["client"].get(f"/screens/{sid}/results?sort=-colour", headers=hub["h"]["lab"])
    assert assert_problem(bad, 422)["errors"][0]["pointer"] == "/query/sort"


def test_ranking_reasons_export_and_depiction(hub: dict[str, Any], mixed: dict[str, Any]) -> None:
    sid, c, h = mixed["screen"]["id"], hub["client"], hub["h"]["lab"]
    ranked = c.get(f"/screens/{sid}/ranking", headers=h).json()
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert all(r["reason"].startswith("priority") for r in ranked)
    csv_text = c.get(f"/screens/{sid}/export.csv", headers=h)
    assert csv_text.headers["content-type"].startswith("text/csv")
    lines = csv_text.text.strip().splitlines()
    header = lines[0].split(",")
    assert {"rank", "priority", "qed", "sa_score", "alerts", "rank_reason", "ids"} <= set(header)
    assert len(lines) == 1 + 8
    assert "aspirin;aspirin-again" in csv_text.text
    sdf = c.get(f"/screens/{sid}/export.sdf", headers=h).text
    assert sdf.count("$$$$") == 8 and ">  <alerts>" in sdf
    rhod = mixed["by_id"]["rhodanine"]
    svg = c.get(f"/screens/{sid}/molecules/{rhod['idx']}/depiction.svg", headers=h)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    pains = "#" + "".join(f"{int(x * 255):02X}" for x in FAMILY_COLOURS["PAINS_A"])
    assert svg.text.lstrip().startswith("<svg") and pains in svg.text.upper()
    plain = c.get(f"/screens/{sid}/molecules/{mixed['by_id']['caffeine']['idx']}/depiction.svg",
                  headers=h)
    assert plain.status_code == 200 and pains not in plain.text.upper()


def test_ranking_is_diverse(hub: dict[str, Any]) -> None:
    threshold = 0.4
    screen = submit(hub, smiles=nci(400), options={"top_n": 10,
                                                  "similarity_threshold": threshold})
    assert wait(hub, screen["id"])["status"] == "completed"
    ranked = hub["client"].get(f"/screens/{screen['id']}/ranking",
                               headers=hub["h"]["lab"]).json()
    assert len(ranked) == 10
    gen = morgan_generator()
    fps = [gen.GetFingerprint(Chem.MolFromSmiles(r["molecule"]["smiles"])) for r in ranked]
    for i in range(len(fps)):
        for j in range(i):
            sim = DataStructs.TanimotoSimilarity(fps[i], fps[j])
            assert sim <= threshold or "filled" in ranked[i]["reason"], (i, j, sim)
    priorities = [r["molecule"]["priority"] for r in ranked]
    assert priorities[0] == max(r["priority"] for r in results(hub, screen["id"])["items"])


def test_csv_and_sdf_uploads(hub: dict[str, Any]) -> None:
    c, h = hub["client"], hub["h"]["lab"]
    csv_body = "compound_id,smiles\nD1,CCO\nD2,not-a-smiles\nD3,c1ccccc1O\n"
    resp = c.post("/screens", files={"file": ("lib.csv", csv_body, "text/csv")},
                  data={"name": "csv lib", "options": '{"top_n": 2}'}, headers=h)
    assert resp.status_code == 202, resp.text
    done = wait(hub, resp.json()["id"])
    assert (done["input_format"], done["total"], done["failed_count"]) == ("csv", 3, 1)
    errs = c.get(f"/screens/{done['id']}/errors", headers=h).json()["items"]
    assert [(e["row"], e["input_id"]) for e in errs] == [(3, "D2")]
    sdf = "".join(f"{Chem.MolToMolBlock(Chem.MolFromSmiles(s))}>  <ID>\nM{i}\n\n$$$$\n"
                  for i, s in enumerate(["CCN", "c1ccncc1"]))
    raw = c.post("/screens?id_property=ID&name=sdf", content=sdf,
                 headers={**h, "content-type": "chemical/x-mdl-sdfile"})
    assert raw.status_code == 202, raw.text
    done = wait(hub, raw.json()["id"])
    ids = {r["input_id"] for r in results(hub, done["id"])["items"]}
    assert done["input_format"] == "sdf" and ids == {"M0", "M1"}
