"""Pluggable property predictors and reusable applicability-domain helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem import rdMolDescriptors as rdmd

MORGAN_RADIUS = 2
MORGAN_SIZE = 2048


def morgan_generator() -> Any:
    """The Morgan (radius 2, 2048 bits) generator used for similarity everywhere."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=MORGAN_SIZE)


@runtime_checkable
class Predictor(Protocol):
    """A model the engine can run: values per molecule plus applicability-domain flags."""

    name: str
    property: str

    def predict(self, mols: Sequence[Chem.Mol]) -> Sequence[float]:
        """One predicted value per molecule."""
        ...

    def in_domain(self, mols: Sequence[Chem.Mol]) -> Sequence[bool]:
        """Whether each molecule lies inside the model's applicability domain."""
        ...


class Domain(Protocol):
    """An applicability domain."""

    def contains(self, mols: Sequence[Chem.Mol]) -> list[bool]:
        """Membership flag per molecule."""
        ...


class TanimotoDomain:
    """In domain when the max Tanimoto similarity (Morgan r2) to the training set >= threshold."""

    def __init__(self, training: Sequence[Chem.Mol | str], threshold: float = 0.3) -> None:
        gen = morgan_generator()
        mols = [Chem.MolFromSmiles(t) if isinstance(t, str) else t for t in training]
        fps = [gen.GetFingerprint(m) for m in mols if m is not None]
        if not fps:
            raise ValueError("a Tanimoto domain needs at least one valid training molecule")
        self.threshold = threshold
        self._binary = [fp.ToBinary() for fp in fps]
        self._fps: list[Any] | None = fps

    def __getstate__(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "_binary": self._binary, "_fps": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _training(self) -> list[Any]:
        if self._fps is None:
            self._fps = [DataStructs.ExplicitBitVect(b) for b in self._binary]
        return self._fps

    def max_similarity(self, mols: Sequence[Chem.Mol]) -> list[float]:
        """Highest Tanimoto similarity of each molecule to any training molecule."""
        gen = morgan_generator()
        train = self._training()
        return [max(DataStructs.BulkTanimotoSimilarity(gen.GetFingerprint(m), train)) for m in mols]

    def contains(self, mols: Sequence[Chem.Mol]) -> list[bool]:
        """Membership flag per molecule."""
        return [s >= self.threshold for s in self.max_similarity(mols)]


class RangeDomain:
    """In domain when every descriptor lies inside the training set's range (plus a margin)."""

    def __init__(
        self,
        featurize: Callable[[Sequence[Chem.Mol]], np.ndarray],
        training: Sequence[Chem.Mol],
        margin: float = 0.0,
    ) -> None:
        x = np.asarray(featurize(training), dtype=float)
        span = x.max(axis=0) - x.min(axis=0)
        self.featurize = featurize
        self.low = x.min(axis=0) - margin * span
        self.high = x.max(axis=0) + margin * span

    def contains(self, mols: Sequence[Chem.Mol]) -> list[bool]:
        """Membership flag per molecule."""
        x = np.asarray(self.featurize(mols), dtype=float)
        return [bool(v) for v in ((x >= self.low) & (x <= self.high)).all(axis=1)]


class CallablePredictor:
    """Wraps any callable over RDKit molecules as a `Predictor`.

    `fn` takes one molecule (or, with `batched=True`, a list) and returns a number (or a list).
    Without a domain every molecule counts as in domain. For process-pool back-ends `fn` must
    be picklable (a module-level function or a picklable object).
    """

    def __init__(
        self,
        name: str,
        property: str,
        fn: Callable[..., Any],
        domain: Domain | None = None,
        batched: bool = False,
    ) -> None:
        self.name = name
        self.property = property
        self.fn = fn
        self.domain = domain
        self.batched = batched

    def predict(self, mols: Sequence[Chem.Mol]) -> list[float]:
        """One predicted value per molecule."""
        if self.batched:
            values = list(self.fn(list(mols)))
            if len(values) != len(mols):
                raise ValueError(f"{self.name} returned {len(values)} values for {len(mols)}")
            return [float(v) for v in values]
        return [float(self.fn(m)) for m in mols]

    def in_domain(self, mols: Sequence[Chem.Mol]) -> list[bool]:
        """Whether each molecule lies inside the model's applicability domain."""
        if self.domain is None:
            return [True] * len(mols)
        return self.domain.contains(mols)


def esol_logs(mol: Chem.Mol) -> float:
    """Delaney's ESOL estimate of aqueous solubility (log mol/L) from four descriptors."""
    heavy = mol.GetNumHeavyAtoms()
    n_arom = sum(mol.GetAtomWithIdx(i).GetIsAromatic() for i in range(mol.GetNumAtoms()))
    aromatic = n_arom / heavy if heavy else 0.0
    return (
        0.16
        - 0.63 * rdmd.CalcCrippenDescriptors(mol)[0]
        - 0.0062 * rdmd._CalcMolWt(mol)
        + 0.066 * rdmd.CalcNumRotatableBonds(mol)
        - 0.74 * aromatic
    )
