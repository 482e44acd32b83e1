"""CSV and SDF export and SVG depictions of screening results."""

from __future__ import annotations

import csv
import io
import re

import pytest
from rdkit import Chem

from hub.screening.depict import depict_result, depict_svg
from hub.screening.export import fields, iter_csv, write_csv, write_failures_csv, write_sdf
from hub.screening.inputs import InputRecord
from hub.screening.pipeline import ScreenConfig, screen
from hub.screening.predictors import CallablePredictor, esol_logs
from hub.screening.ranking import PredictionGoal, RankingWeights
from hub.screening.results import ScreenResult

SMILES = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "S=C1SC(=Cc2ccccc2)C(=O)N1",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "nonsense",
    "CC(=O)Oc1ccccc1C(=O)[O-].[Na+]",
]


@pytest.fixture(scope="module")
def result() -> ScreenResult:
    recs = [InputRecord(row=i + 1, id=f"cmpd-{i + 1}", structure=s) for i, s in enumerate(SMILES)]
    weights = RankingWeights(predictions={"esol": PredictionGoal(low=-8, high=0)})
    model = CallablePredictor("esol", "logS", esol_logs)
    return screen(recs, ScreenConfig(weights=weights, top_n=3), [model])


def test_csv_has_every_field_per_molecule(result: ScreenResult) -> None:
    buf = io.StringIO()
    assert write_csv(result.ranked_molecules(), buf) == 3
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert list(rows[0]) == fields(["esol"])
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    aspirin = next(r for r in rows if r["smiles"] == Chem.CanonSmiles(SMILES[0]))
    assert aspirin["ids"] == "cmpd-1;cmpd-5" and aspirin["rows"] == "1;5"
    assert float(aspirin["qed"]) == pytest.approx(0.5501, abs=1e-4)
    assert aspirin["lipinski_pass"] == "true"
    assert aspirin["pred_esol_in_domain"] == "true"
    rhodanine = next(r for r in rows if "PAINS_A: ene_rhod_A(235)" in r["alerts"])
    assert int(rhodanine["alert_count"]) == len(rhodanine["alerts"].split("; "))
    assert rhodanine["rank_reason"].startswith("priority ")


def test_csv_streams_one_line_per_molecule(result: ScreenResult) -> None:
    chunks = list(iter_csv(result.molecules))
    assert len(chunks) == len(result.molecules)
    assert chunks[0].startswith("rank,id,ids,rows,smiles")
    assert list(iter_csv([])) == [",".join(fields([])) + "\n"]


def test_sdf_round_trips_with_tags(result: ScreenResult) -> None:
    buf = io.StringIO()
    assert write_sdf(result.molecules, buf) == len(result.molecules)
    supplier = Chem.SDMolSupplier()
    supplier.SetData(buf.getvalue())
    mols = [m for m in supplier if m is not None]
    assert len(mols) == len(result.molecules)
    for mol, m in zip(mols, result.molecules, strict=True):
        assert Chem.MolToSmiles(mol) == m.smiles
        assert mol.GetProp("_Name") == m.id
        assert mol.GetProp("inchikey") == m.inchikey
        assert float(mol.GetProp("sa_score")) == pytest.approx(m.properties.sa_score, abs=1e-4)
        assert mol.GetConformer().Is3D() is False


def test_failures_csv(result: ScreenResult) -> None:
    buf = io.StringIO()
    assert write_failures_csv(result.failures, buf) == 1
    (row,) = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert row["row"] == "4" and row["id"] == "cmpd-4" and "SMILES Parse Error" in row["reason"]


def _colours(svg: str) -> set[str]:
    return {c.upper() for c in re.findall(r"#[0-9A-Fa-f]{6}", svg)}


def test_alert_atoms_are_highlighted(result: ScreenResult) -> None:
    rhodanine = next(m for m in result.molecules if any(a.family == "PAINS_A" for a in m.alerts))
    svg = depict_result(rhodanine)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "class='legend'" in svg  # the id is drawn as the legend
    plain = depict_svg(rhodanine.smiles)
    assert not re.search(r"<\?xml", plain)
    extra = _colours(svg) - _colours(plain)
    assert extra, "highlighting adds colour"
    r, g, b = (int(next(iter(extra))[i : i + 2], 16) for i in (1, 3, 5))
    assert r > g and r > b  # PAINS atoms are drawn in red


def test_depict_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="cannot depict"):
        depict_svg("not a molecule")
