"""The whole screen: duplicates, failures, predictions, priority, diverse ranking, summary."""

from __future__ import annotations

import itertools
import json

import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdMolDescriptors as rdmd

from hub.screening.inputs import InputRecord, iter_records
from hub.screening.pipeline import ScreenConfig, ScreeningEngine, screen
from hub.screening.predictors import (
    CallablePredictor,
    RangeDomain,
    TanimotoDomain,
    esol_logs,
    morgan_generator,
)
from hub.screening.ranking import PredictionGoal, RankingWeights
from tests.screening.conftest import NCI_PATH

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def _recs(smiles: list[str]) -> list[InputRecord]:
    return [InputRecord(row=i + 1, id=f"m{i + 1}", structure=s) for i, s in enumerate(smiles)]


def heavy_atoms(mol: Chem.Mol) -> float:
    """A toy model: the number of heavy atoms."""
    return float(mol.GetNumHeavyAtoms())


def test_duplicates_merge_keeping_every_id_and_row() -> None:
    recs = _recs([ASPIRIN, "OC(=O)c1ccccc1OC(C)=O", "CCO", "CC(=O)Oc1ccccc1C(=O)[O-].[Na+]"])
    result = screen(recs)
    assert result.summary.unique == 2
    assert result.summary.duplicates_merged == 2
    aspirin = next(m for m in result.molecules if m.smiles == Chem.CanonSmiles(ASPIRIN))
    assert aspirin.ids == ["m1", "m2", "m4"]
    assert aspirin.rows == [1, 2, 4]
    assert aspirin.inchikey == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"


def test_invalid_rows_reported_with_row_and_reason_while_rest_is_screened() -> None:
    text = "CCO ok-1\nC1CC( broken\nc1cccc1 bad-ring\nc1ccccc1 ok-2\nC(C)(C)(C)(C)C pentavalent\n"
    result = screen(iter_records(text))
    assert sorted(m.id for m in result.molecules) == ["ok-1", "ok-2"]
    failures = {f.row: f for f in result.failures}
    assert set(failures) == {2, 3, 5}
    assert failures[2].id == "broken" and "SMILES Parse Error" in failures[2].reason
    assert "kekulize" in failures[3].reason
    assert "valence" in failures[5].reason.lower()
    assert all(f.stage == "parse" for f in failures.values())
    assert result.summary.records == 5 and result.summary.failed == 3


def test_every_molecule_carries_its_computed_fields() -> None:
    (m,) = screen(_recs(["O=C1C=CC(=O)C=C1"])).molecules
    assert m.properties.mw == pytest.approx(108.096, abs=1e-3)
    assert {(a.family, a.name) for a in m.alerts} >= {("PAINS_A", "quinone_A(370)")}
    assert m.lipinski.passed and m.veber.passed
    assert m.priority_terms["alerts"] < 0
    assert 0 <= m.priority <= 1
    json.dumps(m.to_dict())  # plain JSON all the way down


def test_alerts_lower_priority() -> None:
    clean, flagged = screen(_recs(["Oc1ccc(C)cc1C", "Oc1ccc(C)cc1O"])).molecules
    assert not clean.alerts and flagged.alerts
    no_penalty = RankingWeights(alert_penalty=0)
    clean2, flagged2 = screen(
        _recs(["Oc1ccc(C)cc1C", "Oc1ccc(C)cc1O"]), ScreenConfig(weights=no_penalty)
    ).molecules
    assert flagged.priority < flagged2.priority
    assert clean.priority == clean2.priority


