"""Task `molecular-property`: features, scaffold split, training, metrics, bundles, domain."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator as rfg
from rdkit.Chem import rdMolDescriptors

from standards.tasks import get_task, task_names
from standards.tasks import molecular_property as mp
from standards.tasks.common import FeatureStats, ModelBundle, judge, merge_stats
from standards.tasks.molecular_features import (
    DESCRIPTOR_NAMES,
    MQN_NAMES,
    FeatureSpec,
    descriptor_slice,
    descriptors,
    scaffold,
)

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "not-a-smiles", "", "C1CCCCC1C(=O)O"]


@pytest.fixture(scope="module")
def train_data() -> tuple[list[Chem.Mol], np.ndarray]:
    return mp.load_solubility("train")


@pytest.fixture(scope="module")
def lab_split(train_data: tuple[list[Chem.Mol], np.ndarray]) -> list[np.ndarray]:
    return mp.scaffold_split(train_data[0], n_labs=4, seed=0)


def test_registry_knows_both_tasks() -> None:
    assert task_names() == ["equipment-anomaly", "molecular-property"]
    assert get_task("molecular-property") is mp.TASK
    with pytest.raises(KeyError, match="unknown task"):
        get_task("nope")


def test_featurize_smiles_shapes_mask_and_determinism() -> None:
    spec = FeatureSpec()
    x, mask = mp.featurize_smiles(SMILES)
    assert x.shape == (len(SMILES), spec.dim) and x.dtype == np.float32
    assert mask.tolist() == [True, True, True, False, False, True]
    assert not x[~mask].any()  # invalid rows are zeros
    x2, _ = mp.featurize_smiles(SMILES)
    np.testing.assert_array_equal(x, x2)


def test_features_match_rdkit_computed_one_by_one() -> None:
    spec = FeatureSpec()
    mols = [Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1")]
    x = mp.featurize_mols(mols, spec)
    gen = rfg.GetMorganGenerator(radius=spec.fp_radius, fpSize=spec.fp_bits)
    for row, m in zip(x, mols, strict=True):
        counts = gen.GetCountFingerprintAsNumPy(m).astype(np.float32)
        np.testing.assert_allclose(
            row[: spec.fp_bits], np.log1p(counts) * spec.fp_weight, rtol=1e-6
        )
        desc = dict(zip(DESCRIPTOR_NAMES, row[descriptor_slice(spec)], strict=True))
        assert desc["MolLogP"] == pytest.approx(
            rdMolDescriptors.CalcCrippenDescriptors(m)[0], rel=1e-5
        )
        assert desc["TPSA"] == pytest.approx(rdMolDescriptors.CalcTPSA(m), rel=1e-5)
        assert desc["HeavyAtomCount"] == m.GetNumHeavyAtoms()


def test_descriptor_set_is_compact() -> None:
    functions = [n for n in DESCRIPTOR_NAMES if n not in MQN_NAMES]
    assert 10 <= len(functions) <= 30  # individual RDKit descriptor calls
    assert len(MQN_NAMES) == 42 and set(MQN_NAMES) <= set(DESCRIPTOR_NAMES)  # one MQNs_ call
    assert len(set(DESCRIPTOR_NAMES)) == len(DESCRIPTOR_NAMES)


def test_mqn_columns_match_rdkit() -> None:
    m = Chem.MolFromSmiles("Clc1ccc(CCN)cc1")
    names = ["MQN3", "TPSA", "MQN1"]
    row = descriptors([m], names)[0]
    mqn = rdMolDescriptors.MQNs_(m)
    assert row.tolist() == pytest.approx([mqn[2], rdMolDescriptors.CalcTPSA(m), mqn[0]])


def test_shipped_solubility_split_sizes(train_data: tuple[list[Chem.Mol], np.ndarray]) -> None:
    test_mols, _ = mp.load_solubility("test")
    assert len(train_data[0]) == 1025 and len(test_mols) == 257
    assert float(train_data[1].min()) > -12 and float(train_data[1].max()) < 3


def test_scaffold_split_is_disjoint_complete_and_non_iid(
    train_data: tuple[list[Chem.Mol], np.ndarray], lab_split: list[np.ndarray]
) -> None:
    mols, y = train_data
    assert len(lab_split) == 4 and all(len(p) > 0 for p in lab_split)
    joined = np.concatenate(lab_split)
    assert sorted(joined.tolist()) == list(range(len(mols)))  # every molecule exactly once
    scaffolds = [{scaffold(mols[i]) for i in part} for part in lab_split]
    for a in range(4):
        for b in range(a + 1, 4):
            assert not scaffolds[a] & scaffolds[b], "a scaffold appears in two labs"
    # different chemistry shows in the labels too: lab means spread by more than 0.5 log units
    means = [float(y[p].mean()) for p in lab_split]
    assert max(means) - min(means) > 0.5


def test_scaffold_split_is_deterministic_per_seed(
    train_data: tuple[list[Chem.Mol], np.ndarray], lab_split: list[np.ndarray]
) -> None:
    again = mp.scaffold_split(train_data[0], n_labs=4, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(lab_split, again, strict=True))


def test_feature_stats_merge_equals_pooled_stats() -> None:
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(n, 5)) * 3 + 1 for n in (7, 13, 4)]
    merged = merge_stats(FeatureStats.from_array(p) for p in parts)
    pooled = np.vstack(parts)
    np.testing.assert_allclose(merged.mean, pooled.mean(0))
    np.testing.assert_allclose(merged.std, pooled.std(0))
    np.testing.assert_allclose(merged.min, pooled.min(0))
    rt = FeatureStats.from_record(merged.to_record())
    np.testing.assert_allclose(rt.sumsq, merged.sumsq)


def test_regression_metrics_match_numpy() -> None:
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=50), rng.normal(size=50)
    m = mp.regression_metrics(y, p)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((p - y) ** 2)))
    assert m["mae"] == pytest.approx(np.mean(np.abs(p - y)))
    assert m["r2"] == pytest.approx(1 - np.sum((p - y) ** 2) / np.sum((y - y.mean()) ** 2))
    pooled = mp.pool_regression_metrics(
        [mp.regression_sums(y[:20], p[:20]), mp.regression_sums(y[20:], p[20:])]
    )
    for k in ("rmse", "mae", "r2"):
        assert pooled[k] == pytest.approx(m[k])


def _small_lab() -> tuple[mp.MolecularData, dict]:
    data = mp.load_partition(0, 4).subset(np.arange(120))
    spec = mp.apply_stats(mp.default_spec(), mp.data_stats(data))
    return data, spec


def test_training_reduces_loss_and_evaluate_agrees_with_predict() -> None:
    torch.manual_seed(0)
    data, spec = _small_lab()
    model = mp.build_model(spec, seed=0)
    before = mp.evaluate(model, data.x, data.y)
    mp.train(model, data.x, data.y, epochs=20, lr=1e-3)
    after = mp.evaluate(model, data.x, data.y)
    assert after["rmse"] < 0.6 * before["rmse"]
    pred = mp.predict(model, data.x)
    assert after["rmse"] == pytest.approx(float(np.sqrt(np.mean((pred - data.y) ** 2))), rel=1e-5)


def test_proximal_term_keeps_weights_near_the_global_model() -> None:
    data, spec = _small_lab()
    start = mp.get_weights(mp.build_model(spec, seed=3))

    def moved(mu: float) -> float:
        model = mp.build_model(spec, seed=3)
        mp.train(model, data.x, data.y, epochs=3, lr=1e-3, proximal_mu=mu)
        return sum(
            float(np.sum((a - b) ** 2)) for a, b in zip(mp.get_weights(model), start, strict=True)
        )

    assert moved(10.0) < 0.5 * moved(0.0)


def test_weights_round_trip_and_bundle_serialization() -> None:
    data, spec = _small_lab()
    model = mp.build_model(spec, seed=1)
    mp.train(model, data.x, data.y, epochs=2, lr=1e-3)
    blob = mp.model_to_bytes(model, spec, {"rmse": 0.5})
    restored, bundle = mp.model_from_bytes(blob)
    np.testing.assert_array_equal(mp.predict(restored, data.x), mp.predict(model, data.x))
    assert bundle.spec == spec and bundle.metrics == {"rmse": 0.5}
    assert bundle.code_hash == mp.TASK.code_hash() and bundle.code_hash.startswith("sha256:")
    other = mp.build_model(spec, seed=2)
    mp.set_weights(other, mp.get_weights(model))
    np.testing.assert_array_equal(mp.predict(other, data.x), mp.predict(model, data.x))


def test_bundle_from_other_code_or_task_is_refused() -> None:
    _, spec = _small_lab()
    model = mp.build_model(spec)
    bundle = ModelBundle.from_bytes(mp.model_to_bytes(model, spec))
    bundle.code_hash = "sha256:" + "0" * 64
    with pytest.raises(ValueError, match="different task code"):
        mp.model_from_bytes(bundle.to_bytes())
    bundle.task = "equipment-anomaly"
    with pytest.raises(ValueError, match="is for task"):
        mp.model_from_bytes(bundle.to_bytes())
    with pytest.raises(ValueError):
        ModelBundle.from_bytes(b"not a bundle")


def test_applicability_domain_flags_molecules_outside_the_training_box() -> None:
    data, spec = _small_lab()
    inside, excess = mp.applicability_domain(data.x, spec)
    assert inside.all() and not excess.any()
    x, _ = mp.featurize_smiles(["C" * 60, "CCO"])
    inside, excess = mp.applicability_domain(x, spec)
    assert not inside[0] and excess[0] > 1.0


def test_task_judges_declared_indicators() -> None:
    ok = judge({"rmse": 0.6, "r2": 0.85}, mp.INDICATORS)
    assert [r.passed for r in ok] == [True, True]
    bad = mp.TASK.judge({"rmse": 0.75})
    assert [(r.metric, r.passed, r.value) for r in bad] == [
        ("rmse", False, 0.75),
        ("r2", False, None),
    ]
