"""Sound prefilters that decide which substructure queries can possibly match a molecule.

A query can only match a molecule if (a) every bit of the query's pattern fingerprint is set in
the molecule's pattern fingerprint and (b) for every set S of atom classes (element, charge sign,
aromaticity) that some query atom is restricted to, the molecule has at least as many atoms in S
as the query has atoms restricted to subsets of S (Hall's condition for the atom mapping).
(c) every substructure a recursive SMARTS ($(...)) of the query demands passes (a) and (b)
itself. Queries that fail any test are skipped; the survivors are matched with RDKit as usual,
so the hits are identical to matching every query.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from rdkit import Chem, DataStructs, rdBase

N_Z = 119
N_CLASSES = N_Z * 6
UNIVERSE = (1 << N_CLASSES) - 1
FP_SIZE = 2048
FP_BITS_PER_QUERY = 8
_PT = Chem.GetPeriodicTable()
_AROMATIC_SYMBOLS = ("se", "te", "as", "si", "b", "c", "n", "o", "p", "s")
_ORGANIC = (
    ("Cl", 17, 0), ("Br", 35, 0), ("B", 5, 0), ("C", 6, 0), ("N", 7, 0), ("O", 8, 0),
    ("P", 15, 0), ("S", 16, 0), ("F", 9, 0), ("I", 53, 0), ("b", 5, 1), ("c", 6, 1),
    ("n", 7, 1), ("o", 8, 1), ("p", 15, 1), ("s", 16, 1),
)  # fmt: skip

Classes = tuple[int, bool]  # (bitmask over atom classes, mask is exact)
# what must also hold for a query atom to match, from its recursive SMARTS: None (nothing),
# ("leaf", smarts) (that substructure is present), ("and", [...]) or ("or", [...])
Formula = tuple[str, object] | None
Parsed = tuple[int, bool, Formula]


def _and_f(a: Formula, b: Formula) -> Formula:
    if a is None:
        return b
    if b is None:
        return a
    return ("and", [a, b])


def _or_f(a: Formula, b: Formula) -> Formula:
    return None if a is None or b is None else ("or", [a, b])


def atom_class(atomic_num: int, formal_charge: int, aromatic: bool) -> int:
    """Index of an atom's class: element, charge sign (-, 0, +) and aromaticity."""
    sign = 0 if formal_charge < 0 else (2 if formal_charge > 0 else 1)
    return atomic_num * 6 + sign * 2 + int(aromatic)


def _mask(z: int | None = None, charge: int | None = None, arom: int | None = None) -> int:
    m = 0
    for zz in range(N_Z) if z is None else (z,):
        for c in range(3) if charge is None else (charge,):
            for a in range(2) if arom is None else (arom,):
                m |= 1 << (zz * 6 + c * 2 + a)
    return m


@cache
def _element(z: int, arom: int | None) -> int:
    return _mask(z=z, arom=arom)


_CHARGE = [_mask(charge=i) for i in range(3)]
_AROM = [_mask(arom=i) for i in range(2)]


_SYMBOLS = {_PT.GetElementSymbol(z): z for z in range(1, N_Z)}


def _atomic_num(symbol: str) -> int:
    return _SYMBOLS.get(symbol, 0)


class _Unparsable(ValueError):
    pass


