"""Parsing with RDKit's own error messages, and standardization (cleanup, salts, charges)."""

from __future__ import annotations

import re

from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\] ?")


def _captured(text: str, structure: str) -> str:
    """RDKit's logged error lines, without timestamps, echoes of the input or caret markers."""
    seen: list[str] = []
    for raw in text.splitlines():
        ln = _TIMESTAMP.sub("", raw).strip()
        if ln and ln != structure.strip() and set(ln) - set("~^ ") and ln not in seen:
            seen.append(ln)
    return "; ".join(seen)


def parse_structure(text: str, kind: str = "smiles") -> tuple[Chem.Mol | None, str]:
    """Parse SMILES or a mol block; on failure return (None, RDKit's reason)."""
    if not text.strip():
        return None, "empty structure"
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text) if kind == "smiles" else Chem.MolFromMolBlock(text)
    if mol is not None:
        if mol.GetNumAtoms() == 0:
            return None, "structure has no atoms"
        return mol, ""
    # failure path only: ask RDKit why
    with rdBase.CaptureErrorLog() as capture:
        raw = (
            Chem.MolFromSmiles(text, sanitize=False)
            if kind == "smiles"
            else Chem.MolFromMolBlock(text, sanitize=False)
        )
        problems = Chem.DetectChemistryProblems(raw) if raw is not None else ()
        if raw is not None and not problems:
            Chem.MolFromSmiles(text) if kind == "smiles" else Chem.MolFromMolBlock(text)
    if problems:
        return None, "; ".join(f"{p.GetType()}: {p.Message()}" for p in problems)
    return None, _captured(capture.messages, text) or "RDKit could not parse the structure"


class Standardizer:
    """Cleanup (as `rdMolStandardize.Cleanup`), largest fragment, neutralization, tautomer.

    The cleanup helpers are built once and reused; `rdMolStandardize.Cleanup` rebuilds its
    normalizer, reionizer and metal disconnector on every call, which is most of its cost.
    """

    def __init__(
        self, canonical_tautomer: bool = False, max_tautomers: int = 100, max_transforms: int = 100
    ) -> None:
        self.metal = rdMolStandardize.MetalDisconnector()
        self.normalizer = rdMolStandardize.Normalizer()
        self.reionizer = rdMolStandardize.Reionizer()
        self.fragments = rdMolStandardize.LargestFragmentChooser()
        self.uncharger = rdMolStandardize.Uncharger()
        self.canonical_tautomer = canonical_tautomer
        params = rdMolStandardize.CleanupParameters()
        params.maxTautomers = max_tautomers  # type: ignore[assignment]
        params.maxTransforms = max_transforms  # type: ignore[assignment]
        self.tautomers = rdMolStandardize.TautomerEnumerator(params)

    def cleanup(self, mol: Chem.Mol) -> Chem.Mol:
        """Same steps and result as `rdMolStandardize.Cleanup` with default parameters.

        Two steps are skipped when they cannot change anything: removing hydrogens from a
        molecule without hydrogen atoms, and reionizing a molecule without negative atoms or
        the bare Li/Na/K/Mg/Ca/Cl atoms that the reionizer's charge corrections act on (every
        base of its acid/base pairs is an anion).
        """
        has_h, reionizable = _cleanup_flags(mol)
        m = Chem.RWMol(Chem.RemoveHs(mol) if has_h else mol)
        self.metal.DisconnectInPlace(m)
        self.normalizer.normalizeInPlace(m)
        if reionizable or _cleanup_flags(m)[1]:
            self.reionizer.reionizeInPlace(m)
        Chem.AssignStereochemistry(m, cleanIt=True, force=True)
        return m

    def standardize(self, mol: Chem.Mol) -> tuple[Chem.Mol, list[str]]:
        """Standardized molecule and human-readable notes on what changed."""
        notes: list[str] = []
        m = self.cleanup(mol)
        frags = Chem.GetMolFrags(m, asMols=False, sanitizeFrags=False)
        if len(frags) > 1:
            kept = self.fragments.choose(m)
            notes.append("kept largest fragment; removed " + ", ".join(_dropped(m, kept)))
            m = kept
        charged = sum(1 for a in m.GetAtoms() if a.GetFormalCharge())
        if charged:
            m = self.uncharger.uncharge(m)
            left = sum(1 for a in m.GetAtoms() if a.GetFormalCharge())
            if left != charged:
                notes.append(f"neutralized ({charged - left} charged atoms)")
        if self.canonical_tautomer:
            before = Chem.MolToSmiles(m)
            m = self.tautomers.Canonicalize(m)
            if Chem.MolToSmiles(m) != before:
                notes.append("canonical tautomer")
        # descriptor caches (e.g. TPSA, Crippen) copied from the input are stale after edits
        m.ClearComputedProps(includeRings=False)
        return m, notes


# atoms the reionizer can act on: anions, and the bare metals/halide its charge corrections fix
_REIONIZABLE = Chem.MolFromSmarts("[-1,-2,-3,-4,-5,-6,-7,Li&D0,Na&D0,K&D0,Mg&D0,Ca&D0,Cl&D0]")
_HYDROGEN = Chem.MolFromSmarts("[#1]")


def _cleanup_flags(mol: Chem.Mol) -> tuple[bool, bool]:
    """(has hydrogen atoms, has atoms the reionizer could act on)."""
    has_h = mol.GetNumAtoms() != mol.GetNumHeavyAtoms() and mol.HasSubstructMatch(_HYDROGEN)
    return has_h, mol.HasSubstructMatch(_REIONIZABLE)


def _dropped(m: Chem.Mol, kept: Chem.Mol) -> list[str]:
    """SMILES of the fragments the largest-fragment chooser removed."""
    smiles = [Chem.MolToSmiles(p) for p in Chem.GetMolFrags(m, asMols=True, sanitizeFrags=False)]
    kept_smiles = Chem.MolToSmiles(kept)
    if kept_smiles in smiles:
        smiles.remove(kept_smiles)
    return smiles


def canonical_form(mol: Chem.Mol) -> tuple[Chem.Mol, str, str]:
    """The molecule renumbered into canonical SMILES order, its SMILES and InChIKey.

    After renumbering, atom i is the i-th atom of the canonical SMILES, so atom indices (of
    alert matches, say) mean the same for every input spelling and for a molecule re-read
    from the stored SMILES.
    """
    smiles = Chem.MolToSmiles(mol)
    order = [int(x) for x in mol.GetProp("_smilesAtomOutputOrder").strip("[]").split(",") if x]
    ordered = Chem.RenumberAtoms(mol, order) if order != sorted(order) else mol
    with rdBase.BlockLogs():
        try:
            key = Chem.MolToInchiKey(ordered)
        except Exception:
            key = ""
    return ordered, smiles, key or ""