def test_predictions_with_domain_and_direction() -> None:
    train = ["CCCCO", "CCCCCO", "CCCCCCO", "CCCCCCCO"]
    model = CallablePredictor("size", "heavy atoms", heavy_atoms, domain=TanimotoDomain(train, 0.5))
    recs = _recs(["CCCCCO", "CCCCCCCCO", "c1ccc2ccccc2c1"])
    for direction in ("up", "down"):
        goal = PredictionGoal(low=0, high=20, direction=direction)
        weights = RankingWeights(qed=0, sa=0, predictions={"size": goal})
        small, large, naphthalene = screen(recs, ScreenConfig(weights=weights), [model]).molecules
        assert [small.prediction("size").value, large.prediction("size").value] == [6.0, 9.0]  # type: ignore[union-attr]
        assert small.prediction("size").in_domain and large.prediction("size").in_domain  # type: ignore[union-attr]
        assert not naphthalene.prediction("size").in_domain  # type: ignore[union-attr]
        assert "predicted heavy atoms 10.00 (OUT of domain)" in (naphthalene.rank_reason or "")
        if direction == "up":
            assert large.priority > small.priority
        else:
            assert small.priority > large.priority


def test_out_of_domain_predictions_pull_toward_neutral() -> None:
    everywhere = CallablePredictor("size", "heavy atoms", heavy_atoms)
    nowhere = CallablePredictor(
        "size", "heavy atoms", heavy_atoms, domain=TanimotoDomain(["c1ccccc1"], 0.99)
    )
    goal = PredictionGoal(low=0, high=20)
    w = RankingWeights(
        qed=0,
        sa=0,
        predictions={"size": goal},
        alert_penalty=0,
        lipinski_penalty=0,
        veber_penalty=0,
    )
    recs = _recs(["CCCCCCCCCCCCCCCCCO"])  # 18 heavy atoms: desirability 0.9
    (a,) = screen(recs, ScreenConfig(weights=w), [everywhere]).molecules
    (b,) = screen(recs, ScreenConfig(weights=w), [nowhere]).molecules
    assert a.priority == pytest.approx(0.9)
    assert b.priority == pytest.approx(0.5 + (0.9 - 0.5) * (1 - w.out_of_domain_shrink))


def test_range_domain() -> None:
    def feats(mols: list[Chem.Mol]) -> list[list[float]]:
        return [[rdmd.CalcExactMolWt(m)] for m in mols]

    train = [Chem.MolFromSmiles(s) for s in ("CCO", "CCCCCCO")]
    domain = RangeDomain(feats, train)  # type: ignore[arg-type]
    inside, outside = Chem.MolFromSmiles("CCCCO"), Chem.MolFromSmiles("CCCCCCCCCCCCO")
    assert domain.contains([inside, outside]) == [True, False]


def _tanimoto(a: str, b: str) -> float:
    gen = morgan_generator()
    fa, fb = (gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in (a, b))
    return float(DataStructs.TanimotoSimilarity(fa, fb))


def test_ranking_is_diverse_on_nci() -> None:
    recs = list(itertools.islice(iter_records(NCI_PATH), 600))
    model = CallablePredictor("esol", "logS", esol_logs)
    weights = RankingWeights(predictions={"esol": PredictionGoal(low=-8, high=0)})
    result = screen(recs, ScreenConfig(top_n=10, weights=weights), [model])
    top = result.ranked_molecules()
    assert len(top) == 10 and all(p.diverse for p in result.ranking)
    for x, y in itertools.combinations(top, 2):
        assert _tanimoto(x.smiles, y.smiles) <= 0.7
    for rank, (pick, m) in enumerate(zip(result.ranking, top, strict=True), start=1):
        assert pick.rank == m.rank == rank
        assert m.rank_reason and m.rank_reason.startswith(f"priority {m.priority:.2f}: QED")
        assert "predicted logS" in m.rank_reason
        if rank > 1:
            assert f"most similar picked #{pick.most_similar_rank} at" in m.rank_reason
    # the best molecule always leads; a skipped molecule is one too close to a pick
    assert top[0].priority == max(m.priority for m in result.molecules)


