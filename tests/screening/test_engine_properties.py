"""Properties, QED from shared pieces, rules, standardization and parsing."""

from __future__ import annotations

import pytest
from rdkit import Chem, rdBase
from rdkit.Chem import QED, Descriptors
from rdkit.Chem.MolStandardize import rdMolStandardize
from rdkit.Contrib.SA_Score import sascorer

from hub.screening.properties import Properties, compute_properties, lipinski, veber
from hub.screening.standardize import Standardizer, canonical_form, parse_structure

DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "ibuprofen": "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "diazepam": "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",
    "metoprolol": "COCCc1ccc(OCC(O)CNC(C)C)cc1",
    "sildenafil": "CCCc1nn(C)c2c(=O)[nH]c(-c3cc(S(=O)(=O)N4CCN(C)CC4)ccc3OCC)nc12",
    "caffeine": "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
    "metformin": "CN(C)C(=N)NC(N)=N",
    "omeprazole": "COc1ccc2[nH]c(S(=O)Cc3ncc(C)c(OC)c3C)nc2c1",
}
RDKIT = dict(Descriptors.descList)  # RDKit's own descriptor functions by name
ATORVASTATIN = "CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccc(F)cc2)n1CC[C@@H](O)C[C@@H](O)CC(=O)O"


def _batched(mols: list[Chem.Mol], size: int = 500) -> list[Properties]:
    out = []
    for i in range(0, len(mols), size):
        out.extend(compute_properties(mols[i : i + size]))
    return out


def test_qed_equals_rdkit_on_nci_as_given(nci_mols: list[Chem.Mol]) -> None:
    props = _batched(nci_mols)
    worst = max(abs(p.qed - QED.qed(m)) for p, m in zip(props, nci_mols, strict=True))
    assert worst <= 1e-9


def test_qed_equals_rdkit_on_nci_standardized(nci_standardized: list[Chem.Mol]) -> None:
    props = _batched(nci_standardized)
    for p, m in zip(props, nci_standardized, strict=True):
        assert abs(p.qed - QED.qed(m)) <= 1e-9, Chem.MolToSmiles(m)


@pytest.mark.parametrize("which", ["nci_mols", "nci_standardized"])
def test_sa_score_equals_rdkit_contrib_on_nci(which: str, request: pytest.FixtureRequest) -> None:
    mols: list[Chem.Mol] = request.getfixturevalue(which)
    # fresh copies for each side: both calculations perceive stereo on the molecule itself
    ours = _batched([Chem.Mol(m) for m in mols])
    for p, m in zip(ours, mols, strict=True):
        assert abs(p.sa_score - sascorer.calculateScore(Chem.Mol(m))) <= 1e-12, Chem.MolToSmiles(m)


def test_other_properties_match_rdkit_descriptors(nci_smiles: list[str]) -> None:
    # prepared here rather than taken from the session's shared molecules: other tests run
    # substructure searches on those, which may leave a different ring perception behind
    std = Standardizer()
    with rdBase.BlockLogs():
        parsed = [Chem.MolFromSmiles(s) for s in nci_smiles[:320]]
        mols = [canonical_form(std.standardize(m)[0])[0] for m in parsed if m is not None][:300]
    reference = [Chem.Mol(m) for m in mols]
    for p, m in zip(_batched(mols), reference, strict=True):
        assert p.mw == pytest.approx(RDKIT["MolWt"](m), abs=1e-9)
        assert p.clogp == pytest.approx(RDKIT["MolLogP"](m), abs=1e-9)
        assert p.tpsa == pytest.approx(RDKIT["TPSA"](m), abs=1e-9)
        assert p.hbd == RDKIT["NumHDonors"](m)
        assert p.hba == RDKIT["NumHAcceptors"](m)
        assert p.aromatic_rings == RDKIT["NumAromaticRings"](m)
        assert p.fsp3 == pytest.approx(RDKIT["FractionCSP3"](m), abs=1e-12)


@pytest.mark.parametrize("name", sorted(DRUGS))
def test_known_drugs_pass_lipinski(name: str) -> None:
    (p,) = compute_properties([Chem.MolFromSmiles(DRUGS[name])])
    result = lipinski(p)
    assert result.passed, result.violations
    assert 0 < p.qed <= 1 and 1 <= p.sa_score <= 10