class _AtomExprParser:
    """Recursive-descent reader of one SMARTS atom expression (the text inside brackets)."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def parse(self) -> Parsed:
        res = self.low_and()
        if self.i != len(self.s):
            raise _Unparsable(self.s)
        return res

    def low_and(self) -> Parsed:
        m, e, f = self.or_()
        while self.peek() == ";":
            self.i += 1
            m2, e2, f2 = self.or_()
            m, e, f = m & m2, e and e2, _and_f(f, f2)
        return m, e, f

    def or_(self) -> Parsed:
        m, e, f = self.high_and()
        while self.peek() == ",":
            self.i += 1
            m2, e2, f2 = self.high_and()
            m, e, f = m | m2, e and e2, _or_f(f, f2)
        return m, e, f

    def high_and(self) -> Parsed:
        m, e, f = self.unary()
        while self.peek() not in ("", ",", ";", "]", ")"):
            if self.peek() == "&":
                self.i += 1
            m2, e2, f2 = self.unary()
            m, e, f = m & m2, e and e2, _and_f(f, f2)
        return m, e, f

    def unary(self) -> Parsed:
        if self.peek() == "!":
            self.i += 1
            m, e, _ = self.unary()
            return (UNIVERSE ^ m, True, None) if e else (UNIVERSE, False, None)
        return self.primitive()

    def digits(self) -> str:
        j = self.i
        while self.peek().isdigit():
            self.i += 1
        return self.s[j : self.i]

    def primitive(self) -> Parsed:
        s, c = self.s, self.peek()
        if c == "#":
            self.i += 1
            d = self.digits()
            if not d or int(d) >= N_Z:
                raise _Unparsable(s)
            return _element(int(d), None), True, None
        if s.startswith("$(", self.i):
            depth, j = 0, self.i + 1
            while j < len(s):
                depth += {"(": 1, ")": -1}.get(s[j], 0)
                if depth == 0:
                    break
                j += 1
            if j >= len(s):
                raise _Unparsable(s)
            inner, self.i = s[self.i + 2 : j], j + 1
            return first_atom_classes(inner), False, ("leaf", inner)
        if c in "+-":
            self.i += 1
            d, n = self.digits(), 1
            if d:
                n = int(d)
            else:
                while self.peek() == c:
                    self.i += 1
                    n += 1
            if n == 0:
                return _CHARGE[1], True, None
            return _CHARGE[2 if c == "+" else 0], False, None
        if c.isdigit():  # isotope
            self.digits()
            return UNIVERSE, False, None
        if c == "*":
            self.i += 1
            return UNIVERSE, True, None
        if c == ":":  # atom map number: no constraint
            self.i += 1
            self.digits()
            return UNIVERSE, True, None
        if c == "@":
            while self.peek() and (self.peek() in "@?" or self.peek().isalnum()):
                self.i += 1
            return UNIVERSE, False, None
        two = s[self.i : self.i + 2]
        if c.isupper() and len(two) == 2 and two[1].islower() and _atomic_num(two):
            if c in "ADHRXZ":  # e.g. "Rb" could also read as R & b: do not guess
                raise _Unparsable(s)
            self.i += 2
            return _element(_atomic_num(two), 0), True, None
        if c in "DXRrvxhzZH^":
            self.i += 1
            self.digits()
            return UNIVERSE, False, None
        for sym in _AROMATIC_SYMBOLS:
            if s.startswith(sym, self.i):
                self.i += len(sym)
                return _element(_atomic_num(sym.capitalize()), 1), True, None
        if c == "a":
            self.i += 1
            return _AROM[1], True, None
        if c == "A":
            self.i += 1
            return _AROM[0], True, None
        if c.isupper() and _atomic_num(c) > 1:  # not D or T (hydrogen isotopes)
            self.i += 1
            return _element(_atomic_num(c), 0), True, None
        raise _Unparsable(s)


def first_atom_classes(smarts: str) -> int:
    """Classes the first atom of a SMARTS can match (a superset; UNIVERSE when unknown)."""
    if smarts.startswith("["):
        depth = 0
        for j, ch in enumerate(smarts):
            depth += {"[": 1, "]": -1}.get(ch, 0)
            if depth == 0:
                return atom_classes(smarts[: j + 1])[0]
        return UNIVERSE
    for sym, z, arom in _ORGANIC:
        if smarts.startswith(sym):
            return _element(z, arom)
    if smarts.startswith("a"):
        return _AROM[1]
    if smarts.startswith("A"):
        return _AROM[0]
    return UNIVERSE


def parse_atom(atom_smarts: str) -> Parsed:
    """Classes a query atom (as written by `Atom.GetSmarts`) can match, exactness, formula."""
    if not (atom_smarts.startswith("[") and atom_smarts.endswith("]")):
        return first_atom_classes(atom_smarts), False, None
    try:
        return _AtomExprParser(atom_smarts[1:-1]).parse()
    except (_Unparsable, ValueError):
        return UNIVERSE, False, None


def atom_classes(atom_smarts: str) -> Classes:
    """Classes one query atom can match, and whether the set is exact."""
    m, e, _ = parse_atom(atom_smarts)
    return m, e


def query_requirements(query: Chem.Mol) -> list[tuple[int, int]]:
    """(class set, minimum atom count) pairs every molecule matching the query satisfies."""
    sets = Counter(atom_classes(a.GetSmarts())[0] for a in query.GetAtoms())
    return [(s, sum(n for t, n in sets.items() if t & ~s == 0)) for s in sets if s != UNIVERSE]


def query_formula(query: Chem.Mol) -> Formula:
    """Recursive-SMARTS substructures a molecule must contain for the query to match."""
    f: Formula = None
    for a in query.GetAtoms():
        f = _and_f(f, parse_atom(a.GetSmarts())[2])
    return f


def _leaves(f: Formula) -> list[str]:
    if f is None:
        return []
    kind, arg = f
    if kind == "leaf":
        return [str(arg)]
    return [leaf for sub in arg for leaf in _leaves(sub)]  # type: ignore[attr-defined]


def fingerprint_bits(fp: DataStructs.ExplicitBitVect) -> np.ndarray:
    """Bool vector of a bit vector's bits."""
    raw = np.frombuffer(DataStructs.BitVectToBinaryText(fp), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[: fp.GetNumBits()].astype(bool)


class PatternScreen:
    """Vectorised prefilter over a fixed list of substructure queries."""

    def __init__(self, queries: Sequence[Chem.Mol], use_fingerprint: bool = True) -> None:
        self.n_queries = len(queries)
        self.use_fingerprint = use_fingerprint
        set_index: dict[int, int] = {}
        reqs = [query_requirements(q) for q in queries]
        for req in reqs:
            for s, _ in req:
                set_index.setdefault(s, len(set_index))
        width = max((len(r) for r in reqs), default=0) or 1
        # padding points at a dummy column that counts every atom and is compared against 0
        self._set_idx = np.full((self.n_queries, width), len(set_index), dtype=np.int64)
        self._set_min = np.zeros((self.n_queries, width), dtype=np.float32)
        for qi, req in enumerate(reqs):
            for k, (s, n) in enumerate(req):
                self._set_idx[qi, k] = set_index[s]
                self._set_min[qi, k] = n
        membership = np.zeros((N_CLASSES, len(set_index) + 1), dtype=np.float32)
        for s, j in set_index.items():
            bits = [b for b in range(N_CLASSES) if s >> b & 1]
            membership[bits, j] = 1.0
        membership[:, len(set_index)] = 1.0
        self._membership = membership
        # pattern-fingerprint requirement: the query's rarest bits (rarity across queries)
        qbits = np.array(
            [fingerprint_bits(Chem.PatternFingerprint(q, fpSize=FP_SIZE)) for q in queries]
        ).reshape(self.n_queries, FP_SIZE)
        freq = qbits.sum(axis=0)
        self._fp_idx = np.full((self.n_queries, FP_BITS_PER_QUERY), FP_SIZE, dtype=np.int64)
        for qi in range(self.n_queries):
            on = np.nonzero(qbits[qi])[0]
            on = on[np.argsort(freq[on], kind="stable")][:FP_BITS_PER_QUERY]
            self._fp_idx[qi, : len(on)] = on
        # substructures named by recursive SMARTS must be present too: screen them as well
        formulas = [query_formula(q) for q in queries]
        leaf_queries: list[Chem.Mol] = []
        self._leaf_index: dict[str, int] = {}
        with rdBase.BlockLogs():
            for leaf in sorted({x for f in formulas for x in _leaves(f)}):
                q = Chem.MolFromSmarts(leaf)
                if q is not None:
                    self._leaf_index[leaf] = len(leaf_queries)
                    leaf_queries.append(q)
        self._formulas = [(qi, f) for qi, f in enumerate(formulas) if f is not None]
        self._leaf_screen = PatternScreen(leaf_queries, use_fingerprint) if leaf_queries else None

    def _eval(self, f: Formula, leaf_ok: np.ndarray) -> np.ndarray:
        assert f is not None
        kind, arg = f
        if kind == "leaf":
            j = self._leaf_index.get(str(arg))
            return leaf_ok[:, j] if j is not None else np.ones(leaf_ok.shape[0], dtype=bool)
        parts = [self._eval(sub, leaf_ok) for sub in arg]  # type: ignore[attr-defined]
        return np.logical_and.reduce(parts) if kind == "and" else np.logical_or.reduce(parts)

    def candidates(
        self, mols: Sequence[Chem.Mol], features: MolFeatures | None = None
    ) -> np.ndarray:
        """Bool matrix (molecules x queries): True where the query may match."""
        f = features if features is not None else MolFeatures.of(mols)
        if f.n == 0:
            return np.zeros((0, self.n_queries), dtype=bool)
        present = f.present
        per_set = f.class_counts[:, present] @ self._membership[present]
        ok = np.ones((f.n, self.n_queries), dtype=bool)
        for k in range(self._set_idx.shape[1]):
            ok &= per_set[:, self._set_idx[:, k]] >= self._set_min[:, k]
        if self.use_fingerprint:
            for k in range(self._fp_idx.shape[1]):
                ok &= f.fp_bits[:, self._fp_idx[:, k]]
        if self._leaf_screen is not None:
            leaf_ok = self._leaf_screen.candidates(mols, f)
            for qi, formula in self._formulas:
                ok[:, qi] &= self._eval(formula, leaf_ok)
        return ok


def mol_classes(mol: Chem.Mol) -> list[int]:
    """Atom-class index of every atom of a molecule."""
    out = []
    for i in range(mol.GetNumAtoms()):
        a = mol.GetAtomWithIdx(i)
        out.append(atom_class(a.GetAtomicNum(), a.GetFormalCharge(), a.GetIsAromatic()))
    return out


@dataclass(slots=True)
class MolFeatures:
    """Per-molecule screening features, computed once and shared by all `PatternScreen`s."""

    class_counts: np.ndarray  # (n, N_CLASSES) atoms per class
    present: np.ndarray  # class indices occurring in any of the molecules
    fp_bits: np.ndarray  # (n, FP_SIZE + 1) pattern-fingerprint bits; last column always True

    @property
    def n(self) -> int:
        """Number of molecules."""
        return int(self.class_counts.shape[0])

    @classmethod
    def of(cls, mols: Sequence[Chem.Mol]) -> MolFeatures:
        """Features of a batch of molecules."""
        n = len(mols)
        rows: list[int] = []
        cols: list[int] = []
        for r, mol in enumerate(mols):
            c = mol_classes(mol)
            cols.extend(c)
            rows.extend([r] * len(c))
        col_arr = np.asarray(cols, dtype=np.int64)
        flat = np.asarray(rows, dtype=np.int64) * N_CLASSES + col_arr
        counts = np.bincount(flat, minlength=n * N_CLASSES).astype(np.float32)
        bits = np.ones((n, FP_SIZE + 1), dtype=bool)
        if n:
            raw = b"".join(
                DataStructs.BitVectToBinaryText(Chem.PatternFingerprint(m, fpSize=FP_SIZE))
                for m in mols
            )
            packed = np.frombuffer(raw, dtype=np.uint8).reshape(n, -1)
            bits[:, :FP_SIZE] = np.unpackbits(packed, axis=1, bitorder="little")[:, :FP_SIZE]
        return cls(counts.reshape(n, N_CLASSES), np.unique(col_arr), bits)
