"""Physicochemical properties, QED from shared pieces, SA score, Lipinski and Veber rules."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from rdkit import Chem
from rdkit.Chem import QED
from rdkit.Chem import rdMolDescriptors as rdmd
from rdkit.Contrib.SA_Score import sascorer

from hub.screening.patterns import MolFeatures, PatternScreen

_STRICT = rdmd.NumRotatableBondsOptions.Strict
_AROMATIC_ATOM = Chem.MolFromSmarts("a")


@dataclass(slots=True)
class Properties:
    """Computed properties of one standardized molecule."""

    mw: float
    clogp: float
    tpsa: float
    hbd: int
    hba: int
    rotatable_bonds: int
    aromatic_rings: int
    heavy_atoms: int
    fsp3: float
    qed: float
    sa_score: float

    def to_dict(self) -> dict[str, float | int]:
        """Plain-JSON form."""
        return asdict(self)


@dataclass(slots=True)
class RuleResult:
    """Outcome of a rule set such as Lipinski's: passed, and which criteria were violated."""

    passed: bool
    violations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form."""
        return {"passed": self.passed, "violations": list(self.violations)}


class QedCalculator:
    """QED (RDKit's `QED.qed`, mean weights) reusing descriptors computed elsewhere.

    Only the two QED-specific terms are computed here: its acceptor count and its count of
    structural alerts (each prefiltered with `PatternScreen`); aromatic rings use QED's own
    definition. The final combination is RDKit's own `QED.qed(..., qedProperties=...)`.
    """

    def __init__(self) -> None:
        self.acceptors = list(QED.Acceptors)
        self.alerts = list(QED.StructuralAlerts)
        self.screen = PatternScreen(self.acceptors + self.alerts)

    def qed_many(
        self,
        mols: Sequence[Chem.Mol],
        parts: Sequence[tuple[float, ...]],
        features: MolFeatures | None = None,
    ) -> list[float]:
        """QED per molecule from (MW, ALOGP, HBD, PSA, strict rotatable bonds) already known.

        Molecules must carry no explicit hydrogens (QED removes them first).
        """
        ok = self.screen.candidates(mols, features)
        n_acc = len(self.acceptors)
        out = []
        for r, mol in enumerate(mols):
            row = ok[r]
            hba = sum(
                len(mol.GetSubstructMatches(self.acceptors[i])) for i in row[:n_acc].nonzero()[0]
            )
            alerts = sum(
                1 for i in row[n_acc:].nonzero()[0] if mol.HasSubstructMatch(self.alerts[i])
            )
            mw, alogp, hbd, psa, rotb = parts[r][:5]
            props = QED.QEDproperties(
                MW=mw,
                ALOGP=alogp,
                HBA=hba,
                HBD=hbd,
                PSA=psa,
                ROTB=rotb,
                AROM=qed_aromatic_rings(mol),
                ALERTS=alerts,
            )
            out.append(QED.qed(mol, qedProperties=props))
        return out


def qed_aromatic_rings(mol: Chem.Mol) -> int:
    """QED's aromatic ring count (SSSR after deleting aliphatic ring atoms with side chains)."""
    # without aromatic atoms every ring atom has a non-aromatic ring neighbour and is deleted
    if mol.GetRingInfo().NumRings() == 0 or not mol.HasSubstructMatch(_AROMATIC_ATOM):
        return 0
    return len(Chem.GetSSSR(Chem.DeleteSubstructs(Chem.Mol(mol), QED.AliphaticRings)))


@lru_cache(maxsize=1)
def get_qed_calculator() -> QedCalculator:
    """A process-wide cached QED calculator."""
    return QedCalculator()


def has_explicit_hydrogens(mol: Chem.Mol) -> bool:
    """True if any atom of the molecule is a hydrogen atom."""
    return any(a.GetAtomicNum() == 1 for a in mol.GetAtoms())


def compute_properties(
    mols: Sequence[Chem.Mol], features: MolFeatures | None = None
) -> list[Properties]:
    """All properties for a batch of standardized molecules (no explicit hydrogens)."""
    base = []
    for mol in mols:
        base.append(
            (
                rdmd._CalcMolWt(mol),
                rdmd.CalcCrippenDescriptors(mol)[0],
                rdmd.CalcNumHBD(mol),
                rdmd.CalcTPSA(mol),
                rdmd.CalcNumRotatableBonds(mol, _STRICT),
                # before QED and SA: stereo perception there can replace the ring information
                rdmd.CalcNumAromaticRings(mol),
            )
        )
    qeds = get_qed_calculator().qed_many(mols, base, features)
    out = []
    for mol, (mw, logp, hbd, tpsa, rotb, arom), q in zip(mols, base, qeds, strict=True):
        out.append(
            Properties(
                mw=mw,
                clogp=logp,
                tpsa=tpsa,
                hbd=hbd,
                hba=rdmd.CalcNumHBA(mol),
                rotatable_bonds=rotb,
                aromatic_rings=arom,
                heavy_atoms=mol.GetNumHeavyAtoms(),
                fsp3=rdmd.CalcFractionCSP3(mol),
                qed=q,
                sa_score=sa_score(mol),
            )
        )
    return out


def _chiral_center_count(mol: Chem.Mol) -> int:
    """`len(Chem.FindMolChiralCenters(mol, includeUnassigned=True))` without its Python loops."""
    if not Chem.GetUseLegacyStereoPerception():
        return len(Chem.FindMolChiralCenters(mol, includeUnassigned=True))
    atoms = [mol.GetAtomWithIdx(i) for i in range(mol.GetNumAtoms())]
    for a in atoms:
        a.ClearProp("_ChiralityPossible")
    Chem.AssignStereochemistry(mol, force=True, flagPossibleStereoCenters=True, cleanIt=True)
    return sum(1 for a in atoms if a.HasProp("_CIPCode") or a.HasProp("_ChiralityPossible"))


def sa_score(mol: Chem.Mol) -> float:
    """RDKit's Contrib SA score (`sascorer.calculateScore`): same arithmetic, same value."""
    if sascorer._fscores is None:
        sascorer.readFragmentScores()
    fscores = sascorer._fscores
    nze = sascorer.mfpgen.GetSparseCountFingerprint(mol).GetNonzeroElements()
    nf = sum(nze.values())
    score1 = sum(fscores.get(k, -4) * c for k, c in nze.items()) / nf
    n_atoms = mol.GetNumAtoms()
    # same order as sascorer: stereo perception can replace the ring information it reads next
    n_chiral = _chiral_center_count(mol)
    ri = mol.GetRingInfo()
    n_spiro = rdmd.CalcNumSpiroAtoms(mol)
    n_bridge = rdmd.CalcNumBridgeheadAtoms(mol)
    n_macro = sum(1 for ring in ri.AtomRings() if len(ring) > 8)
    score2 = (
        0.0
        - (n_atoms**1.005 - n_atoms)
        - math.log10(n_chiral + 1)
        - math.log10(n_spiro + 1)
        - math.log10(n_bridge + 1)
        - (math.log10(2) if n_macro > 0 else 0.0)
    )
    score3 = math.log(float(n_atoms) / len(nze)) * 0.5 if n_atoms > len(nze) else 0.0
    raw = score1 + score2 + score3
    sa = 11.0 - (raw - -4.0 + 1) / (2.5 - -4.0) * 9.0
    if sa > 8.0:
        sa = 8.0 + math.log(sa + 1.0 - 9.0)
    return 10.0 if sa > 10.0 else (1.0 if sa < 1.0 else sa)


def lipinski(p: Properties) -> RuleResult:
    """Lipinski's rule of five; passes with at most one violation."""
    v = []
    if p.mw > 500:
        v.append(f"MW {p.mw:.1f} > 500")
    if p.clogp > 5:
        v.append(f"cLogP {p.clogp:.2f} > 5")
    if p.hbd > 5:
        v.append(f"HBD {p.hbd} > 5")
    if p.hba > 10:
        v.append(f"HBA {p.hba} > 10")
    return RuleResult(passed=len(v) <= 1, violations=v)


def veber(p: Properties) -> RuleResult:
    """Veber's oral bioavailability rule: rotatable bonds <= 10 and TPSA <= 140."""
    v = []
    if p.rotatable_bonds > 10:
        v.append(f"rotatable bonds {p.rotatable_bonds} > 10")
    if p.tpsa > 140:
        v.append(f"TPSA {p.tpsa:.1f} > 140")
    return RuleResult(passed=not v, violations=v)