def test_atorvastatin_violations_are_named() -> None:
    # MW 558.6; Crippen's cLogP is 6.3 (measured logP is about 4-5), so on computed values
    # atorvastatin breaks two rules and the rule of five (at most one violation) fails
    (p,) = compute_properties([Chem.MolFromSmiles(ATORVASTATIN)])
    result = lipinski(p)
    assert result.violations == [f"MW {p.mw:.1f} > 500", f"cLogP {p.clogp:.2f} > 5"]
    assert not result.passed
    assert veber(p).violations == ["rotatable bonds 12 > 10"]


def test_one_violation_still_passes() -> None:
    # cLogP 5.6 (a decyl chain on ibuprofen's core) but otherwise drug-like
    (p,) = compute_properties([Chem.MolFromSmiles("CCCCCCCCCCc1ccc(C(C)C(=O)O)cc1")])
    result = lipinski(p)
    assert result.violations and result.violations[0].startswith("cLogP")
    assert len(result.violations) == 1 and result.passed


def test_large_peptide_fails_lipinski_and_veber_with_reasons() -> None:
    # a linear decapeptide-like chain: heavy, polar and floppy
    smiles = "NCC(=O)" + "NC(CO)C(=O)" * 9 + "O"
    (p,) = compute_properties([Chem.MolFromSmiles(smiles)])
    lip, veb = lipinski(p), veber(p)
    assert not lip.passed and len(lip.violations) >= 2
    assert any(v.startswith("MW") for v in lip.violations)
    assert not veb.passed
    assert any("TPSA" in v for v in veb.violations)


def test_salt_stripped_to_aspirin() -> None:
    mol, reason = parse_structure("CC(=O)Oc1ccccc1C(=O)[O-].[Na+]")
    assert mol is not None and reason == ""
    clean, notes = Standardizer().standardize(mol)
    assert Chem.MolToSmiles(clean) == Chem.CanonSmiles(DRUGS["aspirin"])
    assert any("[Na+]" in n for n in notes)
    assert any(n.startswith("neutralized") for n in notes)


def test_hydrochloride_salt_stripped() -> None:
    mol, _ = parse_structure("CN1CCC[C@H]1c1cccnc1.Cl")
    clean, notes = Standardizer().standardize(mol)  # type: ignore[arg-type]
    assert Chem.MolToSmiles(clean) == Chem.CanonSmiles("CN1CCC[C@H]1c1cccnc1")
    assert notes == ["kept largest fragment; removed Cl"]


def test_standardization_equals_rdkit_reference_on_nci(
    nci_smiles: list[str], nci_standardized: list[Chem.Mol]
) -> None:
    chooser = rdMolStandardize.LargestFragmentChooser()
    uncharger = rdMolStandardize.Uncharger()
    with rdBase.BlockLogs():
        raws = [m for m in (Chem.MolFromSmiles(s) for s in nci_smiles) if m is not None]
    for raw, ours in zip(raws, nci_standardized, strict=True):
        ref = uncharger.uncharge(chooser.choose(rdMolStandardize.Cleanup(raw)))
        assert Chem.MolToSmiles(ours) == Chem.MolToSmiles(ref)


def test_canonical_tautomer_option() -> None:
    mol, _ = parse_structure("Oc1ccccn1")  # 2-hydroxypyridine, canonical tautomer 2-pyridone
    clean, notes = Standardizer(canonical_tautomer=True).standardize(mol)  # type: ignore[arg-type]
    assert Chem.MolToSmiles(clean) == "O=c1cccc[nH]1"
    assert "canonical tautomer" in notes
    plain, _ = Standardizer().standardize(mol)  # type: ignore[arg-type]
    assert Chem.MolToSmiles(plain) == "Oc1ccccn1"


def test_canonical_form_numbers_atoms_like_the_smiles() -> None:
    a, smiles_a, key_a = canonical_form(Chem.MolFromSmiles("OC(=O)c1ccccc1OC(C)=O"))
    b, smiles_b, key_b = canonical_form(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))
    assert smiles_a == smiles_b and key_a == key_b == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"
    reread = Chem.MolFromSmiles(smiles_a)
    for m in (a, b):
        assert [x.GetSymbol() for x in m.GetAtoms()] == [x.GetSymbol() for x in reread.GetAtoms()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C1CC(", "SMILES Parse Error"),
        ("c1cccc1", "Can't kekulize mol"),
        ("C(C)(C)(C)(C)C", "Explicit valence for atom # 0 C, 5, is greater than permitted"),
        ("", "empty structure"),
    ],
)
def test_parse_failures_carry_rdkit_reason(text: str, expected: str) -> None:
    mol, reason = parse_structure(text)
    assert mol is None
    assert expected in reason