def test_ranking_fills_up_when_diversity_runs_out() -> None:
    homologs = ["C" * n + "O" for n in range(6, 18)]  # long alcohols: all alike
    result = screen(_recs([*homologs, "c1ccncc1"]), ScreenConfig(top_n=5, similarity_threshold=0.5))
    diverse = [p for p in result.ranking if p.diverse]
    filled = [p for p in result.ranking if not p.diverse]
    assert len(result.ranking) == 5
    assert 2 <= len(diverse) < 5 and filled
    assert all("filled: too few diverse candidates" in p.reason for p in filled)
    assert all(p.similarity is not None and p.similarity > 0.5 for p in filled)
    picked = [result.molecules[p.index].smiles for p in diverse]
    for a, b in itertools.combinations(picked, 2):
        assert _tanimoto(a, b) <= 0.5


def test_summary_counts_agree_with_molecules() -> None:
    recs = list(itertools.islice(iter_records(NCI_PATH), 400))
    result = ScreeningEngine(ScreenConfig(top_n=20)).run(recs)
    s, mols = result.summary, result.molecules
    assert s.records == 400 == s.screened + s.failed
    assert s.unique == len(mols)
    assert s.lipinski_pass == sum(m.lipinski.passed for m in mols)
    assert s.veber_pass == sum(m.veber.passed for m in mols)
    assert s.alert_free == sum(not m.alerts for m in mols)
    assert s.alert_families["Brenk"] == sum(
        any(a.family == "Brenk" for a in m.alerts) for m in mols
    )
    assert sum(s.histograms["qed"].counts) == s.histograms["qed"].n == len(mols)
    assert s.histograms["mw"].maximum == max(m.properties.mw for m in mols)
    json.dumps(result.to_dict())


def test_progress_reaches_total() -> None:
    seen: list[tuple[int, int | None]] = []
    recs = _recs(["CCO", "CCN", "CCC", "CCCl", "CCBr"])
    ScreeningEngine(ScreenConfig(chunk_size=2)).run(
        recs, progress_cb=lambda d, t: seen.append((d, t))
    )
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_engine_matches_plain_rdkit_on_nci_sample() -> None:
    """Every number the engine reports equals what plain RDKit calls give for the same input."""
    from rdkit.Chem import QED
    from rdkit.Chem.MolStandardize import rdMolStandardize
    from rdkit.Contrib.SA_Score import sascorer

    from hub.screening.alerts import build_catalog

    recs = list(itertools.islice(iter_records(NCI_PATH), 1000, 1400))
    result = screen(recs, ScreenConfig(), [CallablePredictor("esol", "logS", esol_logs)])
    by_row = {row: m for m in result.molecules for row in m.rows}
    catalog = build_catalog()
    chooser, uncharger = rdMolStandardize.LargestFragmentChooser(), rdMolStandardize.Uncharger()
    checked = 0
    for rec in recs:
        raw = Chem.MolFromSmiles(rec.structure)
        if raw is None:
            assert rec.row in {f.row for f in result.failures}
            continue
        ref = uncharger.uncharge(chooser.choose(rdMolStandardize.Cleanup(raw)))
        m = by_row[rec.row]
        assert m.smiles == Chem.MolToSmiles(ref)
        assert m.inchikey == Chem.MolToInchiKey(ref)
        assert m.properties.qed == pytest.approx(QED.qed(ref), abs=1e-9)
        assert m.properties.sa_score == pytest.approx(sascorer.calculateScore(ref), abs=1e-9)
        assert m.properties.tpsa == pytest.approx(rdmd.CalcTPSA(ref), abs=1e-9)
        alerts = sorted(
            (e.GetProp("FilterSet"), e.GetDescription()) for e in catalog.GetMatches(ref)
        )
        assert sorted((a.family, a.name) for a in m.alerts) == alerts
        assert m.predictions[0].value == pytest.approx(esol_logs(ref), abs=1e-9)
        checked += 1
    assert checked > 390


def test_catalog_choice() -> None:
    with pytest.raises(ValueError, match="unknown alert catalogs"):
        ScreenConfig(catalogs=("PAINS_A", "NOT_A_CATALOG"))
    (m,) = screen(
        _recs(["S=C1SC(=Cc2ccccc2)C(=O)N1"]), ScreenConfig(catalogs=("PAINS_A",))
    ).molecules
    assert {a.family for a in m.alerts} == {"PAINS_A"}
