"""Structural alerts: the prefiltered path must give exactly FilterCatalog's hits."""

from __future__ import annotations

import pytest
from rdkit import Chem

from hub.screening.alerts import AlertHit, AlertMatcher, get_alert_matcher
from hub.screening.patterns import (
    UNIVERSE,
    MolFeatures,
    PatternScreen,
    atom_class,
    atom_classes,
)


def _key(hits: list[AlertHit]) -> list[tuple[str, str, tuple[int, ...]]]:
    return sorted((h.family, h.name, h.atoms) for h in hits)


def _check_identical(matcher: AlertMatcher, mols: list[Chem.Mol]) -> int:
    total = 0
    for start in range(0, len(mols), 500):
        batch = mols[start : start + 500]
        fast = matcher.match_many(batch)
        for offset, (mol, hits) in enumerate(zip(batch, fast, strict=True)):
            ref = matcher.reference(mol)
            assert _key(hits) == _key(ref), (
                f"molecule {start + offset} {Chem.MolToSmiles(mol)}: "
                f"fast {_key(hits)} != FilterCatalog {_key(ref)}"
            )
            total += len(ref)
    return total


def test_fast_alerts_equal_filtercatalog_on_nci_as_given(nci_mols: list[Chem.Mol]) -> None:
    matcher = get_alert_matcher()
    assert matcher.n_unscreened == 0  # every entry got a prefilter
    total = _check_identical(matcher, nci_mols)
    assert total > 5000  # the set really exercises the catalogs


def test_fast_alerts_equal_filtercatalog_on_nci_standardized(
    nci_standardized: list[Chem.Mol],
) -> None:
    assert _check_identical(get_alert_matcher(), nci_standardized) > 5000


def test_prefilter_skips_most_entries(nci_mols: list[Chem.Mol]) -> None:
    matcher = get_alert_matcher()
    ok = matcher.screen.candidates(nci_mols[:1000])
    # 765 catalog entries; only a small fraction needs a real substructure search
    assert ok.shape == (1000, len(matcher.entries))
    assert ok.sum() / 1000 < 0.1 * len(matcher.entries)


@pytest.mark.parametrize(
    ("smiles", "family", "name"),
    [
        ("S=C1SC(=Cc2ccccc2)C(=O)N1", "PAINS_A", "ene_rhod_A(235)"),  # benzylidene rhodanine
        ("O=C1C(=Cc2ccc(O)cc2)SC(=S)N1", "PAINS_A", "ene_rhod_A(235)"),
        ("O=C1C=CC(=O)C=C1", "PAINS_A", "quinone_A(370)"),  # p-benzoquinone
        ("Oc1ccccc1O", "PAINS_B", "catechol_A(92)"),  # catechol
        ("O=C(O)c1cc(O)c(O)c(O)c1", "PAINS_B", "catechol_A(92)"),  # gallic acid
        ("Nc1ccc(cc1)N=Nc1ccccc1", "PAINS_A", "azo_A(324)"),  # aminoazobenzene
    ],
)
def test_known_pains_flagged_with_family(smiles: str, family: str, name: str) -> None:
    mol = Chem.MolFromSmiles(smiles)
    matcher = get_alert_matcher()
    hits = matcher.match(mol)
    assert (family, name) in {(h.family, h.name) for h in hits}
    assert (family, name) in {(h.family, h.name) for h in matcher.reference(mol)}
    hit = next(h for h in hits if h.name == name)
    assert hit.atoms and all(0 <= i < mol.GetNumAtoms() for i in hit.atoms)


@pytest.mark.parametrize(
    "smiles", ["CC(C)Cc1ccc(C(C)C(=O)O)cc1", "CC(=O)Nc1ccc(O)cc1", "CN1CCC[C@H]1c1cccnc1"]
)
def test_clean_drugs_have_no_pains(smiles: str) -> None:
    hits = get_alert_matcher().match(Chem.MolFromSmiles(smiles))
    assert not [h for h in hits if h.family.startswith("PAINS")]


def test_rhodanine_atoms_cover_the_ring() -> None:
    mol = Chem.MolFromSmiles("S=C1SC(=Cc2ccccc2)C(=O)N1")
    hit = next(h for h in get_alert_matcher().match(mol) if h.name == "ene_rhod_A(235)")
    ring = {a.GetIdx() for a in mol.GetAtoms() if a.IsInRingSize(5)}
    assert ring <= set(hit.atoms)


@pytest.mark.parametrize(
    ("atom_smarts", "inside", "outside"),
    [
        ("[#6&!H0]", [(6, 0, False), (6, 0, True)], [(7, 0, False)]),
        ("[N&+]", [(7, 1, False)], [(7, 0, False), (6, 1, False)]),
        ("[!#6&!#1]", [(8, 0, False), (7, -1, True)], [(6, 0, True)]),
        ("[Cl,Br,I]", [(17, 0, False), (35, 0, False)], [(9, 0, False)]),
        ("[$(C=O),$(C=S)]", [(6, 0, False)], [(6, 0, True), (8, 0, False)]),
        ("c", [(6, 0, True)], [(6, 0, False)]),
        ("[O&-]", [(8, -1, False)], [(8, 0, False)]),
    ],
)
def test_atom_classes(
    atom_smarts: str, inside: list[tuple[int, int, bool]], outside: list[tuple[int, int, bool]]
) -> None:
    mask, _ = atom_classes(atom_smarts)
    for z, charge, arom in inside:
        assert mask >> atom_class(z, charge, arom) & 1
    for z, charge, arom in outside:
        assert not mask >> atom_class(z, charge, arom) & 1


@pytest.mark.parametrize("smarts", ["[Rb]", "[Ho]", "[Hg]", "[R2&x3]", "[D2]", "[!R]"])
def test_ambiguous_or_unconstrained_atoms_claim_nothing(smarts: str) -> None:
    # "Rb" could read as R & b, "Ho" as H & o: the screen must not guess
    assert atom_classes(smarts)[0] == UNIVERSE


def test_atom_class_sets_contain_every_matching_atom(nci_mols: list[Chem.Mol]) -> None:
    """Soundness at atom level: any atom a query atom matches lies in its class set."""
    matcher = get_alert_matcher()
    query_atoms = {a.GetSmarts() for q in matcher.queries if q is not None for a in q.GetAtoms()}
    singles = []
    for s in sorted(query_atoms):
        q = Chem.MolFromSmarts(s)
        if q is not None and q.GetNumAtoms() == 1:
            singles.append((s, q, atom_classes(s)[0]))
    assert len(singles) > 200
    for mol in nci_mols[:300]:
        classes = [
            atom_class(a.GetAtomicNum(), a.GetFormalCharge(), a.GetIsAromatic())
            for a in mol.GetAtoms()
        ]
        for s, q, mask in singles:
            for (idx,) in mol.GetSubstructMatches(q, maxMatches=10_000):
                assert mask >> classes[idx] & 1, f"{s} matched atom {idx} outside its classes"


def test_pattern_screen_never_drops_a_match(nci_mols: list[Chem.Mol]) -> None:
    queries = [Chem.MolFromSmarts(s) for s in ("c1ccccc1[N+](=O)[O-]", "[#6]S(=O)(=O)N", "C#N")]
    screen = PatternScreen(queries)
    ok = screen.candidates(nci_mols, MolFeatures.of(nci_mols))
    for r, mol in enumerate(nci_mols):
        for qi, q in enumerate(queries):
            if mol.HasSubstructMatch(q):
                assert ok[r, qi]
    assert not ok.all()  # and it does prune
